"""A small on-disk cache for deterministic, costly values (the chance baseline's generated answers).

An entry's name is the sha256 of its inputs and of the source of the modules that compute it, so editing the
generator invalidates it. The directory is ``$INTERPLAY_HF_CACHE``, else ``$XDG_CACHE_HOME/interplay_hf``, else
``~/.cache/interplay_hf``; an unreadable or corrupt entry is recomputed, and a cache that cannot be written
is skipped: the cache only saves time, it never changes a result.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

from interplay_hf.atomic_io import write_json

T = TypeVar("T")


def cache_root() -> Path:
    if os.environ.get("INTERPLAY_HF_CACHE"):
        return Path(os.environ["INTERPLAY_HF_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "interplay_hf"


def source_digest(modules: list[ModuleType]) -> str:
    digest = hashlib.sha256()
    for module in modules:
        digest.update(inspect.getsource(module).encode())
    return digest.hexdigest()


def cached_json(kind: str, key: dict[str, Any], modules: list[ModuleType], compute: Callable[[], T]) -> T:
    """``compute()``, or its earlier result for the same ``key`` and module sources (a JSON value)."""
    name = hashlib.sha256(json.dumps({"key": key, "source": source_digest(modules)}, sort_keys=True).encode())
    path = cache_root() / kind / f"{name.hexdigest()}.json"
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
        if stored["key"] == key:
            return stored["value"]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    value = compute()
    try:
        write_json(path, {"key": key, "value": value})
    except OSError:
        pass
    return value
