"""Checks on a ``results.json`` read from disk, before any report, edge selection or finding uses it.

Every summary number recomputes from the per-problem counts, so a count that is negative, above n, fractional,
NaN or a string (a file edited by hand, torn, or written by another tool) would otherwise turn into a traceback
deep in pass@k or, worse, a plausible wrong number. One line names the file, the record and the field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from interplay_hf.errors import ConfigError
from interplay_hf.inputs import is_finite_number

_FIX = "the file is corrupt or was edited; re-run the evaluation that wrote it"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _fail(path: Path, field: str, value: Any, want: str) -> ConfigError:
    return ConfigError(f"{path}: {field} = {value!r} must be {want}; {_FIX}")


def _check_count(path: Path, field: str, value: Any, n: int) -> None:
    if not _is_int(value) or not 0 <= value <= n:
        raise _fail(path, field, value, f"an integer in 0..n ({n})")


def check_record(path: Path, i: int, record: Any) -> None:
    """One problem record: 0 <= correct <= n, integers; op an integer; rates finite in [0, 1]."""
    where = f"problems[{i}]"
    if not isinstance(record, dict):
        raise _fail(path, where, type(record).__name__, "an object")
    for key in ("n", "op", "outcome_correct", "process_correct", "context", "id"):
        if key not in record:
            raise ConfigError(f"{path}: {where} has no {key!r}; {_FIX}")
    n = record["n"]
    if not _is_int(n) or n < 1:
        raise _fail(path, f"{where}.n", n, "a positive integer (samples per problem)")
    if not _is_int(record["op"]) or record["op"] < 0:
        raise _fail(path, f"{where}.op", record["op"], "a non-negative integer")
    for key in ("context", "id"):
        if not isinstance(record[key], str):
            raise _fail(path, f"{where}.{key}", record[key], "a string")
    for key in ("outcome_correct", "process_correct", "truncated"):
        if key in record:
            _check_count(path, f"{where}.{key}", record[key], n)
    for key, value in (record.get("error_counts") or {}).items():
        _check_count(path, f"{where}.error_counts.{key}", value, n)
    rank = record.get("first_process_rank")
    if rank is not None and (not _is_int(rank) or not 0 <= rank < n):
        raise _fail(path, f"{where}.first_process_rank", rank, f"null or an integer in 0..{n - 1}")
    for key in ("mean_process_score", "chance_p"):
        value = record.get(key)
        if value is not None and (not is_finite_number(value) or not 0 <= value <= 1):
            raise _fail(path, f"{where}.{key}", value, "null or a number in [0, 1]")


def check_results(path: Path, results: dict, need_problems: bool = False) -> None:
    """The whole file: samples per problem, the k list and every problem record; ``need_problems`` for readers
    that compare or select (an empty run has nothing to say there, and "solved by neither" would be wrong)."""
    n, ks = results.get("n"), results.get("k")
    if not _is_int(n) or n < 1:
        raise _fail(path, "n", n, "a positive integer (samples per problem)")
    if not isinstance(ks, list) or not all(_is_int(k) and 1 <= k <= n for k in ks):
        raise _fail(path, "k", ks, f"a list of integers in 1..n ({n})")
    if need_problems and not results["problems"]:
        raise ConfigError(f"{path}: holds no problems (problems: []), so nothing can be compared or selected; "
                          "re-run the evaluation on a non-empty eval set")
    for i, record in enumerate(results["problems"]):
        check_record(path, i, record)
