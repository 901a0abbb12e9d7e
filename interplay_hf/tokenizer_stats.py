"""Tokens per problem under each tokenizer mode, and what the paper's token budgets mean in problems.

``interplay-hf tokenizer-stats`` prints the tables of docs/tokenization.md: a fixed sample of generated problems
(ops 2-20, the three contexts in turn), tokenized by the released tokenizer and by the two we train (on the same
sample's text, as ``interplay-hf tokenizer --numbers groups|digits`` would), then the paper's budgets (10B
pre-training tokens, the 2.42B-token mid-training, 19,814.4 tokens per RL prompt, 2,048-token rows, 1,024-token
RL prompts and responses) turned into problems with each mode's mean lengths.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from interplay_hf.data import generate_problem
from interplay_hf.data.generator import Problem, stable_seed
from interplay_hf.tokenizer import (
    DEFAULT_VOCAB_SIZE,
    RELEASED,
    TOKENIZER_MODES,
    build_tokenizer,
    released_tokenizer,
)

OPS = tuple(range(2, 21))
CONTEXTS = ("zoo", "teacher", "movie")
ROW_LENGTH = 2048  # pre- and mid-training rows (recipes/train/*qwen2-100m*.yaml max_length)
RL_LENGTH = 1024  # RL prompt and response lengths (official physics_rl_bs4_op13-14.yaml)
PRETRAIN_TOKENS = 10_000_000_000  # recipes/data/pretrain_id2-10_uniform.yaml: ops 2-10, equal token shares
MIDTRAIN_TOKENS = 2_417_356_800  # recipes/data/midtrain_0.2uniform_0.8op11-14.yaml: the whole budget
MIDTRAIN_MIXTURE = ((0.2, range(2, 11)), (0.8, range(11, 15)))
TOKENS_PER_RL_PROMPT = 19_814.4  # recipes/paper/midtrain_vs_rl: mid-training paid per RL prompt


def sample_problems(count: int, seed: int = 0) -> list[Problem]:
    """``count`` problems: problem i has op ``OPS[i % 19]``, context ``CONTEXTS[(i // 19) % 3]`` and a seed
    derived from (seed, i), so every op and context is equally represented and the sample is reproducible."""
    return [generate_problem(OPS[i % len(OPS)], CONTEXTS[(i // len(OPS)) % len(CONTEXTS)],
                             seed=stable_seed("interplay-hf/tokenizer-stats", seed, i)) for i in range(count)]


@dataclass
class ModeStats:
    """One tokenizer mode on the sample: entries, and per problem the tokens of text + EOS, prompt, completion."""

    entries: int
    text: dict[int, list[int]] = field(default_factory=dict)  # op -> tokens per problem (text + EOS)
    prompt: dict[int, list[int]] = field(default_factory=dict)
    completion: dict[int, list[int]] = field(default_factory=dict)

    def mean(self, op: int) -> float:
        return sum(self.text[op]) / len(self.text[op])

    @property
    def total(self) -> int:
        return sum(sum(v) for v in self.text.values())

    def problems(self, tokens: float, mixture) -> float:
        """Problems a budget of ``tokens`` buys when ``mixture`` ((weight, ops), ...) shares it out in tokens,
        equally over the ops of each part, as ``shares: tokens`` does."""
        return sum(tokens * weight / len(ops) / self.mean(op) for weight, ops in mixture for op in ops)

    def longer_than(self, column: str, limit: int, ops) -> tuple[int, int]:
        lengths = [n for op in ops for n in getattr(self, column)[op]]
        return sum(n > limit for n in lengths), len(lengths)


def measure(problems: list[Problem], vocab_size: int = DEFAULT_VOCAB_SIZE) -> dict[str, ModeStats]:
    """Every mode's token counts on ``problems``; the trained modes learn on the problems' own text."""
    texts = [p.text for p in problems]
    tokenizers: dict[str, Any] = {RELEASED: released_tokenizer()}
    for numbers in TOKENIZER_MODES[1:]:
        tokenizers[numbers] = build_tokenizer(texts, vocab_size=vocab_size, numbers=numbers)
    out = {}
    for mode, tokenizer in tokenizers.items():
        stats = ModeStats(entries=len(tokenizer))
        columns = {"text": texts, "prompt": [p.prompt for p in problems], "completion": [p.completion for p in problems]}
        for column, strings in columns.items():
            ids = tokenizer(strings, add_special_tokens=False)["input_ids"]
            extra = 1 if column == "text" else 0  # pre-training appends EOS to every document
            for problem, row in zip(problems, ids):
                getattr(stats, column).setdefault(problem.op, []).append(len(row) + extra)
        out[mode] = stats
    return out


def render(stats: dict[str, ModeStats], count: int, seed: int) -> str:
    """The markdown of docs/tokenization.md's measured tables."""
    modes = list(stats)
    released, groups = stats[RELEASED], stats[TOKENIZER_MODES[1]]
    lines = [f"Sample: {count:,} problems (ops 2-20 x zoo/teacher/movie in turn, seed {seed}); tokens = text + EOS.",
             "", "| | " + " | ".join(modes) + " |", "|---|" + "---:|" * len(modes),
             "| entries | " + " | ".join(f"{stats[m].entries:,}" for m in modes) + " |",
             "| tokens, whole sample | " + " | ".join(f"{stats[m].total:,}" for m in modes) + " |",
             "| x groups | " + " | ".join(f"{stats[m].total / groups.total:.2f}" for m in modes) + " |",
             "", "Mean tokens per problem (max in brackets), by op:", "",
             "| op | " + " | ".join(modes) + " | released / groups |", "|---:|" + "---:|" * (len(modes) + 1)]
    for op in OPS:
        cells = [f"{stats[m].mean(op):,.0f} ({max(stats[m].text[op]):,})" for m in modes]
        lines.append(f"| {op} | " + " | ".join(cells) + f" | {released.mean(op) / groups.mean(op):.2f} |")
    budgets = [
        ("pre-training, 10B tokens, ops 2-10", lambda s: f"{s.problems(PRETRAIN_TOKENS, ((1.0, range(2, 11)),)):,.0f}"),
        ("mid-training, 2,417,356,800 tokens (0.2 ops 2-10 + 0.8 ops 11-14)",
         lambda s: f"{s.problems(MIDTRAIN_TOKENS, MIDTRAIN_MIXTURE):,.0f}"),
        ("mid-training problems per RL prompt (19,814.4 tokens)",
         lambda s: f"{s.problems(TOKENS_PER_RL_PROMPT, MIDTRAIN_MIXTURE):,.1f}"),
        (f"problems longer than a {ROW_LENGTH:,}-token row, ops 2-20",
         lambda s: "{} of {}".format(*s.longer_than("text", ROW_LENGTH, OPS))),
        (f"RL prompts longer than {RL_LENGTH:,} tokens, ops 11-20",
         lambda s: "{} of {}".format(*s.longer_than("prompt", RL_LENGTH, range(11, 21)))),
        (f"RL responses (gold) longer than {RL_LENGTH:,} tokens, ops 11-20",
         lambda s: "{} of {}".format(*s.longer_than("completion", RL_LENGTH, range(11, 21)))),
    ]
    lines += ["", "What the paper's budgets mean in problems, with these mean lengths:", "",
              "| budget | " + " | ".join(modes) + " |", "|---|" + "---:|" * len(modes)]
    lines += [f"| {name} | " + " | ".join(cell(stats[m]) for m in modes) + " |" for name, cell in budgets]
    return "\n".join(lines) + "\n"
