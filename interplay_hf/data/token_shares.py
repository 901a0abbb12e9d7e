"""Mixture weights as token shares: the official ``op_prob`` weights share out tokens, not documents.

A problem at op 10 is several times longer than one at op 2, so a uniform row mixture over ops 2-10 puts most of
its tokens on the hard ops. With ``shares: tokens`` a split's weights are read as token shares and turned into
the row weights that give those shares in expectation: a pilot of seeded problems per (op, context, mode) cell
measures mean tokens per row (the split's size settings: ``chars_per_token`` or a ``tokenizer``), then each op's
row weight is its token share divided by its mean length, and each component's row weight its token share
divided by its mean length under those row weights. Rows are then drawn exactly as for row shares.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from interplay_hf.data.generator import generate_problem, stable_seed
from interplay_hf.data.recipe import Component, DataRecipe, SplitSpec
from interplay_hf.errors import ConfigError

PILOT_PER_CELL = 32  # problems per (op, context, mode): the mean length's standard error is ~2-3%


def token_counter(split: SplitSpec) -> Callable[[str], float]:
    """Tokens of a pre-training row (text + EOS), measured as the split's size settings say."""
    size = split.size
    if size.tokenizer:
        from transformers import PreTrainedTokenizerFast

        try:  # the tokenizer.json as is: AutoTokenizer swaps in Qwen's pre-tokenizer next to a qwen2 config.json
            tok = PreTrainedTokenizerFast.from_pretrained(size.tokenizer)
        except Exception as err:  # noqa: BLE001 - any load failure is a config problem here
            raise ConfigError(f"splits.{split.name}.size.tokenizer: cannot load {size.tokenizer!r} "
                              f"({type(err).__name__}); give a tokenizer folder or Hub id") from None
        return lambda text: len(tok(text, add_special_tokens=False)["input_ids"]) + 1
    return lambda text: len(text) / size.chars_per_token + 1


def mean_tokens(recipe: DataRecipe, split: SplitSpec, op: int, context: str, mode: str,
                count: Callable[[str], float]) -> float:
    seeds = [stable_seed("interplay-hf/token-share", recipe.seed, split.name, op, context, mode, j)
             for j in range(PILOT_PER_CELL)]
    texts = [generate_problem(op, context, mode, seed=s, config=recipe.generator).to_row()["text"] for s in seeds]
    return sum(count(t) for t in texts) / len(texts)


def row_share_mixture(recipe: DataRecipe, split: SplitSpec) -> tuple[Component, ...]:
    """The mixture whose row weights give ``split.mixture``'s weights as expected token shares."""
    if split.shares != "tokens":
        return split.mixture
    count = token_counter(split)
    lengths: dict[tuple, float] = {}

    def op_length(comp: Component, op: int) -> float:  # mean over the component's contexts and modes
        total = 0.0
        for ctx, p_ctx in comp.contexts.items():
            for mode, p_mode in comp.modes.items():
                key = (op, ctx, mode)
                if key not in lengths:
                    lengths[key] = mean_tokens(recipe, split, op, ctx, mode, count)
                total += p_ctx * p_mode * lengths[key]
        return total

    converted = []
    for comp in split.mixture:
        per_op = {op: op_length(comp, op) for op in comp.ops}
        raw = {op: w / per_op[op] for op, w in comp.ops.items()}
        norm = sum(raw.values())
        ops = {op: w / norm for op, w in raw.items()}
        comp_length = sum(ops[op] * per_op[op] for op in ops)
        converted.append((replace(comp, ops=ops), comp.weight / comp_length))
    total = sum(w for _, w in converted)
    return tuple(replace(comp, weight=w / total) for comp, w in converted)
