"""Pre-registration: which claims of a findings spec are unchanged since the commit that registered them.

A spec names ``registered: <commit>``, the commit that held it before any training ran. Each claim is compared,
as written in YAML, with the same claim in that commit's copy of the file; a claim that differs or is new is
*exploratory*: still reported, never part of the confirmatory family, and named in a warning. So a metric or an
op range chosen after seeing results cannot pass as registered. Family settings (``alpha``, ``correction``) that
changed make every claim exploratory.
"""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path
from typing import Any

from interplay_hf.yaml_io import parse_yaml_text

_FAMILY_KEYS = ("alpha", "correction")


def registered_text(spec_path: str | Path, commit: str) -> str | None:
    """The spec file as it was at ``commit`` (None when git, the commit or the file there is unavailable)."""
    path = Path(spec_path).resolve()
    try:
        top = subprocess.run(["git", "-C", str(path.parent), "rev-parse", "--show-toplevel"], capture_output=True,
                             text=True, timeout=60, check=True).stdout.strip()
        relative = path.relative_to(Path(top).resolve()).as_posix()
        return subprocess.run(["git", "-C", top, "show", f"{commit}:{relative}"], capture_output=True, text=True,
                              timeout=60, check=True).stdout
    except (OSError, ValueError, subprocess.SubprocessError):
        return None


def changed_claims(current: dict[str, Any], registered: dict[str, Any]) -> list[str]:
    """Names of the claims of ``current`` that the registered spec lacks or words differently."""
    before = {f.get("name"): f for f in registered.get("findings") or [] if isinstance(f, dict)}
    family_changed = any(current.get(k) != registered.get(k) for k in _FAMILY_KEYS)
    return [f["name"] for f in current.get("findings") or []
            if family_changed or before.get(f["name"]) != f]


def mark_unregistered(findings: list, spec: dict[str, Any], spec_path: str | Path,
                      commit: str) -> tuple[list, tuple[str, ...]]:
    """``findings`` with every claim changed since ``commit`` marked exploratory, and one warning per claim."""
    text = registered_text(spec_path, commit)
    if text is None:
        return ([dataclasses.replace(f, exploratory=True) for f in findings],
                (f"{spec_path}: cannot read it at the registered commit {commit} (no git history here?); "
                 "every claim is reported as exploratory",))
    registered = parse_yaml_text(text, f"{spec_path}@{commit}")
    changed = set(changed_claims(spec, registered if isinstance(registered, dict) else {}))
    warnings = tuple(f"{spec_path}: claim {name!r} differs from (or is absent in) the registered commit {commit}: "
                     "reported as exploratory" for name in sorted(changed))
    return [dataclasses.replace(f, exploratory=True) if f.name in changed else f for f in findings], warnings
