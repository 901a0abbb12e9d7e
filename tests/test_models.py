"""Model presets: the paper's 100M Qwen2 exactly, and tiny CPU shapes."""

from __future__ import annotations

import pytest

from interplay_hf.errors import ConfigError
from interplay_hf.models import PRESETS, build_model, count_parameters, preset_config


def _meta_count(name: str) -> int:
    import torch

    with torch.device("meta"):
        return count_parameters(build_model(name))


def test_qwen2_100m_is_the_papers_config():
    config = preset_config("qwen2-100m")
    assert config.model_type == "qwen2"
    assert (config.hidden_size, config.num_hidden_layers, config.num_attention_heads) == (768, 12, 12)
    assert (config.num_key_value_heads, config.intermediate_size, config.vocab_size) == (2, 3072, 2200)
    assert config.tie_word_embeddings is True
    assert config.max_position_embeddings == 2048
    assert config.rope_parameters["rope_theta"] == 1_000_000.0


def test_qwen2_100m_has_about_103m_parameters_on_the_meta_device():
    assert _meta_count("qwen2-100m") == 103_170_816


@pytest.mark.parametrize(("name", "low", "high"), [("qwen2-300k", 0.25e6, 0.45e6), ("qwen2-1m", 0.8e6, 1.3e6),
                                                   ("qwen2-5m", 4e6, 6.5e6), ("qwen2-20m", 17e6, 23e6)])
def test_tiny_presets_have_their_nominal_size(name, low, high):
    assert low <= _meta_count(name) <= high


def test_unknown_preset_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown model preset 'qwen2-7b'"):
        preset_config("qwen2-7b")
    assert "qwen2-1m" in PRESETS


def test_build_model_follows_the_tokenizer_and_the_seed(tiny_tokenizer):
    import torch

    a = build_model("qwen2-300k", tokenizer=tiny_tokenizer, seed=3)
    b = build_model("qwen2-300k", tokenizer=tiny_tokenizer, seed=3)
    assert a.config.vocab_size == len(tiny_tokenizer)
    assert a.config.eos_token_id == 3 and a.config.pad_token_id == 1
    assert a.generation_config.eos_token_id == [3, 9]  # sampling stops at </answer>
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
