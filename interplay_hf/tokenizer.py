"""The tokenizers of this study: the released checkpoints' own, or a small byte-level BPE trained here.

``released`` (paper recipes): the official ``tokenizer.json`` that every released checkpoint uses, shipped in
``interplay_hf/tokenizers/released/`` (MIT, see the LICENSE there) and loaded as is: nothing is trained, so its
ids equal the official file's on any text. Its pre-tokenizer regex is stored with doubled backslashes, so the
number and letter classes never match: numbers fall through to GPT-2's `` ?\p{N}+`` (whole numbers with their
leading space, most of its entries) and a word is cut at every ``s``, ``p``, ``L`` or ``N``, so problems come out
longer than with ours (docs/tokenization.md §2-3 has the counts).

``groups`` / ``digits`` (CPU recipes, new studies): a BPE trained on the study's text with the same special
tokens, ids and vocabulary size, numbers pre-tokenized as the official ``scripts/build_tokenizer.py`` intends
(``groups``: runs of up to three digits) or one digit at a time (``digits``); words stay whole.

The six format tags (``<question>`` … ``</answer>``) are single *added* tokens with ids 4-9 but are
**not** marked special: TRL's GRPOTrainer and most evaluation code decode completions with
``skip_special_tokens=True``, which would otherwise delete ``<answer>`` and leave the reward
functions nothing to read (the official scorer decodes "with special tokens").
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from interplay_hf.errors import ConfigError

# Ids 0-9 in exactly this order, as in the released models (docs/data-format.md §5).
SPECIAL_TOKENS: tuple[str, ...] = (
    "[UNK]",
    "[PAD]",
    "[BOS]",
    "[EOS]",
    "<question>",
    "</question>",
    "<solution>",
    "</solution>",
    "<answer>",
    "</answer>",
)
FORMAT_TAGS: tuple[str, ...] = SPECIAL_TOKENS[4:]
ANSWER_CLOSE = "</answer>"
DEFAULT_VOCAB_SIZE = 2200
# The BPE trainer allocates per vocabulary entry up front (1e9 aborted in Rust after a 70 GB allocation); Qwen2.5's
# vocabulary is 151,646 and this tokenizer's paper size 2,200, so a million is ample.
MAX_VOCAB_SIZE = 1_000_000
MODEL_MAX_LENGTH = 2048
RELEASED = "released"
NUMBER_MODES = ("groups", "digits")  # trained here
TOKENIZER_MODES = (RELEASED, *NUMBER_MODES)
DEFAULT_NUMBERS = "groups"  # what the official build script intends (its stored regex does something else)
NUMBER_GROUP_PATTERN = r"\p{N}{1,3}"  # official PAT_STR rule 4 without separators, decimals or exponents
RELEASED_TOKENIZER_FILE = Path(__file__).resolve().parent / "tokenizers" / RELEASED / "tokenizer.json"
FINGERPRINT_COMMENT = "tokenizer fingerprint: "  # a line of a training stage's recipe.yaml (train/common.py)


def _unmark_format_tags(backend: Any) -> Any:
    """A copy of a ``tokenizers.Tokenizer`` whose format tags are plain (non-special) added tokens."""
    from tokenizers import Tokenizer

    state = json.loads(backend.to_str())
    changed = False
    for added in state.get("added_tokens", []):
        if added["content"] in FORMAT_TAGS and added.get("special", False):
            added["special"] = False
            changed = True
    return Tokenizer.from_str(json.dumps(state)) if changed else backend


def number_pre_tokenizer(numbers: str = DEFAULT_NUMBERS):
    """The pre-tokenizer that isolates numbers: 1-3 digit groups (official) or single digits."""
    from tokenizers import Regex, pre_tokenizers

    if numbers not in NUMBER_MODES:
        raise ConfigError(f"numbers: {numbers!r} is not a number mode; choose {' or '.join(NUMBER_MODES)} "
                          "(groups: numbers of up to 3 digits as tokens, the official default; digits: one by one)")
    if numbers == "digits":
        return pre_tokenizers.Digits(individual_digits=True)
    return pre_tokenizers.Split(Regex(NUMBER_GROUP_PATTERN), behavior="isolated")


def check_vocab_size(vocab_size: int) -> None:
    """Room for the special tokens and the 256 bytes, and not so large that the trainer's allocation aborts."""
    if vocab_size <= len(SPECIAL_TOKENS) + 256:
        raise ConfigError(f"vocab_size={vocab_size} is too small: it needs room for 10 special tokens and 256 bytes.")
    if vocab_size > MAX_VOCAB_SIZE:
        raise ConfigError(f"vocab_size={vocab_size:,} is too large: at most {MAX_VOCAB_SIZE:,} (the paper uses "
                          f"{DEFAULT_VOCAB_SIZE:,}).")


def build_tokenizer(texts: Iterable[str], vocab_size: int = DEFAULT_VOCAB_SIZE, numbers: str = DEFAULT_NUMBERS):
    """Train a byte-level BPE tokenizer on ``texts`` and wrap it as a ``PreTrainedTokenizerFast``.

    Deterministic for the same input order (single-threaded training, fixed merge tie-breaking).
    No BOS/EOS is added automatically: pre-training appends EOS explicitly, prompts carry none.
    """
    import os

    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    check_vocab_size(vocab_size)
    # Rayon-parallel word counting is deterministic in counts, but keep training single-threaded so the
    # merge order never depends on thread scheduling.
    os.environ.setdefault("RAYON_NUM_THREADS", "1")
    numbers_pre_tokenizer = number_pre_tokenizer(numbers)
    tokenizer = Tokenizer(models.BPE(unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [numbers_pre_tokenizer, pre_tokenizers.ByteLevel(add_prefix_space=False)]
    )
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    for token_id, token in enumerate(SPECIAL_TOKENS):
        assert tokenizer.token_to_id(token) == token_id, (token, tokenizer.token_to_id(token))
    return _wrap(tokenizer)


def _wrap(backend: Any):
    """A ``tokenizers.Tokenizer`` as the ``PreTrainedTokenizerFast`` our stages save: format tags decodable."""
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(
        tokenizer_object=_unmark_format_tags(backend),
        unk_token="[UNK]",
        pad_token="[PAD]",
        bos_token="[BOS]",
        eos_token="[EOS]",
        model_max_length=MODEL_MAX_LENGTH,
        clean_up_tokenization_spaces=False,
    )


def load_saved_tokenizer(source: str | Path, **kwargs: Any):
    """``AutoTokenizer.from_pretrained``, except that a tokenizer of this study loads from its tokenizer.json as is.

    transformers 5 gives every folder whose config.json says ``qwen2`` a ``Qwen2Tokenizer`` whatever its
    tokenizer_config names, and that class replaces the file's normalizer and pre-tokenizer with Qwen's: a released
    checkpoint then reads `` 412`` as ``Ġ 4 1 2`` instead of the ``Ġ412`` it was trained on. Other tokenizers (an
    instruct model's) keep the class transformers picks.
    """
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    tokenizer = AutoTokenizer.from_pretrained(str(source), **kwargs)
    if type(tokenizer) is not PreTrainedTokenizerFast and ANSWER_CLOSE in tokenizer.get_vocab():
        kwargs.pop("trust_remote_code", None)
        tokenizer = PreTrainedTokenizerFast.from_pretrained(str(source), **kwargs)
    return tokenizer


def released_tokenizer(path: str | Path | None = None):
    """The released checkpoints' tokenizer, loaded from the shipped official ``tokenizer.json``: nothing is
    trained or rebuilt, so its ids equal the official file's on any text (tests/test_tokenizer_released.py)."""
    from tokenizers import Tokenizer

    source = Path(path) if path is not None else RELEASED_TOKENIZER_FILE
    try:
        backend = Tokenizer.from_file(str(source))
    except Exception as err:  # noqa: BLE001 - tokenizers raises a bare Exception for unreadable files
        raise ConfigError(f"{source}: not a readable tokenizer.json ({str(err)[:200]}); reinstall interplay-hf") from None
    check_special_tokens(backend, str(source))
    return _wrap(backend)


def save_released_tokenizer(output_dir: str | Path):
    """``interplay-hf tokenizer --numbers released``: the released tokenizer saved for ``from_pretrained``."""
    tokenizer = released_tokenizer()
    tokenizer.save_pretrained(str(output_dir))
    return tokenizer


def _first_ten(tokenizer: Any) -> list[str | None]:
    """The tokens of ids 0-9 of a ``tokenizers.Tokenizer`` or a transformers tokenizer."""
    if hasattr(tokenizer, "id_to_token"):
        return [tokenizer.id_to_token(i) for i in range(len(SPECIAL_TOKENS))]
    vocab = {i: t for t, i in tokenizer.get_vocab().items()}
    return [vocab.get(i) for i in range(len(SPECIAL_TOKENS))]


def check_special_tokens(tokenizer: Any, where: str, required: bool = True) -> None:
    """Refuse a tokenizer whose ids 0-9 are not the released special tokens in order (docs/data-format.md §5):
    a model trained or evaluated with it would read other ids for ``<answer>`` & co. ``required=False`` lets a
    tokenizer through that has none of them (an instruct model's), only one that has them elsewhere."""
    first = _first_ten(tokenizer)
    if first == list(SPECIAL_TOKENS):
        return
    vocab = tokenizer.get_vocab()
    if not required and not any(t in vocab for t in SPECIAL_TOKENS):
        return
    raise ConfigError(f"{where}: ids 0-9 are {first}, not the released special tokens {list(SPECIAL_TOKENS)} in "
                      "that order; use `interplay-hf tokenizer --numbers released` (the released checkpoints' "
                      "tokenizer) or one trained by `interplay-hf tokenizer`")


def tokenizer_fingerprint(tokenizer: Any) -> str:
    """SHA-256 of what decides the ids: normalizer, pre-tokenizer, model (vocab and merges), post-processor and
    the added tokens' ids and matching flags. Whether a tag is *special* (a decoding flag) does not count, so a
    tokenizer and its decodable copy (:func:`make_format_tags_decodable`) share one fingerprint."""
    backend = getattr(tokenizer, "backend_tokenizer", tokenizer)
    state = json.loads(backend.to_str())
    kept = {key: state.get(key) for key in ("normalizer", "pre_tokenizer", "model")}
    kept["post_processor"] = _adding_post_processor(state.get("post_processor"))
    kept["added_tokens"] = [{k: t.get(k) for k in ("id", "content", "single_word", "lstrip", "rstrip", "normalized")}
                            for t in state.get("added_tokens", [])]
    return hashlib.sha256(json.dumps(kept, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


def _adding_post_processor(post_processor: dict | None) -> dict | None:
    """The post-processor, or None for one that adds no token (transformers puts such a template on every
    tokenizer it wraps, the official file has none)."""
    if post_processor and post_processor.get("type") == "TemplateProcessing" and not post_processor.get(
            "special_tokens") and all("Sequence" in piece for key in ("single", "pair")
                                      for piece in post_processor.get(key, [])):
        return None
    return post_processor


def fingerprint_comment(tokenizer: Any) -> str:
    """The recipe.yaml line that records which tokenizer a checkpoint was trained with (read by
    :func:`recorded_fingerprint`; eval refuses another one)."""
    digest = tokenizer_fingerprint(tokenizer)
    which = "the released tokenizer" if digest == released_fingerprint() else "not the released tokenizer"
    return f"{FINGERPRINT_COMMENT}{digest} ({which})"


@functools.lru_cache(maxsize=1)
def released_fingerprint() -> str:
    return tokenizer_fingerprint(released_tokenizer())


def recorded_fingerprint(model_dir: str | Path) -> tuple[str, Path] | None:
    """The tokenizer fingerprint a local training stage recorded for ``model_dir`` (its ``recipe.yaml``, or the
    stage's for a ``checkpoint-N`` inside it) and the file that says so; None when nothing records one."""
    path = Path(model_dir).expanduser()
    for folder in (path, path.parent) if path.name.startswith("checkpoint-") else (path,):
        recipe = folder / "recipe.yaml"
        if not recipe.is_file():
            continue
        with open(recipe, encoding="utf-8") as f:
            for line in f:
                if not line.startswith("#"):
                    break
                text = line[1:].strip()
                if text.startswith(FINGERPRINT_COMMENT):
                    return text[len(FINGERPRINT_COMMENT):].split()[0], recipe
    return None


def check_trained_with(tokenizer: Any, model_dir: str | Path, flag: str) -> None:
    """Refuse ``tokenizer`` for a checkpoint whose stage recorded another one: the model would read ids it never
    saw in training (e.g. our trained tokenizer on a released-tokenizer model)."""
    recorded = recorded_fingerprint(model_dir)
    if recorded is None:
        return
    expected, recipe = recorded
    actual = tokenizer_fingerprint(tokenizer)
    if actual != expected:
        raise ConfigError(f"{flag}: this tokenizer (fingerprint {actual[:12]}) is not the one {recipe} records for "
                          f"the checkpoint ({expected[:12]}); use the tokenizer saved with the model")


def make_format_tags_decodable(tokenizer: Any) -> Any:
    """Make ``decode(..., skip_special_tokens=True)`` keep the format tags (in place; returns ``tokenizer``).

    Needed for released checkpoints, whose tokenizers mark ``<answer>`` etc. as special: GRPOTrainer
    decodes completions with ``skip_special_tokens=True`` before calling the reward functions.
    A tokenizer without the tags (a chat model) is returned unchanged.
    """
    backend = getattr(tokenizer, "_tokenizer", None)
    if backend is None or tokenizer.convert_tokens_to_ids(ANSWER_CLOSE) in (None, tokenizer.unk_token_id):
        return tokenizer
    tokenizer._tokenizer = _unmark_format_tags(backend)
    extra = [t for t in (getattr(tokenizer, "extra_special_tokens", None) or []) if str(t) not in FORMAT_TAGS]
    if isinstance(getattr(tokenizer, "extra_special_tokens", None), list):
        tokenizer.extra_special_tokens = extra
    return tokenizer


def stop_token_ids(tokenizer: Any) -> list[int]:
    """Token ids that end a completion: EOS, and ``</answer>`` when it is a single token (docs/evaluation.md §1)."""
    ids = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    answer_close = tokenizer.convert_tokens_to_ids(ANSWER_CLOSE)
    if answer_close is not None and answer_close != tokenizer.unk_token_id and answer_close not in ids:
        ids.append(answer_close)
    return ids


def build_tokenizer_from_dataset(
    dataset_path: str | Path,
    output_dir: str | Path,
    split: str = "train",
    column: str = "text",
    vocab_size: int = DEFAULT_VOCAB_SIZE,
    max_texts: int | None = None,
    numbers: str = DEFAULT_NUMBERS,
):
    """Train on a saved dataset's text column (first ``max_texts`` rows, in order) and save to ``output_dir``."""
    from datasets import DatasetDict

    from interplay_hf.data.build import load_built

    check_vocab_size(vocab_size)  # before reading the data
    path = Path(dataset_path)
    if not path.exists():
        raise ConfigError(f"--dataset {dataset_path}: no saved dataset there; build it with `interplay-hf data build`.")
    dataset = load_built(path)
    if isinstance(dataset, DatasetDict):
        if split not in dataset:
            raise ConfigError(f"--split {split!r}: {dataset_path} has splits {sorted(dataset)}.")
        dataset = dataset[split]
    if column not in dataset.column_names:
        raise ConfigError(f"--column {column!r}: {dataset_path} has columns {dataset.column_names}.")
    if max_texts is not None:
        if max_texts <= 0:
            raise ConfigError(f"--max-texts must be positive, got {max_texts}.")
        dataset = dataset.select(range(min(max_texts, len(dataset))))

    def texts():
        for start in range(0, len(dataset), 1000):
            yield from dataset[start : start + 1000][column]

    tokenizer = build_tokenizer(texts(), vocab_size=vocab_size, numbers=numbers)
    tokenizer.save_pretrained(str(output_dir))
    return tokenizer
