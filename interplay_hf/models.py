"""Model presets: the paper's 100M Qwen2 and tiny shapes that train on a laptop CPU.

A recipe names either a preset (random init, from scratch) or any Hub/local model id.
"""

from __future__ import annotations

from dataclasses import dataclass
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
}
MAX_POSITION_EMBEDDINGS = 2048
ROPE_THETA = 1_000_000.0


def is_preset(name: str) -> bool:
    return name in PRESETS


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


def build_model(name: str, tokenizer: Any | None = None, seed: int = 0, dtype: Any = None):
    """A freshly initialised ``Qwen2ForCausalLM`` for preset ``name`` (same seed → same weights)."""
    import torch
    from transformers import Qwen2ForCausalLM

    config = preset_config(name, tokenizer)
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config)
    if dtype is not None:
        model = model.to(dtype)
    return model


def count_parameters(model: Any) -> int:
    """Unique parameters (tied embeddings counted once)."""
    return sum(p.numel() for p in model.parameters())
