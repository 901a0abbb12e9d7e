"""Model presets: the paper's 100M Qwen2 and tiny shapes that train on a laptop CPU.

A recipe names either a preset (random init, from scratch) or any Hub/local model id.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from interplay_hf.errors import ConfigError


@dataclass(frozen=True)
class ModelPreset:
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    intermediate_size: int
    help: str


# qwen2-100m is the paper's configuration (SPEC §5); the others keep its proportions (GQA, tied
# embeddings, rope θ 1e6) at CPU-friendly sizes. Parameter counts are with the 2,200-token vocabulary.
PRESETS: dict[str, ModelPreset] = {
    "qwen2-100m": ModelPreset(768, 12, 12, 2, 3072, "the paper's model (~103M parameters)"),
    "qwen2-20m": ModelPreset(384, 9, 6, 2, 1536, "~20M parameters: a GPU-minutes model"),
    "qwen2-5m": ModelPreset(256, 6, 4, 2, 768, "~5M parameters: the largest practical CPU size"),
    "qwen2-1m": ModelPreset(128, 4, 4, 2, 384, "~1M parameters: CPU quickstart and tests"),
    "qwen2-300k": ModelPreset(64, 4, 4, 2, 192, "~0.3M parameters: seconds-long CPU tests"),
}
MAX_POSITION_EMBEDDINGS = 2048
ROPE_THETA = 1_000_000.0


def preset_config(name: str, tokenizer: Any | None = None, vocab_size: int = 2200):
    """The ``Qwen2Config`` of a preset; special-token ids come from ``tokenizer`` when given."""
    from transformers import Qwen2Config

    if name not in PRESETS:
        raise ConfigError(f"unknown model preset {name!r}; choose one of {sorted(PRESETS)} or give a Hub/local model id")
    preset = PRESETS[name]
    token_ids: dict[str, Any] = {"pad_token_id": 1, "bos_token_id": 2, "eos_token_id": 3}
    if tokenizer is not None:
        vocab_size = len(tokenizer)
        token_ids = {
            "pad_token_id": tokenizer.pad_token_id,
            "bos_token_id": tokenizer.bos_token_id,
            "eos_token_id": tokenizer.eos_token_id,
        }
    return Qwen2Config(
        vocab_size=vocab_size,
        hidden_size=preset.hidden_size,
        intermediate_size=preset.intermediate_size,
        num_hidden_layers=preset.num_hidden_layers,
        num_attention_heads=preset.num_attention_heads,
        num_key_value_heads=preset.num_key_value_heads,
        max_position_embeddings=MAX_POSITION_EMBEDDINGS,
        rope_parameters={"rope_type": "default", "rope_theta": ROPE_THETA},
        tie_word_embeddings=True,
        **token_ids,
    )


def build_model(
    name: str, tokenizer: Any | None = None, seed: int = 0, dtype: Any = None, attn_implementation: str | None = None
):
    """A freshly initialised ``Qwen2ForCausalLM`` for preset ``name`` (same seed → same weights).

    Works under ``with torch.device("meta"):`` too, for counting parameters without allocating them.
    """
    import torch
    from transformers import Qwen2ForCausalLM

    config = preset_config(name, tokenizer)
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config)
    if attn_implementation is not None:
        model.set_attn_implementation(attn_implementation)
    dtype = _torch_dtype(dtype)
    if dtype is not None:
        model = model.to(dtype)
    if tokenizer is not None:
        from interplay_hf.tokenizer import stop_token_ids

        # Sampling stops at </answer> as in the official evaluation (docs/evaluation.md §1); saved with the model.
        model.generation_config.eos_token_id = stop_token_ids(tokenizer)
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model


def _torch_dtype(dtype: Any):
    """``"bfloat16"``/``torch.bfloat16`` → ``torch.bfloat16``; ``None``/``"auto"`` → ``None`` (keep float32)."""
    import torch

    if dtype is None or dtype == "auto":
        return None
    if isinstance(dtype, str):
        if not isinstance(getattr(torch, dtype, None), torch.dtype):
            raise ConfigError(f"dtype={dtype!r} is not a torch dtype; use float32, bfloat16 or float16.")
        return getattr(torch, dtype)
    return dtype


def load_pretrained(
    model_id: str,
    subfolder: str | None = None,
    revision: str | None = None,
    dtype: Any = None,
    trust_remote_code: bool = False,
    attn_implementation: str | None = None,
):
    """``AutoModelForCausalLM.from_pretrained`` with our safety defaults: safetensors only, no remote code."""
    from transformers import AutoModelForCausalLM

    kwargs: dict[str, Any] = {
        "revision": revision or "main",
        "trust_remote_code": trust_remote_code,
        "use_safetensors": True,
        "dtype": dtype if dtype == "auto" else _torch_dtype(dtype),
    }
    if subfolder:
        kwargs["subfolder"] = subfolder
    if attn_implementation is not None:
        kwargs["attn_implementation"] = attn_implementation
    return AutoModelForCausalLM.from_pretrained(model_id, **{k: v for k, v in kwargs.items() if v is not None})


def count_parameters(model: Any) -> int:
    """Unique parameters (tied embeddings counted once; works on meta-device models)."""
    return sum(p.numel() for p in model.parameters())


def safetensors_shapes(path: Path, field_name: str = "weights") -> dict[str, list[int]]:
    """Tensor name -> shape from a safetensors file's header (no tensor is read, no torch). A truncated or corrupt
    file (a copy cut short, a save killed half-way) is one ConfigError line naming it, not a library traceback."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="np") as handle:
            return {name: list(handle.get_slice(name).get_shape()) for name in handle.keys()}
    except Exception as err:  # noqa: BLE001 - safetensors raises its own error type (and OSError) for bad files
        reason = " ".join(str(err).split()) or type(err).__name__
        raise ConfigError(f"{field_name}: {path} is not a readable safetensors file ({reason}); re-save or copy the "
                          "weights again.") from None


def safetensors_parameters(stage_dir: Path) -> int | None:
    """Parameter count from the safetensors headers (no torch): tied weights are stored once."""
    files = sorted(stage_dir.glob("*.safetensors"))
    total = sum(math.prod(shape) for path in files for shape in safetensors_shapes(path).values())
    return total if files else None


# Shape fields of a transformers config: a value that is not a positive integer fails deep inside model init.
_CONFIG_SIZES = ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                 "num_key_value_heads", "max_position_embeddings", "head_dim")


def check_saved_weights(folder: Path, field_name: str) -> None:
    """A saved model's config and every safetensors header, checked before any rank loads it: a bad size or a
    truncated file (a copy cut short, a save killed half-way) is one line now, not a traceback in every rank."""
    check_model_config(folder, field_name)
    for weights in sorted(folder.glob("*.safetensors")):
        safetensors_shapes(weights, field_name)


def check_model_config(folder: Path, field_name: str) -> None:
    """A saved model's ``config.json`` is strict JSON with positive integer sizes (``hidden_size: -5`` would
    fail as a tensor-shape traceback after loading starts)."""
    from interplay_hf.inputs import loads_strict

    path = folder / "config.json"
    try:
        config = loads_strict(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise ConfigError(f"{field_name}: {path} is not valid JSON ({err}); re-save the model.") from None
    if not isinstance(config, dict):
        raise ConfigError(f"{field_name}: {path} is not a model config (a JSON object); re-save the model.")
    for key in _CONFIG_SIZES:
        value = config.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value <= 0):
            raise ConfigError(f"{field_name}: {path} has {key} = {value!r}; it must be a positive integer (re-save "
                              "the model or fix its config.json).")
