"""Data-mixture recipes: YAML -> validated :class:`DataRecipe` (no ``datasets`` import here).

A recipe names splits; each split has a size (examples, or a token budget) and a mixture of
components (op ranges with weights, context proportions, mode proportions). Per-(op, context)
evaluation splits are declared once under ``eval``. Every mistake raises ``ConfigError`` naming
the field and what is allowed, before anything is generated. Schema: ``recipes/data/README.md``.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from interplay_hf.data.chat import PROMPT_FORMATS
from interplay_hf.data.contexts import get_context
from interplay_hf.data.generator import FORWARD, ROW_COLUMNS, SUPPORTED_OPS, GeneratorConfig, check_mode
from interplay_hf.errors import ConfigError
from interplay_hf.yaml_io import load_yaml_mapping, reject_unknown_keys

COLUMN_PRESETS: dict[str, tuple[str, ...]] = {
    "full": ROW_COLUMNS,
    "pretrain": ("text", "op", "context", "id"),
    "sft": ("prompt", "completion", "op", "context", "id"),
    "rl": ("prompt", "answer", "gold_graph", "solution", "op", "context", "mode", "id"),
}
DEFAULT_CHARS_PER_TOKEN = 4.0  # rough figure for a word-level BPE such as ours; set `tokenizer` to measure
DEFAULT_PILOT = 512
_SPLIT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_TOL = 1e-6


@dataclass(frozen=True)
class SizeSpec:
    """How many rows a split has: a fixed count, or a token budget converted with a pilot sample."""

    examples: int | None = field(default=None, metadata={"help": "Number of rows."})
    tokens: int | None = field(default=None, metadata={"help": "Token budget; rows = ceil(tokens / mean tokens per row)."})
    chars_per_token: float = field(
        default=DEFAULT_CHARS_PER_TOKEN, metadata={"help": "Used without `tokenizer`: tokens = chars / this + 1 (EOS)."}
    )
    tokenizer: str | None = field(
        default=None, metadata={"help": "Tokenizer path/id: tokens = len(encode(text)) + 1 (EOS) on the pilot rows."}
    )
    pilot: int = field(default=DEFAULT_PILOT, metadata={"help": "Rows (the split's first) measured to estimate tokens/row."})


@dataclass(frozen=True)
class Component:
    """One part of a mixture: ``weight`` of the split, with its own op, context and mode proportions."""

    weight: float
    ops: dict[int, float]  # op -> probability (sums to 1)
    contexts: dict[str, float]  # short context name -> probability
    modes: dict[str, float]  # mode -> probability


@dataclass(frozen=True)
class SplitSpec:
    name: str
    size: SizeSpec
    mixture: tuple[Component, ...]
    columns: tuple[str, ...]
    is_eval: bool = False
    seed: int | None = None  # overrides the recipe seed for this split (eval sets shared across recipes)
    shares: str = "rows"  # what mixture weights share out: "rows" (documents) or "tokens" (the official op_prob)


@dataclass(frozen=True)
class DataRecipe:
    """A validated data recipe (see recipes/data/README.md for the YAML schema)."""

    name: str = field(metadata={"help": "Recipe name (dataset card title)."})
    seed: int = field(default=0, metadata={"help": "Base seed; row i of split S uses a seed derived from (seed, S, i)."})
    output_dir: str | None = field(default=None, metadata={"help": "Where `data build` saves the DatasetDict."})
    num_proc: int = field(default=1, metadata={"help": "Parallel generator processes (datasets num_proc)."})
    generator: GeneratorConfig = field(default_factory=GeneratorConfig, metadata={"help": "Generator value rules."})
    splits: tuple[SplitSpec, ...] = field(default=(), metadata={"help": "Splits in priority order (eval first)."})
    dedup_against: tuple[str, ...] = field(
        default=(), metadata={"help": "Built datasets (save_to_disk dirs) whose problems are removed from every split."}
    )
    dedup_within_splits: bool = field(
        default=False, metadata={"help": "Also drop a training row whose problem occurs earlier in its own split "
                                         "(the official exact dedup of each pool); eval splits are left as drawn."}
    )
    hub_repo_id: str | None = field(default=None, metadata={"help": "Push the built DatasetDict to this Hub repo."})
    hub_private: bool = field(default=False, metadata={"help": "Create the Hub repo as private."})
    description: str = field(default="", metadata={"help": "Free text for the dataset card."})
    prompt_format: str = field(
        default="plain",
        metadata={"help": "'plain' (docs/data-format.md §5 text prompts for from-scratch models) or 'chat' (system + user "
                          "messages for instruct models; gold columns unchanged)."},
    )
    system_prompt: str | None = field(
        default=None, metadata={"help": "Chat system message (default: the step-format instruction; '' for none)."}
    )
    source: dict = field(default_factory=dict, metadata={"help": "The YAML as loaded (for the card and report)."})

    def split(self, name: str) -> SplitSpec:
        for s in self.splits:
            if s.name == name:
                return s
        raise ConfigError(f"recipe {self.name!r} has no split {name!r}; splits: {[s.name for s in self.splits]}")

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("source", None)
        return d


# ----------------------------------------------------------------------------------------------
_TOP_KEYS = {
    "name", "seed", "output_dir", "num_proc", "generator", "splits", "eval", "dedup_against", "dedup_within_splits",
    "hub", "description", "prompt_format", "system_prompt",
}
_SPLIT_KEYS = {"size", "ops", "contexts", "modes", "mixture", "columns", "seed", "shares"}
SHARES = ("rows", "tokens")
_COMPONENT_KEYS = {"weight", "ops", "contexts", "modes"}
_EVAL_KEYS = {"ops", "contexts", "modes", "size", "columns", "prefix", "seed"}
_SIZE_KEYS = {"examples", "tokens", "chars_per_token", "tokenizer", "pilot"}
_HUB_KEYS = {"repo_id", "private"}


def load_data_recipe(path: str | Path) -> DataRecipe:
    """Read and validate a recipe YAML (``yaml.safe_load``; unknown keys are errors)."""
    data = load_yaml_mapping(path, "recipe")
    data.setdefault("name", Path(path).stem)
    return recipe_from_dict(data)


def recipe_from_dict(data: dict[str, Any]) -> DataRecipe:
    """Validate a recipe given as a dict (the parsed YAML)."""
    _check_keys(data, _TOP_KEYS, "recipe")
    name = data.get("name") or "data"
    if not isinstance(name, str):
        raise ConfigError(f"name: expected a string, got {name!r}")
    seed = _int(data.get("seed", 0), "seed", minimum=0)
    num_proc = _int(data.get("num_proc", 1), "num_proc", minimum=1)
    generator = GeneratorConfig.from_dict(_mapping(data.get("generator"), "generator"))
    splits: list[SplitSpec] = []
    if data.get("eval") is not None:
        splits.extend(_eval_splits(_mapping(data["eval"], "eval")))
    raw_splits = _mapping(data.get("splits"), "splits")
    for split_name, spec in raw_splits.items():
        splits.append(_split(str(split_name), spec))
    if not splits:
        raise ConfigError("recipe: define at least one split under `splits` or an `eval` section")
    names = [s.name for s in splits]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ConfigError(f"splits: names {dup} are defined twice (eval splits are named <prefix>_op<N>_<context>)")
    dedup_against = data.get("dedup_against") or []
    if isinstance(dedup_against, str):
        dedup_against = [dedup_against]
    if not isinstance(dedup_against, list) or not all(isinstance(x, str) for x in dedup_against):
        raise ConfigError("dedup_against: expected a list of dataset directories")
    dedup_within_splits = data.get("dedup_within_splits", False)
    if not isinstance(dedup_within_splits, bool):
        raise ConfigError(f"dedup_within_splits: expected true or false, got {dedup_within_splits!r}")
    hub = _mapping(data.get("hub"), "hub")
    _check_keys(hub, _HUB_KEYS, "hub")
    repo_id = hub.get("repo_id")
    if repo_id is not None and (not isinstance(repo_id, str) or "/" not in repo_id):
        raise ConfigError(f"hub.repo_id: expected 'owner/name', got {repo_id!r}")
    output_dir = data.get("output_dir")
    if output_dir is not None and not isinstance(output_dir, str):
        raise ConfigError(f"output_dir: expected a path string, got {output_dir!r}")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise ConfigError("description: expected a string")
    prompt_format = data.get("prompt_format", "plain")
    if prompt_format not in PROMPT_FORMATS:
        raise ConfigError(f"prompt_format: {prompt_format!r} is unknown; choose one of {list(PROMPT_FORMATS)}")
    system_prompt = data.get("system_prompt")
    if system_prompt is not None and not isinstance(system_prompt, str):
        raise ConfigError("system_prompt: expected a string ('' for no system message)")
    return DataRecipe(
        name=name,
        seed=seed,
        output_dir=output_dir,
        num_proc=num_proc,
        generator=generator,
        splits=tuple(splits),
        dedup_against=tuple(dedup_against),
        dedup_within_splits=dedup_within_splits,
        hub_repo_id=repo_id,
        hub_private=bool(hub.get("private", False)),
        description=description,
        prompt_format=prompt_format,
        system_prompt=system_prompt,
        source=dict(data),
    )


def _split(name: str, spec: Any) -> SplitSpec:
    where = f"splits.{name}"
    if not _SPLIT_NAME.match(name):
        raise ConfigError(f"{where}: split names must match [A-Za-z][A-Za-z0-9_]* (datasets split rule)")
    spec = _mapping(spec, where)
    _check_keys(spec, _SPLIT_KEYS, where)
    if "size" not in spec:
        raise ConfigError(f"{where}.size: required (a row count, or {{tokens: ...}})")
    size = parse_size(spec["size"], f"{where}.size")
    defaults = {k: spec[k] for k in ("ops", "contexts", "modes") if k in spec}
    if "mixture" in spec:
        raw = spec["mixture"]
        if not isinstance(raw, list) or not raw:
            raise ConfigError(f"{where}.mixture: expected a non-empty list of components")
        comps = [_component(c, defaults, f"{where}.mixture[{i}]") for i, c in enumerate(raw)]
        _check_sum([c.weight for c in comps], f"{where}.mixture weights")
    else:
        comps = [_component({"weight": 1.0}, defaults, where)]
    seed = _int(spec["seed"], f"{where}.seed") if "seed" in spec else None
    shares = spec.get("shares", "rows")
    if shares not in SHARES:
        raise ConfigError(f"{where}.shares: {shares!r}; write rows (weights share out documents) or tokens "
                          "(weights share out tokens, as the official op_prob)")
    return SplitSpec(name, size, tuple(comps), parse_columns(spec.get("columns", "full"), f"{where}.columns"),
                     seed=seed, shares=shares)


def _component(raw: Any, defaults: dict, where: str) -> Component:
    raw = _mapping(raw, where)
    _check_keys(raw, _COMPONENT_KEYS, where)
    merged = {**defaults, **raw}
    if "ops" not in merged:
        raise ConfigError(f"{where}.ops: required (e.g. 2-10, [2, 3], or {{'2-4': 0.2, '5-10': 0.8}})")
    weight = _number(merged.get("weight", 1.0), f"{where}.weight")
    if weight < 0:
        raise ConfigError(f"{where}.weight: must be >= 0, got {weight}")
    return Component(
        weight=weight,
        ops=parse_ops(merged["ops"], f"{where}.ops"),
        contexts=parse_contexts(merged.get("contexts", "zoo"), f"{where}.contexts"),
        modes=parse_modes(merged.get("modes", FORWARD), f"{where}.modes"),
    )


def _eval_splits(spec: dict) -> list[SplitSpec]:
    _check_keys(spec, _EVAL_KEYS, "eval")
    if "ops" not in spec:
        raise ConfigError("eval.ops: required, e.g. 2-20")
    ops = parse_ops(spec["ops"], "eval.ops")
    contexts = parse_contexts(spec.get("contexts", "zoo"), "eval.contexts", proportions=False)
    modes = parse_modes(spec.get("modes", FORWARD), "eval.modes")
    size = parse_size(spec.get("size", 200), "eval.size")
    if size.examples is None:
        raise ConfigError("eval.size: give a row count per (op, context), e.g. 200")
    columns = parse_columns(spec.get("columns", "full"), "eval.columns")
    seed = _int(spec["seed"], "eval.seed") if "seed" in spec else None
    prefix = spec.get("prefix", "eval")
    if not isinstance(prefix, str) or not _SPLIT_NAME.match(prefix):
        raise ConfigError(f"eval.prefix: must match [A-Za-z][A-Za-z0-9_]*, got {prefix!r}")
    out = []
    for ctx in contexts:
        for op in ops:
            comp = Component(1.0, {op: 1.0}, {ctx: 1.0}, modes)
            out.append(SplitSpec(f"{prefix}_op{op}_{ctx}", size, (comp,), columns, is_eval=True, seed=seed))
    return out


# ---- field parsers (public: the CLI reuses them) ------------------------------------------------
def parse_size(raw: Any, where: str) -> SizeSpec:
    if isinstance(raw, dict):
        _check_keys(raw, _SIZE_KEYS, where)
        if ("examples" in raw) == ("tokens" in raw):
            raise ConfigError(f"{where}: give exactly one of `examples` or `tokens`")
        tok = raw.get("tokenizer")
        if tok is not None and not isinstance(tok, str):
            raise ConfigError(f"{where}.tokenizer: expected a path or Hub id string")
        if "examples" in raw:  # a tokenizer still measures the lengths behind `shares: tokens`
            return SizeSpec(examples=_count(raw["examples"], f"{where}.examples"), tokenizer=tok)
        cpt = _number(raw.get("chars_per_token", DEFAULT_CHARS_PER_TOKEN), f"{where}.chars_per_token")
        if cpt <= 0:
            raise ConfigError(f"{where}.chars_per_token: must be > 0, got {cpt}")
        return SizeSpec(
            tokens=_count(raw["tokens"], f"{where}.tokens"),
            chars_per_token=cpt,
            tokenizer=tok,
            pilot=_int(raw.get("pilot", DEFAULT_PILOT), f"{where}.pilot", minimum=1),
        )
    return SizeSpec(examples=_count(raw, where))


def parse_ops(raw: Any, where: str) -> dict[int, float]:
    """``7``, ``"7-10"``, ``[2, "5-7"]`` (uniform over the union) or ``{"2-4": 0.2, 10: 0.8}``."""
    if isinstance(raw, dict):
        weights = {}
        for key, w in raw.items():
            ops = _op_range(key, where)
            w = _number(w, f"{where}[{key!r}]")
            if w < 0:
                raise ConfigError(f"{where}[{key!r}]: weight must be >= 0")
            for op in ops:
                weights[op] = weights.get(op, 0.0) + w / len(ops)
        _check_sum(list(raw.values()), f"{where} proportions")
        return {op: w for op, w in sorted(weights.items()) if w > 0}
    items = raw if isinstance(raw, list) else [raw]
    if not items:
        raise ConfigError(f"{where}: empty op list")
    ops = sorted({op for item in items for op in _op_range(item, where)})
    return {op: 1.0 / len(ops) for op in ops}


def parse_contexts(raw: Any, where: str, proportions: bool = True) -> dict[str, float]:
    """``zoo``, ``[zoo, teacher]`` (uniform) or ``{zoo: 0.99, teacher: 0.01}``; short or template names."""
    return _categorical(raw, where, lambda name: get_context(name).name, "context", proportions)


def parse_modes(raw: Any, where: str) -> dict[str, float]:
    return _categorical(raw, where, lambda m: check_mode(m, where), "mode", True)


def parse_columns(raw: Any, where: str) -> tuple[str, ...]:
    if isinstance(raw, str):
        if raw not in COLUMN_PRESETS:
            raise ConfigError(f"{where}: unknown preset {raw!r}; allowed: {sorted(COLUMN_PRESETS)} or a list of columns")
        return COLUMN_PRESETS[raw]
    if not isinstance(raw, list) or not raw:
        raise ConfigError(f"{where}: expected a preset name or a non-empty list of columns")
    bad = [c for c in raw if c not in ROW_COLUMNS]
    if bad:
        raise ConfigError(f"{where}: unknown column(s) {bad}; allowed: {list(ROW_COLUMNS)}")
    return tuple(dict.fromkeys(raw))


def _categorical(raw, where, canon, what, proportions) -> dict[str, float]:
    if isinstance(raw, dict):
        if not raw:
            raise ConfigError(f"{where}: empty")
        out: dict[str, float] = {}
        for key, w in raw.items():
            try:
                name = canon(key)
            except ConfigError as err:
                raise ConfigError(f"{where}: {err}") from None
            w = _number(w, f"{where}.{key}")
            if w < 0:
                raise ConfigError(f"{where}.{key}: proportion must be >= 0")
            out[name] = out.get(name, 0.0) + w
        if proportions:
            _check_sum(list(raw.values()), f"{where} proportions")
        return {k: v for k, v in out.items() if v > 0 or not proportions}
    items = raw if isinstance(raw, list) else [raw]
    if not items:
        raise ConfigError(f"{where}: empty {what} list")
    names = []
    for item in items:
        try:
            names.append(canon(item))
        except ConfigError as err:
            raise ConfigError(f"{where}: {err}") from None
    names = list(dict.fromkeys(names))
    return {n: 1.0 / len(names) for n in names}


def _op_range(item: Any, where: str) -> list[int]:
    lo_hi = None
    if isinstance(item, bool):
        pass
    elif isinstance(item, int):
        lo_hi = (item, item)
    elif isinstance(item, str):
        m = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", item)
        if m:
            lo_hi = (int(m.group(1)), int(m.group(2) or m.group(1)))
    if lo_hi is None:
        raise ConfigError(f"{where}: {item!r} is not an op or op range like '7-10'")
    lo, hi = lo_hi
    if lo > hi or lo not in SUPPORTED_OPS or hi not in SUPPORTED_OPS:
        raise ConfigError(
            f"{where}: op range {item!r} is outside the supported range {SUPPORTED_OPS[0]}..{SUPPORTED_OPS[-1]}"
        )
    return list(range(lo, hi + 1))


_SUFFIX = {"k": 10**3, "K": 10**3, "m": 10**6, "M": 10**6, "b": 10**9, "B": 10**9, "t": 10**12, "T": 10**12}


def _count(raw: Any, where: str) -> int:
    """A positive count: 1000, 1e6, '2.5M', '10B'."""
    value: float | None = None
    if isinstance(raw, bool):
        value = None
    elif isinstance(raw, (int, float)):
        value = float(raw)
    elif isinstance(raw, str):
        s = raw.strip().replace("_", "")
        mult = 1
        if s and s[-1] in _SUFFIX:
            mult, s = _SUFFIX[s[-1]], s[:-1]
        try:
            value = float(s) * mult
        except ValueError:
            value = None
    if value is None or not math.isfinite(value):
        raise ConfigError(f"{where}: expected a positive count (e.g. 1000, '2.5M', '10B'), got {raw!r}")
    if value <= 0 or value != int(value):
        raise ConfigError(f"{where}: must be a positive whole number, got {raw!r}")
    return int(value)


def _int(raw: Any, where: str, minimum: int = 0) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < minimum:
        raise ConfigError(f"{where}: expected an integer >= {minimum}, got {raw!r}")
    return raw


def _number(raw: Any, where: str) -> float:
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not math.isfinite(raw):
        raise ConfigError(f"{where}: expected a number, got {raw!r}")
    return float(raw)


def _mapping(raw: Any, where: str) -> dict:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(raw).__name__}")
    return raw


def _check_keys(d: dict, allowed: set[str], where: str) -> None:
    reject_unknown_keys(d, allowed, where)


def _check_sum(values: list, where: str) -> None:
    total = sum(float(v) for v in values)
    if abs(total - 1.0) > _TOL:
        raise ConfigError(f"{where} must sum to 1, got {total:g}")


__all__ = [
    "COLUMN_PRESETS",
    "Component",
    "DataRecipe",
    "SizeSpec",
    "SplitSpec",
    "load_data_recipe",
    "parse_columns",
    "parse_contexts",
    "parse_modes",
    "parse_ops",
    "parse_size",
    "recipe_from_dict",
]

