"""Atomic file writes, shared by every layer (temp file in the same directory + ``os.replace``):
a reader never sees half a file, and a crash leaves the previous version in place."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path: str | Path, write: Callable[[IO], None], mode: str = "w") -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as f:
            write(f)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file normal permissions
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def write_text(path: str | Path, text: str) -> Path:
    return write_atomic(path, lambda f: f.write(text))


def write_json(path: str | Path, obj: object) -> Path:
    return write_atomic(path, lambda f: (json.dump(obj, f, indent=1, ensure_ascii=False), f.write("\n")))


def write_jsonl(path: str | Path, rows: Iterable[dict]) -> Path:
    def write(f: IO) -> None:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")

    return write_atomic(path, write)


def append_jsonl(path: str | Path, rows: Iterable[dict]) -> None:
    """Append rows and flush (partial results of a running evaluation; a torn last line is skipped on read)."""
    with open(path, "a", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
        f.flush()
        os.fsync(f.fileno())


def read_jsonl(path: str | Path) -> list[dict]:
    """Rows of a JSONL file, skipping a torn (unparseable) line left by a crash."""
    rows = []
    if not Path(path).exists():
        return rows
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return rows
