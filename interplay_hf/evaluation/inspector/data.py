"""The JSON an inspector page embeds (docs/inspector.md), built from eval folders. Pure Python, no browser.

An eval folder holds ``results.json`` (counts per problem), ``samples.jsonl`` (the completions with their
verdicts) and ``problems.jsonl`` (each problem's prompt and gold solution; older folders: the eval set that
results.json names). Per run the page gets the overview *copied* from results.json (never recomputed), per
problem its counts, and its first ``max_samples`` samples re-verified step by step
(:func:`interplay_hf.verify.step_verdicts`) with the reward every reward function of
:mod:`interplay_hf.rewards` would give. Samples of another run than results.json are refused, naming the file.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from interplay_hf.errors import ConfigError
from interplay_hf.evaluation.aggregate import load_results
from interplay_hf.evaluation.formatting import table_ks
from interplay_hf.evaluation.results_schema import Results
from interplay_hf.evaluation.scoring import ERROR_TYPES, SHORTCUT_ERRORS, EvalProblem, unsupported_answer
from interplay_hf.evaluation.stats import align_by_id
from interplay_hf.verify.graph import maybe_int

SAMPLES_FILE = "samples.jsonl"
PROBLEMS_FILE = "problems.jsonl"
DEFAULT_MAX_SAMPLES = 16  # per problem (the greedy decode comes on top); --all-samples embeds every one
STATUSES = ("verified", "right_unverified", "wrong")  # process-verified / right answer, unverified process / wrong
ERROR_FILTERS = (*ERROR_TYPES, "truncated")
# The overview copies these keys of each results.json block (docs/results-schema.md), nothing else.
OVERVIEW_KEYS = ("num_problems", "num_samples", "process_pass@k", "process_pass@k_ci", "outcome_pass@k",
                 "outcome_pass@k_ci", "chance_pass@k", "process_accuracy", "error_counts", "truncated")
PAYLOAD_VERSION = 1


@dataclass
class EvalFolder:
    """One evaluation as the inspector reads it."""

    path: Path
    results: Results
    samples: SampleTally
    gold: dict[str, EvalProblem]  # problem id -> prompt and gold


@dataclass
class SampleTally:
    """samples.jsonl read once, in one pass: per problem the rows the page embeds (sample order, greedy last) and,
    over all its saved samples, how many there are per status. Only embedded rows are kept, so a paper-scale
    samples.jsonl (1.5M rows) never sits in memory."""

    max_samples: int | None  # rows kept per problem: samples 0..max_samples-1 and the greedy decode (None: all)
    kept: dict[int, list[dict]] = field(default_factory=dict)  # problem index -> rows
    status: dict[int, dict[str, int]] = field(default_factory=dict)  # problem index -> status -> samples
    outcome: dict[int, int] = field(default_factory=dict)  # problem index -> samples with a right answer

    def saved(self, index: int) -> int:
        return sum(self.status.get(index, {}).values())


def problem_row(problem: EvalProblem) -> dict:
    """A ``problems.jsonl`` row: what the inspector needs to re-verify a problem's samples (eval writes them)."""
    row = {"index": problem.index, "id": problem.id, "op": problem.op, "context": problem.context,
           "prompt": problem.prompt, "solution": problem.solution, "answer": problem.answer}
    if not problem.solution:
        row["gold_graph"] = problem.gold_graph
    return row


def _read_lines(path: Path) -> Iterator[tuple[int, dict]]:
    """(line number, object) for each non-blank line of a JSONL file, read lazily; a bad line is refused by number."""
    with open(path, encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as err:
                raise ConfigError(f"{path}: line {line_no} is not JSON ({err}); re-run the evaluation that wrote it") from None
            if not isinstance(row, dict):
                raise ConfigError(f"{path}: line {line_no} is not a JSON object; re-run the evaluation that wrote it")
            yield line_no, row


def read_samples(folder: Path, results: Results, max_samples: int | None = DEFAULT_MAX_SAMPLES) -> SampleTally:
    """samples.jsonl in one pass (:class:`SampleTally`), refused (naming the file) when it is missing or belongs to
    another run: a problem or a sample index that results.json does not have, or, for a problem whose every sample
    is saved, verdicts that do not give results.json's counts."""
    if max_samples is not None and max_samples < 0:
        raise ConfigError(f"--max-samples must be ≥ 0, got {max_samples}")
    path = folder / SAMPLES_FILE
    if not path.is_file():
        raise ConfigError(f"{path}: missing; the inspector reads the completions there (re-run `interplay-hf eval` "
                          "without --no-samples)")
    by_index = {r["index"]: r for r in results["problems"]}
    other = (f"{path}: its samples belong to another run than {folder / 'results.json'}; re-run the evaluation "
             "or keep each samples.jsonl beside its own results.json")
    tally = SampleTally(max_samples)
    for line_no, row in _read_lines(path):
        record = by_index.get(row.get("index"))
        if record is None or (record["id"], record["op"], record["context"]) != (row.get("id"), row.get("op"),
                                                                              row.get("context")):
            raise ConfigError(f"{other} (line {line_no}: problem {row.get('id')!r} is not problem {row.get('index')} "
                              "of results.json)")
        j = row.get("sample")
        if not (j == "greedy" or (isinstance(j, int) and 0 <= j < record["n"])):
            raise ConfigError(f"{other} (line {line_no}: sample {j!r}, while results.json has n = {record['n']})")
        if not isinstance(row.get("completion"), str) or not isinstance(row.get("verdict"), dict):
            raise ConfigError(f"{path}: line {line_no} has no completion/verdict; re-run the evaluation that wrote it")
        index = row["index"]
        if j != "greedy":
            status = tally.status.setdefault(index, dict.fromkeys(STATUSES, 0))
            status[sample_status(row["verdict"])] += 1
            tally.outcome[index] = tally.outcome.get(index, 0) + bool(row["verdict"].get("outcome"))
        if j == "greedy" or max_samples is None or j < max_samples:
            tally.kept.setdefault(index, []).append(row)
    for index, status in tally.status.items():
        record = by_index[index]
        verified, right = status["verified"], tally.outcome[index]
        if tally.saved(index) == record["n"] and (verified, right) != (record["process_correct"],
                                                                       record["outcome_correct"]):
            raise ConfigError(f"{other} (problem {record['id']}: {verified} verified and {right} right answers "
                              f"here, {record['process_correct']} and {record['outcome_correct']} in results.json)")
    for rows in tally.kept.values():
        rows.sort(key=lambda r: (r["sample"] == "greedy", r["sample"] if r["sample"] != "greedy" else 0))
    return tally


def _problems_from_rows(rows: list[dict]) -> dict[str, EvalProblem]:
    return {str(r["id"]): EvalProblem(index=int(r.get("index", 0)), id=str(r["id"]), op=int(r["op"]),
                                      context=str(r.get("context")), prompt=r.get("prompt"),
                                      solution=r.get("solution"), answer=str(r.get("answer")),
                                      gold_graph=r.get("gold_graph"))
            for r in rows}


def read_gold(folder: Path, results: Results) -> dict[str, EvalProblem]:
    """Each problem's prompt and gold: problems.jsonl, else the eval set results.json names (older folders)."""
    path = folder / PROBLEMS_FILE
    wanted = {r["id"] for r in results["problems"]}
    if path.is_file():
        try:
            gold = _problems_from_rows([row for _, row in _read_lines(path)])
        except (KeyError, TypeError, ValueError) as err:
            raise ConfigError(f"{path}: not a problems.jsonl of `interplay-hf eval` ({err!r}); re-run the evaluation") from None
        if not wanted <= gold.keys():
            raise ConfigError(f"{path}: lacks {len(wanted - gold.keys())} problems of {folder / 'results.json'} "
                              "(it belongs to another run); re-run the evaluation")
        return gold
    from interplay_hf.evaluation.problems import load_rows, to_problems

    try:  # an eval folder written before problems.jsonl existed: its eval set, as results.json names it
        problems = to_problems(load_rows(results["data"], results["split"], folder, build=False))
    except (ConfigError, OSError, KeyError, ValueError):
        problems = []
    gold = {p.id: p for p in problems}
    if not wanted <= gold.keys():
        raise ConfigError(f"{path}: missing, and the eval set results.json names ({results['data']!r}) is not "
                          "readable from here; re-run `interplay-hf eval` (it writes problems.jsonl beside samples.jsonl)")
    return gold


def load_eval_folder(path: str | Path, max_samples: int | None = DEFAULT_MAX_SAMPLES) -> EvalFolder:
    """An eval folder, keeping the first ``max_samples`` samples per problem and the greedy decode (None: all)."""
    folder = Path(path)
    if not folder.is_dir():
        raise ConfigError(f"{folder}: not an eval folder (give the --output-dir of `interplay-hf eval`)")
    results = load_results(folder)
    return EvalFolder(folder, results, read_samples(folder, results, max_samples), read_gold(folder, results))


def display_path(value: str | None) -> str | None:
    """A path fit to show on a page that may be shared: relative paths and repo ids as they are, an absolute path
    by its last two parts (never the user's home or machine layout)."""
    if not value or not Path(value).is_absolute():
        return value
    return "…/" + "/".join(Path(value).parts[-2:])


def prompt_text(prompt: Any) -> str:
    """A prompt as text: the plain prompt, or the contents of its chat messages."""
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, list):
        return "\n\n".join(str(m.get("content", "")) if isinstance(m, dict) else str(m) for m in prompt)
    return "" if prompt is None else str(prompt)


def sample_status(verdict: dict) -> str:
    if verdict.get("process_verified"):
        return "verified"
    return "right_unverified" if verdict.get("outcome") else "wrong"


def _utf16(text: str):
    """Python offsets -> JavaScript (UTF-16) offsets of ``text``."""
    if text.isascii() or all(ord(c) < 0x10000 for c in text):
        return lambda i: i
    prefix = [0]
    for c in text:
        prefix.append(prefix[-1] + (2 if ord(c) >= 0x10000 else 1))
    return lambda i: prefix[i]


def _num(value):
    return maybe_int(value) if isinstance(value, float) else value


def _reward_names() -> list[str]:
    from interplay_hf.rewards import REWARD_FUNCS

    return list(REWARD_FUNCS)


def rewards_of(problem: EvalProblem, completions: Sequence[str]) -> list[list[float]]:
    """Per completion, each reward function's value (in :data:`REWARD_FUNCS` order; defaults: mixed α = 0.2,
    gated), the functions called as TRL calls them."""
    from interplay_hf.rewards import REWARD_FUNCS

    m = len(completions)
    columns = {"solution": [problem.solution] * m, "answer": [problem.answer] * m, "gold_graph": [problem.gold_graph] * m}
    per_function = [[round(v, 4) for v in fn(list(completions), **columns)] for fn in REWARD_FUNCS.values()]
    return [list(values) for values in zip(*per_function)]


def sample_view(problem: EvalProblem, row: dict, rewards: list[float]) -> tuple[dict, bool]:
    """One sample as the page shows it, and whether re-verifying it changed samples.jsonl's verdict.

    A step is ``[start, end, marks, gold node, value, dependencies(, name)]``: JavaScript offsets into ``text``, its
    marks joined by spaces, the index of its name among the gold nodes (:func:`gold_view`; -1 when extra, and then
    its name comes last), and its dependencies as gold node indices (a name that is not a gold node as itself).
    ``missing`` holds gold node indices, ``rewards`` one value per name of the payload's ``rewards``. Indices rather
    than names keep a 25,600-sample page small (docs/inspector.md)."""
    from interplay_hf.verify import step_verdicts

    report = step_verdicts(row["completion"], problem.solution, problem.gold_graph, problem.answer)
    result, text = report.result, report.text
    js = _utf16(text)
    node = {g.name: i for i, g in enumerate(report.gold_steps)}

    def step(s) -> list:
        out = [js(s.start), js(s.end), " ".join(s.marks), node.get(s.name, -1), _num(s.value),
               [node.get(d, d) for d in s.dependencies]]
        return out if s.name in node else [*out, s.name]

    errors = list(result.errors) + (["unsupported_answer"] if unsupported_answer(text) else [])
    errors += ["shortcut"] if set(errors) & set(SHORTCUT_ERRORS) else []  # as results.json counts it
    view = {
        "sample": row["sample"],
        "text": text,
        "tokens": row.get("tokens"),
        "status": sample_status({"process_verified": result.process_verified, "outcome": result.outcome}),
        "errors": errors,
        "answer": result.pred_answer,
        "answer_mismatch": result.answer_mismatch,
        "process_score": round(result.process_score, 4),
        "steps": [step(s) for s in report.steps],
        "missing": [node[g.name] for g in report.missing],
        "rewards": rewards,
    }
    stored = row["verdict"]
    changed = (bool(stored.get("process_verified")), bool(stored.get("outcome"))) != (result.process_verified,
                                                                                        result.outcome)
    return view, changed


def gold_view(problem: EvalProblem) -> dict:
    """The problem as the page shows it: the prompt, the answer, the gold graph's ``nodes`` (name, value,
    dependencies, in gold order: what sample steps point to) and the solution text with its steps as
    ``[start, end, node]``."""
    from interplay_hf.verify import step_verdicts

    solution = problem.solution or ""
    report = step_verdicts(solution, problem.solution, problem.gold_graph, problem.answer, max_chars=None)
    js = _utf16(solution)
    node = {g.name: i for i, g in enumerate(report.gold_steps)}
    return {"op": problem.op, "context": problem.context, "question": prompt_text(problem.prompt),
            "answer": problem.answer, "solution": solution,
            "nodes": [[g.name, _num(g.value), list(g.dependencies)] for g in report.gold_steps],
            "steps": [[js(s.start), js(s.end), node.get(s.name, -1)] for s in report.steps]}


def _overview(results: Results) -> dict:
    def trim(block: dict) -> dict:
        return {key: block[key] for key in OVERVIEW_KEYS if key in block}

    summary = results["summary"]
    return {"overall": trim(summary["overall"]),
            **{group: {name: trim(b) for name, b in summary[group].items()}
               for group in ("per_regime", "per_op", "per_context")}}


def run_payload(folder: EvalFolder, label: str) -> dict:
    """One run: its settings, the overview of results.json, and per problem its counts and first samples."""
    results, tally = folder.results, folder.samples
    problems, shown, changed, saved = [], 0, 0, 0
    for record in results["problems"]:
        index = record["index"]
        kept = tally.kept.get(index, [])
        saved += tally.saved(index) + sum(r["sample"] == "greedy" for r in kept)
        gold = folder.gold[record["id"]]
        rewards = rewards_of(gold, [r["completion"] for r in kept]) if kept else []
        views = []
        for row, values in zip(kept, rewards):
            view, differs = sample_view(gold, row, values)
            views.append(view)
            changed += differs
        shown += len(views)
        problems.append({
            "index": record["index"], "id": record["id"], "op": record["op"], "context": record["context"], "regime": record["regime"],
            "n": record["n"], "process_correct": record["process_correct"],
            "outcome_correct": record["outcome_correct"],
            "errors": {**{e: record["error_counts"].get(e, 0) for e in ERROR_TYPES}, "truncated": record["truncated"]},
            "status": tally.status.get(index, dict.fromkeys(STATUSES, 0)), "saved": tally.saved(index),
            "samples": views,
        })
    s = results["sampling"]
    return {
        "label": label,
        "model": display_path(results["model"]) + (f" / {results['subfolder']}" if results.get("subfolder") else ""),
        "data": display_path(results["data"]),
        "n": results["n"],
        "k": results["k"],
        "table_ks": table_ks(results["k"]),
        "sampling": {key: s.get(key) for key in ("temperature", "top_p", "max_new_tokens", "seed", "backend")},
        "regimes": results["regimes"],
        "max_samples": tally.max_samples,
        "samples_saved": saved,
        "samples_shown": shown,
        "verdicts_changed": changed,
        "overview": _overview(results),
        "problems": problems,
    }


def compare_note(folders: Sequence[EvalFolder], labels: Sequence[str]) -> str | None:
    """None when every run holds the first run's problems (the compare view pairs them), else why not."""
    if len(folders) < 2:
        return "one run: give two or more eval folders on the same problems to compare them"
    first = folders[0].results["problems"]
    for folder, label in zip(folders[1:], labels[1:]):
        if align_by_id(first, folder.results["problems"]) is None:
            ids_a = {r["id"] for r in first}
            ids_b = {r["id"] for r in folder.results["problems"]}
            return (f"compare is off: {labels[0]} and {label} were evaluated on different problems "
                    f"({len(ids_a - ids_b)} only in {labels[0]}, {len(ids_b - ids_a)} only in {label})")
    return None


def build_payload(folders: Sequence[EvalFolder], labels: Sequence[str]) -> dict:
    """Everything the page shows, for runs ``folders`` (loaded with their sample cap) named ``labels``."""
    if len(labels) != len(folders):
        raise ConfigError(f"--labels has {len(labels)} names for {len(folders)} eval folders; give one per folder")
    if len(set(labels)) != len(labels):
        raise ConfigError(f"--labels must be distinct, got {list(labels)}")
    gold: dict[str, dict] = {}
    for folder in folders:
        for record in folder.results["problems"]:
            if record["id"] not in gold:
                gold[record["id"]] = gold_view(folder.gold[record["id"]])
    return {
        "version": PAYLOAD_VERSION,
        "runs": [run_payload(f, label) for f, label in zip(folders, labels)],
        "problems": gold,
        "compare_note": compare_note(folders, labels),
        "statuses": list(STATUSES),
        "error_types": list(ERROR_FILTERS),
        "rewards": _reward_names(),
    }
