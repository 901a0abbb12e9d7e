"""The eval set: rows from a data recipe, a saved dataset or a JSONL file → filtered ``EvalProblem``s.

Rows follow the data layer's schema (docs/data-format.md §5 plus ``context``, ``prompt``, ``answer``,
``gold_graph``); released rows that only have ``problem, question, solution, op, template`` work too
(the prompt is rebuilt with ``make_prompt``, the gold graph is parsed from the solution by the verifier).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from interplay_hf.data.contexts import get_context
from interplay_hf.data.generator import content_id
from interplay_hf.errors import ConfigError
from interplay_hf.evaluation.scoring import EvalProblem
from interplay_hf.inputs import is_finite_number, is_readable_file, loads_strict


def context_name(name: str | None) -> str:
    """Short context name for either spelling (``crazy_zootopia`` → ``zoo``); an unregistered name as it is."""
    if not name:
        return "unknown"
    try:
        return get_context(name).name
    except ConfigError:
        return name


def row_id(row: dict) -> str:
    rid = row.get("id")
    # The official release's id is hash(solution) % 23 and collides constantly: use the data layer's content id then.
    if isinstance(rid, str) and len(rid) >= 8:
        return rid
    return content_id(row.get("problem", ""), row.get("question", ""), row.get("solution", ""))


def _prompt(row: dict):
    prompt = row.get("prompt")
    if prompt:
        return prompt
    if "problem" not in row or "question" not in row:
        raise ConfigError("eval rows need a 'prompt' column or 'problem' and 'question' columns (docs/data-format.md §5)")
    from interplay_hf.data.text import make_prompt

    return make_prompt(row["problem"], row["question"])


def _answer(row: dict) -> str:
    if row.get("answer") not in (None, ""):
        return str(row["answer"])
    from interplay_hf.data.text import answer_from_solution

    answer = answer_from_solution(row.get("solution") or "")[1]
    if answer:
        return answer
    raise ConfigError("eval rows need an 'answer' column or a solution ending with 'Answer: N.'")


def _check_row(row: object, where: str) -> dict:
    """The typed fields of an eval row: an object, ``op`` an integer, a gold ``answer`` a string or finite number."""
    if not isinstance(row, dict):
        raise ConfigError(f"{where}: expected a JSON object per line, got {type(row).__name__}")
    op = row.get("op")
    if op is not None and (isinstance(op, bool) or not isinstance(op, int) or op < 0):
        if not (isinstance(op, str) and op.isdigit()):
            raise ConfigError(f"{where}: 'op' = {op!r} must be a non-negative integer (the number of operations)")
    answer = row.get("answer")
    if answer is not None and not isinstance(answer, str) and not is_finite_number(answer):
        raise ConfigError(f"{where}: 'answer' = {answer!r} must be a string or a finite number (the gold answer)")
    for key in ("prompt", "solution", "problem", "question", "context", "template"):
        if row.get(key) is not None and not isinstance(row[key], (str, list)):
            raise ConfigError(f"{where}: {key!r} must be a string, got {type(row[key]).__name__}")
    return row


def _read_jsonl(path: Path) -> list[dict]:
    rows = []
    with open(path, encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            if line.strip():
                try:
                    row = loads_strict(line)
                except ValueError as err:  # syntax, NaN/Infinity, or nested too deep
                    raise ConfigError(f"--data {path}: line {line_no} is not valid JSON "
                                      f"({getattr(err, 'msg', err)})") from None
                rows.append(_check_row(row, f"--data {path}: line {line_no}"))
    return rows


_EVAL_SPLIT = re.compile(r"^[A-Za-z][A-Za-z0-9_]*_op\d+_[A-Za-z0-9_-]+$")  # <prefix>_op<N>_<context> (data recipes)


def _select_splits(names: Sequence[str], split: str | None, eval_names: Sequence[str] | None = None) -> list[str]:
    """``--split`` patterns, else the eval splits (build report / naming rule), else 'test'/'eval', else the only split."""
    if split:
        patterns = [s for s in split.replace(" ", "").split(",") if s]
        chosen = [n for n in names if any(fnmatch.fnmatchcase(n, p) for p in patterns)]
        if not chosen:
            raise ConfigError(f"--split {split!r} matches none of the dataset's splits {list(names)}")
        return chosen
    chosen = [n for n in names if n in eval_names] if eval_names else []
    chosen = chosen or [n for n in names if _EVAL_SPLIT.match(n)]
    chosen = chosen or [n for n in names if n in ("test", "eval")]
    if not chosen and len(names) == 1:
        chosen = list(names)
    if not chosen:
        raise ConfigError(f"--split: the dataset has no eval splits (<prefix>_op<N>_<context>, 'test'); "
                          f"choose among {list(names)}, e.g. --split {names[0]}")
    return chosen


def _eval_names_from_report(path: Path) -> list[str] | None:
    """Eval splits named by a data build's build_report.json (``"eval": true``), if there is one."""
    from interplay_hf.data.report import read_build_report

    for folder in (path, *sorted(path.glob("shard-*-of-*"))[:1]):
        report = read_build_report(folder)
        if report is not None:
            return [name for name, entry in report["splits"].items() if entry["eval"]]
    return None


def _rows_from_dataset(ds, split: str | None, eval_names: Sequence[str] | None = None) -> list[dict]:
    from datasets import DatasetDict

    if isinstance(ds, DatasetDict):
        rows: list[dict] = []
        for name in _select_splits(list(ds.keys()), split, eval_names):
            rows.extend(ds[name].to_list())
        return rows
    if split:
        raise ConfigError(f"--split {split!r} given, but the dataset has no splits (a single Dataset)")
    return ds.to_list()


def build_recipe_eval_set(path: Path, split: str | None, target: Path, build: bool):
    """Build only the eval splits of a data recipe (or the ``--split`` ones) into ``target``.

    Rows are a pure function of (recipe seed, split name, index), so these are the same problems the
    full ``data build`` of the recipe has in its eval splits. ``build=False`` (other ranks) loads what the
    main process built.
    """
    import dataclasses

    from interplay_hf.data.build import build_datasets, load_built
    from interplay_hf.data.recipe import load_data_recipe

    if build:
        recipe = load_data_recipe(path)
        names = _select_splits([s.name for s in recipe.splits], split, [s.name for s in recipe.splits if s.is_eval])
        recipe = dataclasses.replace(
            recipe, splits=tuple(s for s in recipe.splits if s.name in names), hub_repo_id=None, output_dir=None
        )
        from datasets.utils.logging import disable_progress_bar, enable_progress_bar, is_progress_bar_enabled

        was_enabled = is_progress_bar_enabled()
        disable_progress_bar()  # 3 contexts x 19 ops of "Saving the dataset" bars say nothing
        try:
            build_datasets(recipe, target, overwrite=True, verbose=False)
        finally:
            if was_enabled:
                enable_progress_bar()
    return load_built(target)


def load_rows(data: str, split: str | None, output_dir: str | Path, build: bool = True) -> list[dict]:
    path = Path(data).expanduser()
    if not path.exists():
        raise ConfigError(
            f"--data {data!r}: no such file or directory (give a data recipe YAML, a saved dataset dir or a .jsonl)"
        )
    if path.suffix in (".yaml", ".yml"):
        return _rows_from_dataset(build_recipe_eval_set(path, split, Path(output_dir) / "eval_data", build), None)
    if path.suffix in (".jsonl", ".json") or (is_readable_file(path) and not path.is_file()):
        return _read_jsonl(path)  # a pipe (`--data <(cmd)`, /dev/stdin) is JSON lines, read once
    if path.is_dir():
        from interplay_hf.data.build import load_built

        try:
            ds = load_built(path)
        except FileNotFoundError as err:
            raise ConfigError(f"--data {path}: not a dataset saved with save_to_disk ({err})") from None
        return _rows_from_dataset(ds, split, _eval_names_from_report(path))
    raise ConfigError(f"--data {data!r}: unsupported file type; give a .yaml recipe, a saved dataset dir or a .jsonl")


def to_problems(
    rows: Iterable[dict],
    ops: Sequence[int] | None = None,
    contexts: Sequence[str] | None = None,
    max_per_op: int | None = None,
) -> list[EvalProblem]:
    """Filter rows by op/context, keep at most ``max_per_op`` per (context, op) in row order, and index them."""
    wanted_ctx = {context_name(c) for c in contexts} if contexts else None
    kept: list[EvalProblem] = []
    counts: dict[tuple[str, int], int] = {}
    for row in rows:
        op = int(row["op"])
        ctx = context_name(row.get("context") or row.get("template"))
        if ops is not None and op not in ops:
            continue
        if wanted_ctx is not None and ctx not in wanted_ctx:
            continue
        if max_per_op is not None and counts.get((ctx, op), 0) >= max_per_op:
            continue
        counts[(ctx, op)] = counts.get((ctx, op), 0) + 1
        kept.append(
            EvalProblem(
                index=len(kept),
                id=row_id(row),
                op=op,
                context=ctx,
                prompt=_prompt(row),
                solution=row.get("solution"),
                answer=_answer(row),
                gold_graph=row.get("gold_graph"),
            )
        )
    return kept


def load_problems(data: str, split: str | None, ops, contexts, max_per_op, output_dir,
                  build: bool = True) -> list[EvalProblem]:
    rows = load_rows(data, split, output_dir, build)
    if not rows:
        raise ConfigError(f"--data {data!r}: the eval set is empty")
    if any("op" not in r or r["op"] is None for r in rows):
        raise ConfigError(f"--data {data!r}: rows have no 'op' column (docs/data-format.md §5 row schema expected)")
    problems = to_problems(rows, ops, contexts, max_per_op)
    if not problems:
        have_ops = sorted({int(r["op"]) for r in rows})
        have_ctx = sorted({context_name(r.get("context") or r.get("template")) for r in rows})
        raise ConfigError(
            f"--ops/--contexts: no problems left in {data!r} (requested ops {ops or 'all'}, contexts {contexts or 'all'}; "
            f"the set has ops {have_ops} and contexts {have_ctx})"
        )
    check_gold_steps(problems, data)
    return problems


def check_gold_steps(problems: list[EvalProblem], data: str) -> None:
    """Every problem has gold steps: without them process-verified pass@k would silently equal outcome pass@k."""
    from interplay_hf.verify import resolve_gold

    stepless = [p for p in problems if not getattr(resolve_gold(p.solution, p.gold_graph).graph, "nodes", None)]
    if stepless:
        raise ConfigError(
            f"--data {data!r}: {len(stepless)} of {len(problems)} problems (e.g. id {stepless[0].id!r}) have no gold "
            "solution steps, so process-verified pass@k cannot be computed; give rows with a 'solution' in the "
            "released format (or a 'gold_graph')"
        )
