"""Reading a dataset that ``interplay-hf data build`` saved: one folder, or the shards of a multi-node build.

Kept apart from the builder so that a reader needs neither the generator nor the recipes: the chat conversion
reads builds, and the builder imports the chat conversion, which would otherwise be an import cycle.
"""

from __future__ import annotations

import os
from pathlib import Path

from interplay_hf.data.report import read_build_report
from interplay_hf.errors import ConfigError


def load_built(path: str | os.PathLike):
    """Load a built dataset; a sharded build's ``shard-*`` directories are concatenated split by split."""
    import datasets

    root = Path(path)
    shards = sorted(p for p in root.glob("shard-*-of-*") if p.is_dir())
    if not shards:
        return _load_saved(root)
    parts = [_load_saved(p) for p in shards]
    expected = int(shards[0].name.rsplit("-of-", 1)[1])
    if len(parts) != expected:
        raise ConfigError(f"{root}: found {len(parts)} of {expected} shards; build the missing ones first")
    report = read_build_report(shards[0])
    order: list[str] = list(report["split_order"]) if report else []
    for part in parts:  # splits a shard lacks (too small to reach it) keep their recipe position
        order += [name for name in part.keys() if name not in order]
    return datasets.DatasetDict(
        {
            name: datasets.concatenate_datasets([p[name] for p in parts if name in p])
            for name in order
            if any(name in p for p in parts)
        }
    )


def _load_saved(path: Path):
    """``datasets.load_from_disk``, with a folder that is no saved dataset reported as the user's input error."""
    import datasets

    if not path.is_dir():
        raise ConfigError(f"{path}: no such dataset folder; build one with `interplay-hf data build`")
    import pyarrow

    try:
        return datasets.load_from_disk(str(path))
    except FileNotFoundError:
        raise ConfigError(f"{path}: not a saved dataset (no dataset_dict.json or dataset_info.json); "
                          "point at a folder written by `interplay-hf data build`") from None
    except (pyarrow.ArrowException, OSError, ValueError, TypeError, KeyError) as err:
        if isinstance(err, OSError) and err.filename:
            raise  # permission denied and the like: the I/O policy names the file
        # A zero-length or truncated .arrow file, or a torn dataset_info.json / state.json: the library's error
        # does not say which folder; this line does.
        reason = " ".join(str(err).split())[:300] or type(err).__name__
        raise ConfigError(f"{path}: a file of this saved dataset is corrupt or truncated ({reason}); rebuild it "
                          "with `interplay-hf data build`") from None
