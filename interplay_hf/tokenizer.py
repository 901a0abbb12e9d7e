"""The small byte-level BPE tokenizer used by from-scratch models.

The released checkpoints ship their own ``tokenizer.json`` (load it, don't rebuild it). For our own
from-scratch models we train one with the same special tokens, ids and vocabulary size
(format.md §5), but with a proper pre-tokenizer: digits are split one by one (arithmetic is easier
to learn) and words are kept whole (the official tokenizer splits words into letters).
"""

from __future__ import annotations

from collections.abc import Iterable

from interplay_hf.errors import ConfigError

# Ids 0-9 in exactly this order, as in the released models (format.md §5).
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
DEFAULT_VOCAB_SIZE = 2200
MODEL_MAX_LENGTH = 2048


def build_tokenizer(texts: Iterable[str], vocab_size: int = DEFAULT_VOCAB_SIZE):
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
    tokenizer = Tokenizer(models.BPE(unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)]
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
        tokenizer_object=tokenizer,
        unk_token="[UNK]",
        pad_token="[PAD]",
        bos_token="[BOS]",
        eos_token="[EOS]",
        extra_special_tokens=list(SPECIAL_TOKENS[4:]),
        model_max_length=MODEL_MAX_LENGTH,
        clean_up_tokenization_spaces=False,
    )
