"""Shared fixtures: offline settings, the official test vectors, and a tiny Qwen2 + tokenizer."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

# Offline and single-threaded everywhere (GRPO on 2 busy threads ran 30-70x slower than on one).
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("WANDB_DISABLED", "true")

FIXTURES = Path(__file__).parent / "fixtures"
REPO_ROOT = Path(__file__).parent.parent


def read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


@pytest.fixture(scope="session")
def official_rows() -> list[dict]:
    """57 problems from the official generator (ops 2-20 x 3 contexts) with their answers."""
    return read_jsonl(FIXTURES / "official_rows.jsonl")


@pytest.fixture(scope="session")
def official_scored() -> list[dict]:
    """666 completions with the official scorer's verdicts."""
    return read_jsonl(FIXTURES / "official_scored.jsonl")


def _model_texts(rows: list[dict]) -> list[str]:
    from interplay_hf.data.text import make_text

    return [make_text(r["problem"], r["question"], r["solution"]) for r in rows]


@pytest.fixture(scope="session")
def tiny_tokenizer(official_rows):
    """A 600-token byte-level BPE with the released special tokens, trained on official rows."""
    import torch

    torch.set_num_threads(1)
    from interplay_hf.tokenizer import build_tokenizer

    return build_tokenizer(_model_texts(official_rows) * 2, vocab_size=600)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, tiny_tokenizer) -> Path:
    """A saved randomly initialised ~100k-parameter Qwen2 with the tiny tokenizer (loads offline)."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    config = Qwen2Config(
        vocab_size=len(tiny_tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        pad_token_id=tiny_tokenizer.pad_token_id,
        bos_token_id=tiny_tokenizer.bos_token_id,
        eos_token_id=tiny_tokenizer.eos_token_id,
    )
    path = tmp_path_factory.mktemp("tiny_model")
    Qwen2ForCausalLM(config).save_pretrained(path)
    tiny_tokenizer.save_pretrained(path)
    return path
