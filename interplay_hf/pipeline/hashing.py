"""A stage's hash: everything that determines its output, so a finished stage is skipped only when nothing
it was made from has changed.

Hashed: the stage's type, recipe file name, args as written (``${refs}`` unresolved, so moving the runs
folder keeps finished stages finished), its launch settings, the contents of every file it names, its
inputs' hashes, the package version and, for training stages, TRL's major.minor. Not hashed: where it runs
(:mod:`interplay_hf.pipeline.placement`) and the run folder's path.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from pathlib import Path
from typing import Any

from interplay_hf import __version__
from interplay_hf.pipeline.schema import PlannedStage
from interplay_hf.versions import major_minor

MAX_HASHED_FILE_BYTES = 50_000_000  # args naming bigger files are hashed by path only


def is_file(path: Path) -> bool:
    """``path.is_file()`` that is False, not an error, for names the OS rejects (too long, bad bytes)."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def hash_stage(stage: PlannedStage, stages: dict[str, PlannedStage], root: Path) -> None:
    """Hash everything that determines a stage's output: its config, recipe contents, inputs, package version.

    Paths of the run folder are *not* hashed (``${refs}`` stay unresolved), so moving the runs folder
    keeps finished stages finished; files named by args (data recipes, ...) are hashed by contents.
    """
    files: dict[str, str] = {}
    named = [stage.recipe, stage.hash_parts.get("accelerate_config"), *_file_like(stage.args)]
    if stage.hash_parts.get("command"):  # files a shell command names (e.g. `python make.py in.txt`)
        try:
            named += _file_like(shlex.split(stage.hash_parts["command"]))
        except ValueError:
            pass
    for name in named:
        if name and name not in files:
            path = root / str(name)
            if is_file(path) and path.stat().st_size <= MAX_HASHED_FILE_BYTES:
                files[str(name)] = _sha256_file(path)
    parts = {
        "type": stage.type,
        "recipe": stage.recipe,
        "args": stage.args,
        "launch": stage.hash_parts,
        "files": files,
        "inputs": {name: stages[name].hash for name in stage.inputs},
        "version": __version__,
    }
    if stage.type in ("sft", "grpo"):  # a TRL upgrade can change what the same recipe trains
        parts["trl"] = major_minor("trl")
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    stage.hash = hashlib.sha256(blob).hexdigest()
    stage.hash_parts = parts


def _file_like(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _file_like(v)]
    if isinstance(value, list):
        return [s for v in value for s in _file_like(v)]
    if isinstance(value, str) and "${" not in value and len(value) < 500 and ("/" in value or "." in value):
        return [value]
    return []
