"""Deterministic problem generation: ``generate_problem(op, context, mode, seed)`` -> :class:`Problem`.

Each call seeds its own ``random.Random`` from a SHA-256 of ``(op, template, mode, seed)`` — never
Python's salted ``hash`` or the global RNG — so a problem is a pure function of its arguments and
of the config, and two contexts never share a structure by accident (the context is in the seed).
It draws iGSM graphs until one has exactly ``op`` operations and valid values (graph.py), then
renders only that one (render.py).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from random import Random

from interplay_hf.data.contexts import Context, get_context
from interplay_hf.data.graph import FORWARD, MAX_OP, MIN_OP, MODES, REVERSE, ProblemGraph, draw_graph
from interplay_hf.data.render import render
from interplay_hf.data.text import make_completion, make_prompt
from interplay_hf.errors import ConfigError
from interplay_hf.yaml_io import reject_unknown_keys

SUPPORTED_OPS = tuple(range(MIN_OP, MAX_OP + 1))
LENGTH = "zero_context"
ID_HEX_DIGITS = 16  # `id` = first 16 hex digits (64 bits) of the content SHA-256
_FIELD_SEP = "\n--FIELD--\n"  # the official dedup key joins the three fields with this separator

# Column order of every row: the released schema, then ours.
RELEASED_COLUMNS = ("problem", "question", "solution", "op", "id", "template", "mode", "length", "d")
EXTRA_COLUMNS = ("context", "text", "prompt", "completion", "answer", "gold_graph")
ROW_COLUMNS = RELEASED_COLUMNS + EXTRA_COLUMNS


@dataclass(frozen=True)
class GeneratorConfig:
    """Value rules and sizes of the generator; the defaults are the paper's data driver (docs/data-format.md §1)."""

    number_range: int = field(
        default=5, metadata={"help": "Constants are drawn from 1..number_range-1 (a multiplier from 2..number_range-1)."}
    )
    mod: int = field(default=-1, metadata={"help": "Modulus for all arithmetic; -1 = none (the paper's setting)."})
    d: int = field(default=2, metadata={"help": "Structure depth; 2 = places -> items (the paper's setting)."})
    ip_max: int = field(default=20, metadata={"help": "Upper bound used when drawing the structure's edge count."})
    max_value: int = field(default=1000, metadata={"help": "Reject draws with any necessary value above this."})
    max_attempts: int = field(
        default=200_000, metadata={"help": "Draws tried for one problem before giving up with an error."}
    )

    def __post_init__(self) -> None:
        for f in fields(self):
            if not isinstance(getattr(self, f.name), int) or isinstance(getattr(self, f.name), bool):
                raise ConfigError(f"generator.{f.name}: expected an integer, got {getattr(self, f.name)!r}")
        if self.number_range < 3:
            raise ConfigError(f"generator.number_range: must be >= 3 (multipliers are 2..number_range-1), got {self.number_range}")
        if self.mod != -1 and self.mod < 2:
            raise ConfigError(f"generator.mod: must be -1 (no modulus) or >= 2, got {self.mod}")
        if self.d != 2:
            raise ConfigError(f"generator.d: only d=2 (the paper's setting) is implemented, got {self.d}")
        if self.ip_max < 5:
            raise ConfigError(f"generator.ip_max: must be >= 5 (structure layers are up to 5 wide), got {self.ip_max}")
        if self.max_value < 1 or self.max_attempts < 1:
            raise ConfigError("generator.max_value and generator.max_attempts must be positive")

    @classmethod
    def from_dict(cls, data: dict | None) -> GeneratorConfig:
        data = dict(data or {})
        reject_unknown_keys(data, {f.name for f in fields(cls)}, "generator")
        return cls(**data)


_DEFAULT_CONFIG = GeneratorConfig()  # frozen, so one instance serves every call


@dataclass(frozen=True)
class Problem:
    """One generated problem: official text fields, answer, gold graph and provenance."""

    problem: str
    question: str
    solution: str
    answer: int
    op: int
    mode: str
    template: str
    context: str
    d: int
    seed: int
    gold_graph: dict
    length: str = LENGTH

    @property
    def id(self) -> str:
        return content_id(self.problem, self.question, self.solution)

    @property
    def prompt(self) -> str:
        return make_prompt(self.problem, self.question)

    @property
    def completion(self) -> str:
        return make_completion(self.solution)

    @property
    def text(self) -> str:
        return self.prompt + self.completion

    def to_row(self) -> dict:
        """The dataset row: released schema (problem..d) + context, text, prompt, completion, answer, gold_graph."""
        prompt, completion = self.prompt, self.completion
        return {
            "problem": self.problem,
            "question": self.question,
            "solution": self.solution,
            "op": self.op,
            "id": self.id,
            "template": self.template,
            "mode": self.mode,
            "length": self.length,
            "d": self.d,
            "context": self.context,
            "text": prompt + completion,
            "prompt": prompt,
            "completion": completion,
            "answer": str(self.answer),
            "gold_graph": json.dumps(self.gold_graph, ensure_ascii=False),
        }


def content_id(problem: str, question: str, solution: str) -> str:
    """SHA-256 of the three fields (joined as the official dedup key), first 16 hex digits."""
    key = problem + _FIELD_SEP + question + _FIELD_SEP + solution
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:ID_HEX_DIGITS]


def problem_key(prompt: str) -> str:
    """Identity of a *problem* (what the model is asked: its prompt), used to deduplicate splits; 16 hex digits."""
    return hashlib.sha256(prompt.encode("utf-8")).hexdigest()[:ID_HEX_DIGITS]


def stable_seed(*parts: object) -> int:
    """A 64-bit seed from a SHA-256 of the parts (stable across processes and Python versions)."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big")


def check_op(op: object, field_name: str = "op") -> int:
    if isinstance(op, bool) or not isinstance(op, int) or op not in SUPPORTED_OPS:
        raise ConfigError(f"{field_name}: {op!r} is outside the supported range {MIN_OP}..{MAX_OP}")
    return op


def check_mode(mode: object, field_name: str = "mode") -> str:
    if mode not in MODES:
        raise ConfigError(f"{field_name}: unknown mode {mode!r}; allowed: {', '.join(MODES)}")
    return mode  # type: ignore[return-value]


def generate_problem(
    op: int,
    context: str | Context = "zoo",
    mode: str = FORWARD,
    seed: int = 0,
    config: GeneratorConfig | None = None,
) -> Problem:
    """The problem for ``(op, context, mode, seed)``; same arguments and config -> same bytes."""
    check_op(op)
    check_mode(mode)
    ctx = get_context(context)
    cfg = config or _DEFAULT_CONFIG
    for g, rng in _accepted_graphs(op, ctx, mode, seed, cfg):
        out = render(g, rng)
        if out is None:
            continue
        return Problem(
            problem=out.problem,
            question=out.question,
            solution=out.solution,
            answer=out.answer,
            op=op,
            mode=mode,
            template=ctx.template,
            context=ctx.name,
            d=cfg.d,
            seed=seed,
            gold_graph=out.gold_graph,
        )
    raise AssertionError("unreachable: _accepted_graphs raises when it runs out of draws")


def problem_answer(
    op: int, context: str | Context = "zoo", mode: str = FORWARD, seed: int = 0, config: GeneratorConfig | None = None
) -> int:
    """``generate_problem(...).answer`` without rendering any text (what the chance baseline needs): a forward
    problem is the first accepted graph, because rendering rejects only reverse draws."""
    check_op(op)
    if check_mode(mode) == REVERSE:
        return generate_problem(op, context, mode, seed, config).answer
    g, _ = next(_accepted_graphs(op, get_context(context), mode, seed, config or _DEFAULT_CONFIG))
    return g.values[g.topo[-1]]


def _accepted_graphs(
    op: int, ctx: Context, mode: str, seed: int, cfg: GeneratorConfig
) -> Iterator[tuple[ProblemGraph, Random]]:
    """The graphs the problem's random stream accepts, in order, each with the stream to render it from."""
    rng = Random(stable_seed("interplay-hf/problem", op, ctx.template, mode, seed))
    draw_args = {  # built once: a problem takes ~17 draws at op 20
        "place_groups": list(ctx.places.values()),
        "item_groups": list(ctx.items.values()),
        "total_name": ctx.total_name,
        "number_range": cfg.number_range,
        "mod": cfg.mod,
        "ip_max": cfg.ip_max,
        "max_value": cfg.max_value,
    }
    for _ in range(cfg.max_attempts):
        g = draw_graph(op, mode, rng, **draw_args)
        if g is not None:
            yield g, rng
    raise ConfigError(
        f"no valid op={op} {mode} problem for context {ctx.name!r} in generator.max_attempts="
        f"{cfg.max_attempts} draws; relax generator.number_range/mod/max_value or raise max_attempts"
    )


__all__ = [
    "FORWARD",
    "REVERSE",
    "MODES",
    "SUPPORTED_OPS",
    "GeneratorConfig",
    "Problem",
    "generate_problem",
    "problem_answer",
    "content_id",
    "problem_key",
    "stable_seed",
]
