"""The small byte-level BPE tokenizer used by from-scratch models.

The released checkpoints ship their own ``tokenizer.json`` (load it, don't rebuild it). For our own
from-scratch models we train one with the same special tokens, ids and vocabulary size
(docs/data-format.md §5). Numbers are pre-tokenized as the official ``scripts/build_tokenizer.py`` does by
default (``numbers="groups"``: runs of up to three digits, so BPE learns most numbers below 1,000 as single
tokens; ~1,270 entries on 40k problems of all ops), or split into single digits (``numbers="digits"``: ~710
entries, arithmetic over digit tokens). Words are kept whole.

The six format tags (``<question>`` … ``</answer>``) are single *added* tokens with ids 4-9 but are
**not** marked special: TRL's GRPOTrainer and most evaluation code decode completions with
``skip_special_tokens=True``, which would otherwise delete ``<answer>`` and leave the reward
functions nothing to read (the official scorer decodes "with special tokens").
"""

from __future__ import annotations

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
MODEL_MAX_LENGTH = 2048
NUMBER_MODES = ("groups", "digits")
DEFAULT_NUMBERS = "groups"  # the official tokenizer's behaviour
NUMBER_GROUP_PATTERN = r"\p{N}{1,3}"  # official PAT_STR rule 4 without separators, decimals or exponents


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


def build_tokenizer(texts: Iterable[str], vocab_size: int = DEFAULT_VOCAB_SIZE, numbers: str = DEFAULT_NUMBERS):
    """Train a byte-level BPE tokenizer on ``texts`` and wrap it as a ``PreTrainedTokenizerFast``.

    Deterministic for the same input order (single-threaded training, fixed merge tie-breaking).
    No BOS/EOS is added automatically: pre-training appends EOS explicitly, prompts carry none.
    """
    import os

    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    if vocab_size <= len(SPECIAL_TOKENS) + 256:
        raise ConfigError(f"vocab_size={vocab_size} is too small: it needs room for 10 special tokens and 256 bytes.")
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
    return PreTrainedTokenizerFast(
        tokenizer_object=_unmark_format_tags(tokenizer),
        unk_token="[UNK]",
        pad_token="[PAD]",
        bos_token="[BOS]",
        eos_token="[EOS]",
        model_max_length=MODEL_MAX_LENGTH,
        clean_up_tokenization_spaces=False,
    )


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
