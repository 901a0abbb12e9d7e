"""Names on the Hub: repo ids, branch names (revisions) and paths inside a repo, checked before any upload."""

from __future__ import annotations

import re

from interplay_hf.errors import ConfigError


def sanitize_revision(name: str) -> str:
    """A stage name as a valid git branch name (``rl edge@{1}`` -> ``rl-edge-1``)."""
    ref = re.sub(r"[^A-Za-z0-9._/-]+", "-", name.strip())
    ref = re.sub(r"\.{2,}", ".", ref)
    ref = re.sub(r"/+", "/", ref)
    ref = "/".join(part.strip(".-") for part in ref.split("/"))  # no component may start with "."
    ref = re.sub(r"-{2,}", "-", ref).strip("/.-")
    while ref.endswith(".lock"):
        ref = ref[: -len(".lock")].rstrip("/.-")
    if not ref:
        raise ConfigError(f"cannot make a branch name from {name!r}; pass --revision explicitly")
    return ref


def check_revision(revision: str | None) -> str | None:
    if revision is None:
        return None
    clean = sanitize_revision(revision)
    if clean != revision:
        raise ConfigError(f"--revision {revision!r} is not a valid branch name; use {clean!r}")
    return revision


def normalize_subfolder(subfolder: str | None) -> str | None:
    if subfolder is None or subfolder.strip("/") == "":
        return None
    parts = [p for p in subfolder.replace("\\", "/").split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise ConfigError(f"--subfolder {subfolder!r} may not contain '..'")
    return "/".join(parts)


def check_repo_id(repo_id: str) -> str:
    if not isinstance(repo_id, str) or not re.fullmatch(r"[A-Za-z0-9][\w.-]*/[\w.-]+", repo_id or ""):
        raise ConfigError(f"--repo-id {repo_id!r} must look like <user or org>/<name>")
    return repo_id


def join_repo_path(*parts: str | None) -> str:
    return "/".join(p for p in parts if p)
