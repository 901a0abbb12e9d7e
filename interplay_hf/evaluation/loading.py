"""Load the model and tokenizer to evaluate: a local directory or a Hub repo id, with subfolder/revision.

Released checkpoints live in subfolders of one repo (``repo/<setting>/base``), so everything goes
through ``from_pretrained(repo_or_dir, subfolder=..., revision=...)``. Failures a user can cause (no
tokenizer next to the model, repo not cached while offline, wrong subfolder) become ConfigError
with the fix, before any sampling starts.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from interplay_hf.errors import ConfigError
from interplay_hf.models import check_saved_weights

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.json", "tokenizer.model")


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes", "on")


def check_local_model(model: str, subfolder: str | None, tokenizer: str | None) -> Path | None:
    """For a local model directory: the resolved path, after checking config and tokenizer files; None for a repo id."""
    root = Path(model).expanduser()
    if not root.exists():
        if model.startswith((".", "/", "~")) or os.sep in model.strip("/").split("/", 1)[-1]:
            raise ConfigError(f"--model {model!r}: no such directory (a Hub repo id looks like 'owner/name')")
        check_hub_reachable(model, subfolder)
        return None
    path = root / subfolder if subfolder else root
    if not path.is_dir():
        raise ConfigError(f"--subfolder {subfolder!r}: {path} does not exist; list {root} for the available subfolders")
    if not (path / "config.json").is_file() and not is_adapter_dir(path):
        raise ConfigError(
            f"--model {path}: no config.json (nor adapter_config.json); point --model/--subfolder at a saved model "
            "or LoRA adapter (save_pretrained)"
        )
    if tokenizer is None and not any((path / f).is_file() for f in TOKENIZER_FILES):
        raise ConfigError(
            f"--model {path}: no tokenizer files ({', '.join(TOKENIZER_FILES)}); save the tokenizer with the model "
            "or pass --tokenizer <dir>"
        )
    if not is_adapter_dir(path):
        check_saved_weights(path, "--model")
    return path


def check_hub_reachable(repo_id: str, subfolder: str | None, timeout_s: float = 5.0) -> None:
    """A repo that is not in the local cache needs the Hub: if its endpoint does not even accept a connection, say
    so at once (the libraries retry for about a minute and then blame the repo id)."""
    import socket
    from urllib.parse import urlsplit

    from huggingface_hub import constants, try_to_load_from_cache

    from interplay_hf.redact import scrub

    if _offline():
        return
    cached = try_to_load_from_cache(repo_id, f"{subfolder.strip('/')}/config.json" if subfolder else "config.json")
    if isinstance(cached, str):
        return  # loadable from the cache even without a network
    url = urlsplit(constants.ENDPOINT)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        socket.create_connection((url.hostname or "", port), timeout=timeout_s).close()
    except OSError as err:
        raise ConnectionError(scrub(f"cannot reach the Hub at {constants.ENDPOINT} to load {repo_id} (a network "
                                    f"problem, not the repo id: {err.strerror or err}); check the connection or "
                                    "HF_ENDPOINT, or use a local model folder")) from None


def is_adapter_dir(path: Path) -> bool:
    """A PEFT adapter saved without the base weights (GRPO/SFT with ``use_peft``)."""
    return (path / "adapter_config.json").is_file() and not (path / "config.json").is_file()


def _hub_error(what: str, model: str, subfolder: str | None, revision: str | None, err: Exception) -> ConfigError:
    where = model + (f" (subfolder {subfolder!r})" if subfolder else "") + (f" at revision {revision!r}" if revision else "")
    if _offline():
        hint = (f"HF_HUB_OFFLINE=1 and it is not in the local Hugging Face cache; download it first "
                f"(`hf download {model}`{f' --revision {revision}' if revision else ''}) or unset HF_HUB_OFFLINE")
    else:
        hint = "check the repo id, --subfolder and --revision, and that you are logged in for gated repos"
    return ConfigError(f"--model: cannot load the {what} of {where}: {hint}. ({type(err).__name__}: {str(err)[:300]})")


def load_tokenizer(model: str, subfolder: str | None = None, revision: str | None = None, tokenizer: str | None = None):
    """Tokenizer with left padding (for batched generation) and a pad token; refused when it carries the format
    tags at other ids than the released ones, or differs from the one the model's training stage recorded."""
    from interplay_hf.tokenizer import check_special_tokens, check_trained_with, load_saved_tokenizer

    local = check_local_model(model, subfolder, tokenizer)
    source, kwargs = (tokenizer, {}) if tokenizer else (model, {"subfolder": subfolder or "", "revision": revision})
    try:
        tok = load_saved_tokenizer(source, **kwargs)
    except (OSError, ValueError, KeyError) as err:
        raise _hub_error("tokenizer", source, kwargs.get("subfolder"), revision, err) from None
    flag = "--tokenizer" if tokenizer else "--model"
    check_special_tokens(tok, f"{flag} {Path(source) / (kwargs.get('subfolder') or '')}", required=False)
    if local is not None:
        check_trained_with(tok, local, flag)
    tok.padding_side = "left"
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    return tok


def resolve_dtype(dtype: str, device_type: str):
    import torch

    if dtype == "auto":
        return torch.float32 if device_type == "cpu" else "auto"
    return getattr(torch, dtype)


def load_model(model: str, subfolder: str | None = None, revision: str | None = None, dtype: str = "auto",
               device: Any = None):
    """``AutoModelForCausalLM`` in eval mode on ``device``."""
    from transformers import AutoModelForCausalLM

    device_type = getattr(device, "type", "cpu")
    local = Path(model).expanduser() / (subfolder or "")
    if local.is_dir() and is_adapter_dir(local):
        # LoRA adapter: load its base model (named in adapter_config.json) and merge, so sampling runs at full speed.
        from peft import AutoPeftModelForCausalLM

        try:
            m = AutoPeftModelForCausalLM.from_pretrained(str(local), dtype=resolve_dtype(dtype, device_type))
        except (OSError, ValueError, KeyError) as err:
            raise _hub_error("adapter's base model", str(local), None, None, err) from None
        m = m.merge_and_unload()
    else:
        try:
            m = AutoModelForCausalLM.from_pretrained(
                model, subfolder=subfolder or "", revision=revision, dtype=resolve_dtype(dtype, device_type)
            )
        except (OSError, ValueError, KeyError) as err:
            raise _hub_error("model", model, subfolder, revision, err) from None
    if device is not None:
        m = m.to(device)
    return m.eval()


def local_snapshot(model: str, subfolder: str | None, revision: str | None) -> str:
    """A local directory holding the model files (for vLLM, which has no ``subfolder`` argument)."""
    path = check_local_model(model, subfolder, None)
    if path is not None:
        return str(path)
    from huggingface_hub import snapshot_download

    try:
        root = snapshot_download(model, revision=revision, allow_patterns=[f"{subfolder}/*"] if subfolder else None)
    except Exception as err:  # noqa: BLE001 - hub errors have many types; all mean "cannot get the files"
        raise _hub_error("files", model, subfolder, revision, err) from None
    return str(Path(root) / subfolder) if subfolder else root
