"""``build_report.json``: the schema of the file ``data build`` writes beside every build, owned here.

The builder fills these types and every reader (dataset loading, eval-split discovery, the Hub cards) reads
through :func:`read_build_report` and these key names, so a renamed key fails a type check and a test rather
than printing "–" in a card.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypedDict

from interplay_hf.errors import ConfigError

# Written beside every build; its presence marks a folder as our build (``--overwrite`` replaces only those).
REPORT_FILE = "build_report.json"


class MixtureSummary(TypedDict):
    """One mixture component: ops as ``[lo, hi]`` when uniform over that range, else op (as text) -> weight."""

    weight: float
    ops: list[int] | dict[str, float]
    contexts: dict[str, float]
    modes: dict[str, float]


class _SplitReportRequired(TypedDict):
    rows_requested: int
    rows_generated: int
    duplicates_dropped: dict[str, int]  # earlier split, ``dedup_against`` or ``within_split`` -> rows dropped
    rows: int
    columns: list[str]
    eval: bool
    ops: dict[str, int]  # kept rows per op / context / mode
    contexts: dict[str, int]
    modes: dict[str, int]


class SplitReport(_SplitReportRequired, total=False):
    """What one split holds; the token fields only for a split sized in tokens."""

    tokens_requested: int
    tokens_per_row_estimate: float
    token_estimate: str


class _BuildReportRequired(TypedDict):
    name: str
    description: str | None
    recipe: dict[str, Any]  # the data recipe as written
    mixture: dict[str, list[MixtureSummary]]  # training split -> components (row or token shares, as the recipe)
    seed: int
    generator: dict[str, Any]
    num_shards: int
    shard_index: int
    split_order: list[str]
    interplay_hf_version: str
    datasets_version: str
    dedup_against: list[str]
    dedup_within_splits: bool
    splits: dict[str, SplitReport]
    duplicates_dropped_total: int
    dedup: dict[str, dict[str, int]]  # split -> its non-empty ``duplicates_dropped``


class BuildReport(_BuildReportRequired, total=False):
    token_share_row_mixture: dict[str, list[MixtureSummary]]  # the row weights behind ``shares: tokens`` splits


def report_path(dataset_dir: Path) -> Path:
    return Path(dataset_dir) / REPORT_FILE


def read_build_report(source: str | Path) -> BuildReport | None:
    """The report of a build (its folder or the file itself); None when there is none (a dataset made elsewhere)."""
    path = Path(source)
    path = report_path(path) if path.is_dir() else path
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path} is not valid JSON ({err}); rebuild the dataset with `interplay-hf data build`") from None
    missing = [key for key in _BuildReportRequired.__annotations__ if not isinstance(data, dict) or key not in data]
    if missing:
        raise ConfigError(f"{path}: not a build report of this version (missing {', '.join(missing)}); rebuild the "
                          "dataset with `interplay-hf data build`")
    return data
