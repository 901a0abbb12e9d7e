"""Resolving and loading the official released checkpoints by alias or path (the table is ``catalogue.py``).

An alias (``ctx-0.01-base``) or a ``<repo>/<setting>/...`` path becomes a :class:`ReleasedCheckpoint`: exact
entries directly, inferred ones with a warning, paths that fit a known layout as ``uncatalogued`` (refused with
``strict=True``), and anything else a ConfigError with the closest names. Pure Python until :func:`load_released`.
"""

from __future__ import annotations

import difflib
import re
import warnings
from pathlib import Path
from typing import Any

from interplay_hf.errors import ConfigError
from interplay_hf.hub.catalogue import (
    BY_ALIAS,
    BY_PATH,
    CATALOGUE,
    ORG,
    REPOS,
    ReleasedCheckpoint,
    UncataloguedCheckpointWarning,
    uncatalogued_entry,
)


def list_released(repo: str | None = None, *, include_inferred: bool = True) -> list[ReleasedCheckpoint]:
    """The catalogue, optionally restricted to one repo (short or full id)."""
    entries = list(CATALOGUE)
    if repo is not None:
        name = _strip_org(repo).strip("/")
        if name not in REPOS:
            raise ConfigError(f"unknown released repo {repo!r} (--repo); choose one of {sorted(REPOS)}")
        entries = [e for e in entries if e.repo_name == name]
    if not include_inferred:
        entries = [e for e in entries if e.status == "confirmed"]
    return entries


def _strip_org(name: str) -> str:
    for prefix in (f"{ORG}/", f"hf://{ORG}/", f"https://huggingface.co/{ORG}/"):
        if name.lower().startswith(prefix.lower()):
            return name[len(prefix) :]
    return name


def _suggest(name: str, candidates: list[str], n: int = 4) -> str:
    close = difflib.get_close_matches(name, candidates, n=n, cutoff=0.5)
    if not close:
        return ""
    return " Did you mean: " + ", ".join(repr(c) for c in close) + "?"


def resolve_released(name: str, *, strict: bool = False) -> ReleasedCheckpoint:
    """Resolve an alias (``ctx-0.01-base``) or a path (``context_pretrain/idzoo_0.99zoo_0.01teacher/base``,
    with or without the ``Interplay-LM-Reasoning/`` prefix) to a :class:`ReleasedCheckpoint`.

    Inferred entries resolve with an :class:`UncataloguedCheckpointWarning`. A path not in the
    catalogue that fits a known repo's layout under a known setting resolves with the same warning
    (``status="uncatalogued"``), or raises ConfigError when ``strict``. Anything else raises ConfigError
    with the closest known names.
    """
    if not isinstance(name, str) or not name.strip():
        raise ConfigError("--released needs an alias or a <repo>/<subfolder> path; see `interplay-hf released list`")
    key = name.strip()
    if key in BY_ALIAS:
        return _checked(BY_ALIAS[key], strict)
    path = _strip_org(key).strip("/")
    path = re.sub(r"/+", "/", path)
    if path in BY_PATH:
        return _checked(BY_PATH[path], strict)
    if "/" not in path:
        raise ConfigError(
            f"unknown released checkpoint alias {name!r}.{_suggest(key, list(BY_ALIAS))} "
            "List them with `interplay-hf released list`, or give a <repo>/<subfolder> path."
        )
    repo_name, subfolder = path.split("/", 1)
    if repo_name not in REPOS:
        raise ConfigError(
            f"unknown released repo {repo_name!r} in {name!r}; the released repos are "
            f"{', '.join(sorted(REPOS))}.{_suggest(repo_name, list(REPOS))}"
        )
    repo = REPOS[repo_name]
    setting, _, rest = subfolder.partition("/")
    if setting not in repo.settings:
        return _raise_unknown_path(name, repo_name, subfolder, f"unknown setting {setting!r} for {repo_name}")
    if not any(re.fullmatch(pattern, rest) for pattern in repo.layout) or ".." in rest.split("/"):
        return _raise_unknown_path(name, repo_name, subfolder, f"{rest!r} does not fit the layout of {repo_name}")
    entry = uncatalogued_entry(repo, setting, rest)
    if strict:
        raise ConfigError(
            f"released checkpoint {name!r} is not in the catalogue ({repo.notes}).{_suggest(path, list(BY_PATH))} "
            "Allow it explicitly (drop --strict / pass strict=False) if you know the folder exists."
        )
    warnings.warn(
        f"{entry.repo_id} subfolder {entry.subfolder!r} is not in the catalogue ({repo.notes}); using it as given. "
        f"If it is a typo, the closest catalogued paths are: {', '.join(difflib.get_close_matches(path, list(BY_PATH), n=3, cutoff=0.3)) or 'none'}.",
        UncataloguedCheckpointWarning,
        stacklevel=2,
    )
    return entry


def _checked(entry: ReleasedCheckpoint, strict: bool) -> ReleasedCheckpoint:
    if entry.status == "inferred":
        if strict:
            raise ConfigError(f"released checkpoint {entry.name!r} is inferred, not confirmed ({entry.source}); drop strict to use it")
        warnings.warn(
            f"{entry.name} ({entry.repo_id} / {entry.subfolder}) is an inferred catalogue entry: {entry.source}.",
            UncataloguedCheckpointWarning,
            stacklevel=3,
        )
    return entry


def _raise_unknown_path(name: str, repo_name: str, subfolder: str, why: str) -> ReleasedCheckpoint:
    known = [p.split("/", 1)[1] for p in BY_PATH if p.startswith(repo_name + "/")]
    raise ConfigError(
        f"released checkpoint {name!r}: {why}.{_suggest(subfolder, known)} "
        f"Known folders of {repo_name}: see `interplay-hf released list --repo {repo_name}`."
    )


def resolve_released_eval(values: dict[str, Any]) -> dict[str, Any]:
    """Evaluation settings (``EvalConfig`` keywords) with ``released`` turned into what evaluation understands.

    ``model``, ``subfolder`` and ``revision`` come from the catalogue and, unless ``data`` is given, the eval set is
    the paper's eval recipe on the checkpoint's ops and contexts. Evaluation never sees the catalogue: the
    command line calls this before building its config (docs/architecture.md).
    """
    name = values.get("released")
    if not name:
        return values
    if values.get("model"):
        raise ConfigError("give either --released or --model, not both")
    from interplay_hf.evaluation.config import PAPER_EVAL_RECIPE

    ckpt = resolve_released(name)
    resolved = {**values, "model": ckpt.repo_id, "subfolder": ckpt.subfolder,
                "revision": values.get("revision") or ckpt.revision}
    if values.get("data") is None:
        if not PAPER_EVAL_RECIPE.is_file():
            raise ConfigError(f"--released {name}: pass --data (the eval recipe {PAPER_EVAL_RECIPE} "
                              "is only in a source checkout)")
        resolved["data"] = str(PAPER_EVAL_RECIPE)
        resolved["ops"] = values.get("ops") or list(ckpt.eval_ops)
        resolved["contexts"] = values.get("contexts") or list(ckpt.eval_contexts)
    return resolved


def format_catalogue(entries: list[ReleasedCheckpoint] | None = None) -> str:
    """A plain-text table for ``interplay-hf released list``."""
    entries = list(CATALOGUE) if entries is None else entries
    rows = [("alias", "repo", "subfolder", "stage", "eval contexts", "nominal (RL steps/mid share)", "status")]
    for e in entries:
        nominal = ", ".join(f"{s}/{b:g}" for s, b in e.nominal)
        rows.append((e.alias or "-", e.repo_name, e.subfolder, e.stage, ",".join(e.eval_contexts), nominal, e.status))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append("")
    lines.append(f"repos: {', '.join(f'{ORG}/{r}' for r in REPOS)}; eval ops 2-20 for all (regimes ID 2-10, OOD-edge 11-14, OOD-hard 15-20).")
    lines.append("status: confirmed = named in docs/paper-settings.md / the release README; inferred = follows the layout, not named.")
    lines.append("Other folders: pass <repo>/<setting>/<rest> (accepted with a warning when it fits the repo's layout).")
    return "\n".join(lines)


def load_released(
    name: str | ReleasedCheckpoint,
    *,
    local_root: str | Path | None = None,
    revision: str | None = None,
    dtype: Any = None,
    strict: bool = False,
):
    """Load a released checkpoint as ``(model, tokenizer)``: safetensors only, no remote code.

    ``local_root`` points at a local mirror laid out like the Hub (``<root>/<repo name>/<subfolder>``),
    e.g. a ``hf download`` of the repos; without it the files come from the Hub (or its cache).
    """
    entry = name if isinstance(name, ReleasedCheckpoint) else resolve_released(name, strict=strict)
    from transformers import AutoModelForCausalLM

    from interplay_hf.tokenizer import check_special_tokens, load_saved_tokenizer

    source = str(Path(local_root) / entry.repo_name) if local_root is not None else entry.repo_id
    if local_root is not None and not (Path(source) / entry.subfolder).is_dir():
        raise ConfigError(
            f"local_root={str(local_root)!r} has no folder {entry.repo_name}/{entry.subfolder}; "
            "lay it out like the Hub repo (<root>/<repo name>/<subfolder>/config.json ...)"
        )
    kwargs: dict[str, Any] = {"subfolder": entry.subfolder, "trust_remote_code": False}
    if revision or entry.revision:
        kwargs["revision"] = revision or entry.revision
    try:
        tokenizer = load_saved_tokenizer(source, **kwargs)
        check_special_tokens(tokenizer, f"{entry.repo_id}/{entry.subfolder}")
        model_kwargs = dict(kwargs, use_safetensors=True)
        if dtype is not None:
            model_kwargs["dtype"] = dtype
        model = AutoModelForCausalLM.from_pretrained(source, **model_kwargs)
    except OSError as err:
        raise ConfigError(_load_error_message(entry, source, err)) from err
    return model, tokenizer


def _load_error_message(entry: ReleasedCheckpoint, source: str, err: Exception) -> str:
    from huggingface_hub import constants

    where = f"{entry.repo_id} (subfolder {entry.subfolder!r})"
    first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    if constants.HF_HUB_OFFLINE and source == entry.repo_id:
        return (
            f"cannot load released checkpoint {entry.name!r} from {where}: HF_HUB_OFFLINE=1 is set and its files "
            f"are not in the local Hugging Face cache. Unset HF_HUB_OFFLINE (needs network), or download it first: "
            f"`hf download {entry.repo_id} --include '{entry.subfolder}/*'`. ({first_line})"
        )
    return f"cannot load released checkpoint {entry.name!r} from {source} (subfolder {entry.subfolder!r}): {first_line}"
