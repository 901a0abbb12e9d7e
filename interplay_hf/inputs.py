"""Checks on values and files a user hands us, shared by every layer: finite numbers in range, JSON of bounded
depth without NaN, and files that are read once (a pipe, ``/dev/stdin``, ``<(cmd)``) accepted like regular files.

Why here: ``float("nan")`` passes every ``x < 0`` test and reaches a sampler or trainer (garbage samples, NaN
weights, a bare ``NaN`` in results.json); Python's JSON reader accepts ``NaN`` and recurses until the stack runs
out on deeply nested input. Each check raises :class:`ConfigError` with one line naming the field or file.
"""

from __future__ import annotations

import argparse
import json
import math
import os
from pathlib import Path
from typing import Any

from interplay_hf.errors import ConfigError

# JSON rows and results are a few levels deep (a gold graph inside a row); anything deeper is not ours.
MAX_JSON_DEPTH = 64


def is_finite_number(value: Any) -> bool:
    """A real int or float (not a bool) that is neither NaN nor infinite."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def check_number(value: Any, name: str, *, low: float | None = None, high: float | None = None,
                 low_open: bool = False, high_open: bool = False, meaning: str = "") -> float:
    """``value`` if it is a finite number in the range (``low``/``high`` inclusive unless ``*_open``), else a
    ConfigError naming ``name``; NaN and infinities never pass, whatever the range."""
    lo = "" if low is None else f"{'(' if low_open else '['}{low}"
    hi = "" if high is None else f"{high}{')' if high_open else ']'}"
    if low is not None and high is not None:
        want = f"in {lo}, {hi}"
    elif low is not None:
        want = f"{'>' if low_open else '>='} {low}"
    elif high is not None:
        want = f"{'<' if high_open else '<='} {high}"
    else:
        want = ""
    why = f" ({meaning})" if meaning else ""
    if not is_finite_number(value):
        raise ConfigError(f"{name}: must be a finite number{' ' + want if want else ''}{why}, got {value!r}.")
    if low is not None and (value < low or (low_open and value == low)):
        raise ConfigError(f"{name}: must be {want}{why}, got {value!r}.")
    if high is not None and (value > high or (high_open and value == high)):
        raise ConfigError(f"{name}: must be {want}{why}, got {value!r}.")
    return value


def finite_float(text: str) -> float:
    """argparse ``type=`` for a float flag: ``nan``, ``inf`` and ``1e999`` are refused in the parser's one line."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON (non-finite numbers are not allowed)")


def json_depth(obj: Any, limit: int = MAX_JSON_DEPTH) -> int:
    """Nesting depth of a parsed JSON value, counted without recursion; stops counting past ``limit``."""
    deepest, stack = 0, [(obj, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, (dict, list)):
            deepest = max(deepest, depth)
            if deepest > limit:
                return deepest
            stack.extend((child, depth + 1) for child in (value.values() if isinstance(value, dict) else value))
    return deepest


def loads_strict(text: str | bytes, max_depth: int = MAX_JSON_DEPTH, allow_nan: bool = False) -> Any:
    """``json.loads`` for input we did not write: no NaN/Infinity (unless ``allow_nan``: the Trainer logs a NaN
    ``grad_norm`` in trainer_state.json), at most ``max_depth`` levels of nesting.

    Raises ``ValueError`` (a ``json.JSONDecodeError`` for syntax) with a short reason, for the caller to name the
    file and line."""
    try:
        value = json.loads(text, **({} if allow_nan else {"parse_constant": _no_constant}))
    except RecursionError:
        raise ValueError(f"nested deeper than {max_depth} levels") from None
    if json_depth(value, max_depth) > max_depth:
        raise ValueError(f"nested deeper than {max_depth} levels")
    return value


def is_readable_file(path: str | os.PathLike) -> bool:
    """A path we can read once as a file: a regular file, or a pipe/character device (``/dev/stdin``, ``<(cmd)``),
    which ``Path.is_file()`` calls missing."""
    p = Path(path)
    return p.exists() and not p.is_dir()


def path_kind(path: str | os.PathLike) -> str:
    """What is at ``path``, in words for a message: "a symbolic link to a folder", "a file", "a named pipe (FIFO)"..."""
    import stat

    p = Path(path)
    if p.is_symlink():
        target = "a folder" if p.is_dir() else "a file" if p.exists() else "nothing (broken)"
        return f"a symbolic link to {target}"
    try:
        mode = p.stat().st_mode
    except OSError:
        return "missing"
    for test, words in ((stat.S_ISDIR, "a folder"), (stat.S_ISREG, "a file"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
                        (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device")):
        if test(mode):
            return words
    return "a special file"


def describe_missing(path: str | os.PathLike) -> str:
    """Why ``path`` is not a readable file, in words: missing, a folder (a symlink to one says so), or unreadable."""
    p = Path(path)
    if p.is_symlink() and not p.exists():
        return "is a broken symbolic link"
    if p.is_dir():
        return "is a folder (through a symbolic link)" if p.is_symlink() else "is a folder, not a file"
    return "no such file"
