"""Checks on the folders an entry point is asked to write, made before any work."""

from __future__ import annotations

import os
from pathlib import Path

from interplay_hf.errors import ConfigError


def refuse_file_as_folder(path: str | os.PathLike | None, flag: str = "--output-dir") -> None:
    """An output folder that is an existing file is the user's mistake: say so before any work (some writers,
    e.g. ``save_pretrained``, only warn and write nothing)."""
    if path is not None and Path(path).exists() and not Path(path).is_dir():
        raise ConfigError(f"{flag} {path}: is a file, not a folder; choose another {flag}")
