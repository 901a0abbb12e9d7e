"""Build the datasets of a data recipe: generate in parallel, deduplicate across splits, save atomically.

Determinism: row ``i`` of split ``S`` is a pure function of ``(recipe.seed, S, i)`` (its op, context,
mode and problem seed are drawn from a RNG seeded with a SHA-256 of those), rows are produced in
blocks of :data:`BLOCK` aligned to the Arrow record batches, and every fingerprint is derived from
the content, so the saved files are byte-identical for any ``num_proc``, and the shards of a
``--num-shards`` build (contiguous block ranges) concatenate to the unsharded dataset.

Deduplication: a row is dropped when its problem (the prompt: problem + question) already occurs in
an earlier split (eval splits come first, then ``splits`` in recipe order) or in a dataset listed
under ``dedup_against``, and, with ``dedup_within_splits: true`` (the official pipeline's exact dedup of each
training pool), when it occurs earlier in its own split (in row order, across shards too). Counts go to
``build_report.json`` and stdout.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from random import Random
from typing import Any

from interplay_hf import __version__
from interplay_hf.data.generator import generate_problem, problem_key, stable_seed
from interplay_hf.data.recipe import DataRecipe, SplitSpec, load_data_recipe, recipe_from_dict
from interplay_hf.data.report import REPORT_FILE, BuildReport, MixtureSummary, SplitReport
from interplay_hf.data.saved import load_built
from interplay_hf.data.text import make_prompt
from interplay_hf.data.token_shares import row_share_mixture, token_counter
from interplay_hf.errors import ConfigError
from interplay_hf.guard.outputs import check_apart, check_folder, output_lock, rename_noreplace, staging_dir
from interplay_hf.inputs import path_kind

BLOCK = 1000  # rows per generation task == Arrow writer batch (keeps record batches aligned)
RECIPE_FILE = "recipe.yaml"
_HASH = "_phash"
_INT_COLUMNS = {"op", "d"}
_ALWAYS = ("op", "context", "mode")  # generated for the report even when not saved


def row_plan(seed: int, split: str, index: int, mixture) -> tuple[int, str, str, int]:
    """(op, context, mode, problem seed) of a row; depends only on (seed, split, index)."""
    rng = Random(stable_seed("interplay-hf/row", seed, split, index))
    comp = _pick(rng, [(c, c.weight) for c in mixture])
    op = _pick(rng, list(comp.ops.items()))
    context = _pick(rng, list(comp.contexts.items()))
    mode = _pick(rng, list(comp.modes.items()))
    return op, context, mode, rng.getrandbits(63)


def _pick(rng: Random, items):
    u = rng.random() * sum(w for _, w in items)
    for value, w in items:
        u -= w
        if u < 0:
            return value
    return items[-1][0]


def make_row(plan: dict, index: int) -> dict:
    op, context, mode, pseed = row_plan(plan["seed"], plan["split"], index, plan["mixture"])
    p = generate_problem(op, context, mode, seed=pseed, config=plan["generator"])
    row = p.to_row()
    out = {c: row[c] for c in plan["columns"]}
    out[_HASH] = problem_key(row["prompt"])
    return out


def _generate(blocks: list[tuple[int, int]], plan: dict):
    """datasets generator: the rows of the given blocks, in index order."""
    for lo, hi in blocks:
        for i in range(lo, hi):
            yield make_row(plan, i)


def _generate_hashes(blocks: list[tuple[int, int]], plan: dict):
    """Problem keys of the rows whose (op, context, mode) a later split can also produce."""
    for lo, hi in blocks:
        for i in range(lo, hi):
            if row_plan(plan["seed"], plan["split"], i, plan["mixture"])[:3] in plan["cells"]:
                yield {_HASH: make_row(plan, i)[_HASH]}


def cells(split: SplitSpec) -> set[tuple[int, str, str]]:
    """The (op, context, mode) combinations a split can produce. The text of a problem fixes all three (op is
    the size of the question's dependency graph), so splits with disjoint cells never share a problem."""
    return {(op, ctx, mode) for c in split.mixture if c.weight > 0
            for op in c.ops for ctx in c.contexts for mode in c.modes}


def row_features(columns):
    """datasets Features for our row columns (op and d are int64, the rest strings)."""
    from datasets import Features, Value

    return Features({c: Value("int64") if c in _INT_COLUMNS else Value("string") for c in columns})


def _blocks(n_rows: int, num_shards: int = 1, shard_index: int = 0) -> list[tuple[int, int]]:
    n_blocks = math.ceil(n_rows / BLOCK)
    lo = n_blocks * shard_index // num_shards
    hi = n_blocks * (shard_index + 1) // num_shards
    return [(b * BLOCK, min(n_rows, (b + 1) * BLOCK)) for b in range(lo, hi)]


def _fingerprint(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _plan(recipe: DataRecipe, split: SplitSpec, columns) -> dict:
    return {
        "seed": recipe.seed if split.seed is None else split.seed,
        "split": split.name,
        "mixture": split.mixture,
        "generator": recipe.generator,
        "columns": tuple(columns),
    }


def estimate_rows(recipe: DataRecipe, split: SplitSpec) -> tuple[int, float | None]:
    """Rows of a split, and the estimated tokens per row for token budgets (pilot sample of its first rows).

    Tokens per row = ``len(tokenizer(text).input_ids) + 1`` (the EOS added in pre-training) when
    ``size.tokenizer`` is set, else ``len(text) / size.chars_per_token + 1``.
    """
    size = split.size
    if size.examples is not None:
        return size.examples, None
    plan = _plan(recipe, split, ("text",))
    count = token_counter(split)
    counts = [count(make_row(plan, i)["text"]) for i in range(size.pilot)]
    per_row = sum(counts) / len(counts)
    return max(1, math.ceil(size.tokens / per_row)), per_row


def built_dataset_dir(recipe: DataRecipe, output_dir: str | os.PathLike | None, num_shards: int = 1,
                      shard_index: int = 0) -> Path:
    """Where a build is saved: ``output_dir`` (else the recipe's), or its ``shard-KKKKK-of-NNNNN`` subfolder."""
    out = output_dir or recipe.output_dir
    if not out:
        raise ConfigError("output_dir: give --output-dir or set `output_dir` in the recipe")
    target = Path(out)
    return target / f"shard-{shard_index:05d}-of-{num_shards:05d}" if num_shards > 1 else target


def _check_build_args(num_proc: Any, num_shards: Any, shard_index: Any) -> None:
    if not isinstance(num_proc, int) or num_proc < 1:
        raise ConfigError(f"num_proc: expected an integer >= 1, got {num_proc!r}")
    if not isinstance(num_shards, int) or num_shards < 1:
        raise ConfigError(f"--num-shards: expected an integer >= 1, got {num_shards!r}")
    if not isinstance(shard_index, int) or not 0 <= shard_index < num_shards:
        raise ConfigError(f"--shard-index: expected 0..{num_shards - 1}, got {shard_index!r}")


def _rows_recipe(recipe: DataRecipe) -> DataRecipe:
    """``recipe`` with every split given in token shares re-weighted to the row shares that give them."""
    return replace(recipe, splits=tuple(
        replace(sp, mixture=row_share_mixture(recipe, sp), shares="rows") if sp.shares == "tokens" else sp
        for sp in recipe.splits))


def _report_header(recipe: DataRecipe, row_recipe: DataRecipe, num_shards: int, shard_index: int) -> BuildReport:
    """build_report.json before the splits are built (their entries and the totals are added as they are)."""
    import datasets

    report: BuildReport = {  # type: ignore[typeddict-item]  # the totals and dedup are added after the splits
        "name": recipe.name,
        "description": recipe.description,
        "recipe": recipe.source,
        "mixture": {sp.name: [_component_summary(c) for c in sp.mixture] for sp in recipe.splits if not sp.is_eval},
        "seed": recipe.seed,
        "generator": asdict(recipe.generator),
        "num_shards": num_shards,
        "shard_index": shard_index,
        "split_order": [sp.name for sp in recipe.splits],
        "interplay_hf_version": __version__,
        "datasets_version": datasets.__version__,
        "dedup_against": list(recipe.dedup_against),
        "dedup_within_splits": recipe.dedup_within_splits,
        "splits": {},
    }
    token_splits = {sp.name for sp in recipe.splits if sp.shares == "tokens"}
    if token_splits:  # the row weights that give the recipe's token shares (data/token_shares.py)
        report["token_share_row_mixture"] = {sp.name: [_component_summary(c) for c in sp.mixture]
                                             for sp in row_recipe.splits if sp.name in token_splits}
    return report


@dataclass
class _BuildState:
    """What the splits of one build share: where it writes, its shard, and the problem keys seen so far."""

    recipe: DataRecipe
    row_recipe: DataRecipe
    tmp_root: Path
    num_proc: int
    num_shards: int
    shard_index: int
    exclude_base: set[str]
    seen: dict[str, set[str]] = field(default_factory=dict)  # keys of earlier splits (all shards), shared cells


def _build_split(state: _BuildState, pos: int, verbose: bool):
    """Generate, deduplicate and finish split ``pos`` of the build: (the dataset, its report entry)."""
    recipe, split, t0 = state.recipe, state.row_recipe.splits[pos], time.time()
    n_rows, tokens_per_row = estimate_rows(recipe, split)
    cols = tuple(dict.fromkeys(split.columns + _ALWAYS))
    plan = _plan(recipe, split, cols)
    blocks = _blocks(n_rows, state.num_shards, state.shard_index)
    fp = _fingerprint("rows", plan["seed"], split.name, split.mixture, asdict(recipe.generator), cols, blocks,
                      __version__)
    ds = _run_generator(_generate, blocks, plan, row_features(cols + (_HASH,)), state.tmp_root, state.num_proc, fp)
    ds.info.splits = None  # builder bookkeeping (per-process shard lengths) would differ with num_proc
    shared = cells(split) & set().union(*(cells(later) for later in state.row_recipe.splits[pos + 1:]))
    within = None
    if recipe.dedup_within_splits and not split.is_eval:
        earlier = [b for k in range(state.shard_index) for b in _blocks(n_rows, state.num_shards, k)]
        within = _keys_of_blocks(recipe, split, earlier, cells(split), state.tmp_root, state.num_proc, fp)
    ds, dropped, counts, keys = _drop_duplicates(ds, state.seen, state.exclude_base, shared, fp, within)
    if shared:
        if state.num_shards > 1:
            others = [b for k in range(state.num_shards) if k != state.shard_index
                      for b in _blocks(n_rows, state.num_shards, k)]
            keys |= _keys_of_blocks(recipe, split, others, shared, state.tmp_root, state.num_proc, fp)
        state.seen[split.name] = keys
    extra = [c for c in ds.column_names if c not in split.columns]
    ds = ds.remove_columns(extra, new_fingerprint=_fingerprint("cols", fp, extra, len(ds)))
    if recipe.prompt_format == "chat" and "prompt" in ds.column_names and len(ds):
        ds = _to_chat(ds, recipe, fp)
    entry = _report_entry(split, n_rows, blocks, dropped, len(ds), counts, tokens_per_row)
    if verbose:
        dup = sum(dropped.values())
        print(f"[data build] {split.name}: {len(ds)} rows (generated {entry['rows_generated']}, "
              f"dropped {dup} duplicate(s){' ' + str(dict(dropped)) if dup else ''}) "
              f"in {time.time() - t0:.1f}s", file=sys.stderr)
    return ds, entry


def build_datasets(
    recipe: DataRecipe | dict | str | os.PathLike,
    output_dir: str | os.PathLike | None = None,
    *,
    num_proc: int | None = None,
    num_shards: int = 1,
    shard_index: int = 0,
    overwrite: bool = False,
    save: bool = True,
    verbose: bool = True,
    recipe_path: str | os.PathLike | None = None,
):
    """Generate every split of ``recipe`` and return a ``DatasetDict`` (saved to disk unless ``save=False``).

    With ``num_shards > 1`` only the rows of shard ``shard_index`` are built (contiguous blocks of
    each split) and saved under ``<output_dir>/shard-KKKKK-of-NNNNN``; :func:`load_built` joins them.
    The output folder is locked while building, never one of the inputs (``recipe_path``, ``dedup_against``, a
    size tokenizer) and checked again when the finished build is moved in (:mod:`interplay_hf.guard.outputs`).
    """
    recipe_path = recipe_path if isinstance(recipe, (DataRecipe, dict)) else recipe
    recipe = _as_recipe(recipe)
    num_proc = recipe.num_proc if num_proc is None else num_proc
    _check_build_args(num_proc, num_shards, shard_index)
    if not save:
        return _build(recipe, None, num_proc, num_shards, shard_index, overwrite, verbose)
    target = built_dataset_dir(recipe, output_dir, num_shards, shard_index)
    inputs = [("recipe", recipe_path), *(("dedup_against", d) for d in recipe.dedup_against),
              *(("size.tokenizer", sp.size.tokenizer) for sp in recipe.splits if sp.size.tokenizer)]
    check_folder(target, "output_dir")
    check_apart(target, inputs, "output_dir")
    check_replaceable(target, overwrite)
    with output_lock(target, "output_dir"):
        check_replaceable(target, overwrite)  # again, under the lock: a build that held it may just have ended
        return _build(recipe, target, num_proc, num_shards, shard_index, overwrite, verbose)


def _build(recipe: DataRecipe, target: Path | None, num_proc: int, num_shards: int, shard_index: int,
           overwrite: bool, verbose: bool):
    existed = target is not None and (target.exists() or target.is_symlink())
    exclude_base = _hashes_of_datasets(recipe.dedup_against)  # before any generation: fail fast

    import datasets
    from datasets import DatasetDict

    row_recipe = _rows_recipe(recipe)
    staging = contextlib.ExitStack()  # closed in the `finally` below: the staging folder goes, whatever happens
    tmp_root = Path(staging.enter_context(staging_dir(target.parent, recipe.name)) if target is not None
                    else staging.enter_context(tempfile.TemporaryDirectory(prefix=f".tmp-{recipe.name}-")))
    started = time.time()
    report = _report_header(recipe, row_recipe, num_shards, shard_index)
    try:
        state = _BuildState(recipe, row_recipe, tmp_root, num_proc, num_shards, shard_index, exclude_base)
        built = {}
        for pos, split in enumerate(row_recipe.splits):
            ds, report["splits"][split.name] = _build_split(state, pos, verbose)
            if len(ds):  # an empty split (tiny split in another shard, or all duplicates) is not saved
                built[split.name] = ds
        report["duplicates_dropped_total"] = sum(sum(e["duplicates_dropped"].values()) for e in report["splits"].values())
        report["dedup"] = {name: e["duplicates_dropped"] for name, e in report["splits"].items() if e["duplicates_dropped"]}
        if target is None:
            result = DatasetDict({k: v.flatten_indices(keep_in_memory=True) for k, v in built.items()})
        else:
            staged = tmp_root / "dataset"
            DatasetDict(built).save_to_disk(str(staged))
            (staged / REPORT_FILE).write_text(json.dumps(report, indent=2, sort_keys=True, allow_nan=False) + "\n")
            _write_recipe(recipe, staged / RECIPE_FILE)
            _replace_dir(staged, target, existed, overwrite)
    finally:
        staging.close()
    if target is not None:
        if verbose:
            print(f"[data build] saved {target} in {time.time() - started:.1f}s "
                  f"({report['duplicates_dropped_total']} duplicate(s) dropped in all; "
                  f"report: {target / REPORT_FILE})", file=sys.stderr)
            print(json.dumps({"output_dir": str(target), "splits": {k: v["rows"] for k, v in report["splits"].items()},
                              "duplicates_dropped": report["duplicates_dropped_total"]}))
        result = datasets.load_from_disk(str(target))
    return result


def _drop_duplicates(ds, seen: dict[str, set[str]], exclude: set[str], shared: set, fp: str,
                     within: set[str] | None = None):
    """Drop rows whose problem is in an earlier split or in ``dedup_against``, and with ``within`` (the keys of
    the split's rows in earlier shards) also those seen earlier in this split; count what is kept.

    Returns (dataset, dropped per source, kept counts of op/context/mode, this split's keys in ``shared`` cells).
    """
    import numpy as np

    keys: set[str] = set()
    keep = np.ones(len(ds), dtype=bool)
    dropped: Counter[str] = Counter()
    counts: dict[str, Counter] = {c: Counter() for c in _ALWAYS}
    start = 0
    for batch in ds.select_columns([_HASH, *_ALWAYS]).iter(batch_size=BLOCK):
        for j, k in enumerate(batch[_HASH]):
            cell = (batch["op"][j], batch["context"][j], batch["mode"][j])
            if cell in shared:
                keys.add(k)
            source = next((name for name, s in seen.items() if k in s), None)
            if source is None and k in exclude:
                source = "dedup_against"
            if source is None and within is not None:
                if k in within:
                    source = "within_split"
                within.add(k)
            if source is None:
                for c, v in zip(_ALWAYS, cell):
                    counts[c][v] += 1
            else:
                keep[start + j] = False
                dropped[source] += 1
        start += len(batch[_HASH])
    if dropped:
        ds = ds.select(np.flatnonzero(keep), new_fingerprint=_fingerprint("dedup", fp, dict(dropped)))
    return ds, dropped, {c: dict(sorted(v.items())) for c, v in counts.items()}, keys


def _keys_of_blocks(recipe, split, blocks, shared, tmp_root: Path, num_proc: int, fp: str) -> set[str]:
    """Problem keys of other shards' rows in the ``shared`` cells (a sharded build needs the whole split's)."""
    if not blocks:
        return set()
    plan = {**_plan(recipe, split, ()), "cells": shared}
    hashes = _run_generator(_generate_hashes, blocks, plan, row_features((_HASH,)), tmp_root, num_proc,
                            _fingerprint("hashes", fp, blocks, sorted(shared)))
    keys: set[str] = set()
    for batch in hashes.iter(batch_size=BLOCK):
        keys.update(batch[_HASH])
    return keys


def _component_summary(c) -> MixtureSummary:
    """A mixture component for the report/card: ops as [lo, hi] when uniform over a range, else op -> weight."""
    ops = sorted(c.ops)
    uniform = ops == list(range(ops[0], ops[-1] + 1)) and len({round(w, 12) for w in c.ops.values()}) == 1
    return {"weight": c.weight, "ops": [ops[0], ops[-1]] if uniform else {str(k): v for k, v in sorted(c.ops.items())},
            "contexts": dict(c.contexts), "modes": dict(c.modes)}


def _report_entry(split, n_rows, blocks, dropped, rows, counts, tokens_per_row) -> SplitReport:
    entry: SplitReport = {
        "rows_requested": n_rows,
        "rows_generated": sum(hi - lo for lo, hi in blocks),
        "duplicates_dropped": dict(dropped),
        "rows": rows,
        "columns": list(split.columns),
        "eval": split.is_eval,
        "ops": counts["op"],
        "contexts": counts["context"],
        "modes": counts["mode"],
    }
    if tokens_per_row is not None:
        entry["tokens_requested"] = split.size.tokens
        entry["tokens_per_row_estimate"] = round(tokens_per_row, 2)
        entry["token_estimate"] = (
            f"tokenizer {split.size.tokenizer}" if split.size.tokenizer else f"chars / {split.size.chars_per_token} + 1 (EOS)"
        )
    return entry


def _run_generator(gen, blocks, plan, features, tmp_root: Path, num_proc: int, fingerprint: str):
    from datasets import Dataset

    if not blocks:
        return Dataset.from_dict({name: [] for name in features}, features=features)
    return Dataset.from_generator(
        gen,
        features=features,
        gen_kwargs={"blocks": blocks, "plan": plan},
        num_proc=min(num_proc, len(blocks)) if num_proc > 1 else None,
        cache_dir=str(tmp_root / "cache"),
        fingerprint=fingerprint,
        writer_batch_size=BLOCK,
        split="train",
    )


def _hashes_of_datasets(paths) -> set[str]:
    """Problem keys of already built datasets (``dedup_against``)."""
    keys: set[str] = set()
    if not paths:
        return keys
    import datasets

    for path in paths:
        if not Path(path).exists():
            raise ConfigError(f"dedup_against: {path!r} does not exist (build it first)")
        try:
            loaded = load_built(path)
        except Exception as err:  # noqa: BLE001
            raise ConfigError(f"dedup_against: cannot load {path!r} with datasets.load_from_disk: {err}") from err
        parts = loaded.values() if isinstance(loaded, datasets.DatasetDict) else [loaded]
        for ds in parts:
            keys.update(problem_key(p) for p in _prompts(ds))
    return keys


def _to_chat(ds, recipe, fp):
    """Conversational prompt/completion for instruct models; runs after dedup, so keys stay the plain prompts."""
    from interplay_hf.data.chat import DEFAULT_SYSTEM_PROMPT, to_chat_format

    system_prompt = DEFAULT_SYSTEM_PROMPT if recipe.system_prompt is None else recipe.system_prompt
    return ds.map(to_chat_format, fn_kwargs={"system_prompt": system_prompt},
                  new_fingerprint=_fingerprint("chat", fp, system_prompt, len(ds)))


def _prompts(ds):
    cols = ds.column_names
    if "prompt" in cols:
        from interplay_hf.data.chat import plain_prompt

        return [plain_prompt(p) for p in ds["prompt"]]
    if "text" in cols:
        return [t.split("<solution>", 1)[0] + "<solution>" for t in ds["text"]]
    if "problem" in cols and "question" in cols:
        return [make_prompt(p, q) for p, q in zip(ds["problem"], ds["question"])]
    raise ConfigError(f"dedup_against: a dataset needs a prompt, text or problem+question column, has {cols}")


def _as_recipe(recipe) -> DataRecipe:
    if isinstance(recipe, DataRecipe):
        return recipe
    if isinstance(recipe, dict):
        return recipe_from_dict(recipe)
    return load_data_recipe(recipe)


def _write_recipe(recipe: DataRecipe, path: Path) -> None:
    import yaml

    source = dict(recipe.source) if recipe.source else {"name": recipe.name, "seed": recipe.seed}
    path.write_text(yaml.safe_dump(source, sort_keys=False, allow_unicode=True))


def check_replaceable(target: Path, overwrite: bool) -> None:
    """An existing output may be replaced only with ``--overwrite`` and only if it is a build of ours
    (it holds ``build_report.json``) or an empty folder: anything else is the user's data, never deleted."""
    if not target.exists() and not target.is_symlink():
        return
    if not overwrite:
        raise ConfigError(f"output_dir {str(target)!r} already exists; pass --overwrite to replace it")
    if target.is_symlink() or not target.is_dir():
        raise ConfigError(f"output_dir {str(target)!r} is {path_kind(target)}, not a dataset folder; refusing to "
                          "replace it (choose another --output-dir or remove it yourself)")
    if not (target / REPORT_FILE).is_file() and any(target.iterdir()):
        raise ConfigError(f"output_dir {str(target)!r} is not a dataset built by interplay-hf (no {REPORT_FILE}); "
                          "--overwrite replaces only our builds: choose another --output-dir or remove it yourself")
    ours = _build_entries(target)
    foreign = sorted(p.name for p in target.iterdir() if p.name not in ours)
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise ConfigError(f"output_dir {str(target)!r} holds files a build did not write ({shown}); --overwrite "
                          "replaces only our builds: move them away, or choose another --output-dir")


def _build_entries(target: Path) -> set[str]:
    """The names a build writes at the top of its folder: the saved DatasetDict (its splits as dataset_dict.json
    lists them), the report, the recipe and the card."""
    names = {REPORT_FILE, RECIPE_FILE, "README.md", "dataset_dict.json"}
    try:
        splits = json.loads((target / "dataset_dict.json").read_text(encoding="utf-8")).get("splits", [])
    except (OSError, ValueError, AttributeError):
        splits = []
    return names | {s for s in splits if isinstance(s, str)}


def _replace_dir(staged: Path, target: Path, existed: bool, overwrite: bool) -> None:
    """Move the finished build into place, checking again at this moment (a build can take hours): a target that
    appeared meanwhile (a folder the user made) is never replaced; one that existed is swapped out, then deleted,
    only if it is still a build of ours."""
    if not existed:
        try:
            rename_noreplace(staged, target)
        except FileExistsError:
            raise ConfigError(f"output_dir {str(target)!r} appeared while the build ran; it was left as it is and "
                              "the build discarded: choose another --output-dir") from None
        return
    check_replaceable(target, overwrite)
    old = staged.with_name("replaced")  # inside the staging folder: a kill right here leaves nothing beside it
    os.replace(target, old)
    os.replace(staged, target)
    shutil.rmtree(old, ignore_errors=True)


__all__ = ["DataRecipe", "build_datasets", "built_dataset_dir", "estimate_rows", "load_built", "load_data_recipe", "problem_key", "row_plan"]

