"""Atomic file writes, shared by every layer (temp file in the same directory + ``os.replace``):
a reader never sees half a file, and a crash leaves the previous version in place.

A FIFO or a character device (``/dev/stdout``, ``/dev/null``, a named pipe) is written through, never replaced by a
regular file; a socket or a block device is refused; a symlink to a regular file is replaced itself (what it points
to is never written: a link planted in an output folder cannot redirect a write) (the output policy of :mod:`interplay_hf.guard.outputs`).
JSON is strict (``allow_nan=False``): a NaN that reached a result is a bug to surface, not a bare ``NaN``."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO

from interplay_hf.errors import ConfigError
from interplay_hf.guard.outputs import special_kind


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path: str | Path, write: Callable[[IO], None], mode: str = "w") -> Path:
    path = Path(path)
    kind = special_kind(path)  # symlinks followed: /dev/stdout is a link to the stream
    if kind in ("FIFO", "character device"):
        with open(path, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as f:
            write(f)
        return path
    if kind is not None:
        raise ConfigError(f"{path}: is a {kind}; refusing to write to it, choose a file")
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
    """Strict JSON with secret-shaped strings redacted (results, reports, markers name user-given paths and ids)."""
    from interplay_hf.redact import redact_patterns

    obj = redact_patterns(obj)
    return write_atomic(path, lambda f: (json.dump(obj, f, indent=1, ensure_ascii=False, allow_nan=False), f.write("\n")))


def write_jsonl(path: str | Path, rows: Iterable[dict]) -> Path:
    def write(f: IO) -> None:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False, allow_nan=False) + "\n")

    return write_atomic(path, write)


def drop_torn_tail(path: str | Path) -> bool:
    """Cut a last line without its newline (a crash mid-append) off ``path``; True if there was one.
    Appending after it would glue the next row onto the fragment and lose both."""
    try:
        with open(path, "rb+") as f:
            size = f.seek(0, os.SEEK_END)
            if size == 0:
                return False
            f.seek(size - 1)
            if f.read(1) == b"\n":
                return False
            pos = size
            while pos > 0:  # back to the newline before the fragment, in blocks
                step = min(65536, pos)
                f.seek(pos - step)
                cut = f.read(step).rfind(b"\n")
                if cut >= 0:
                    pos = pos - step + cut + 1
                    break
                pos -= step
            f.truncate(pos)
            return True
    except FileNotFoundError:
        return False


def append_jsonl(path: str | Path, rows: Iterable[dict]) -> None:
    """Append rows and flush (partial results of a running evaluation). A torn last line left by a crash is
    dropped first (its problem has no complete record, so it is sampled again) and skipped on read."""
    drop_torn_tail(path)
    with open(path, "a", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False, allow_nan=False) + "\n")
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
