"""Shared fixtures: offline settings, the official test vectors, and a tiny Qwen2 + tokenizer."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

# Offline and single-threaded everywhere (GRPO on 2 busy threads ran 30-70x slower than on one).
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("WANDB_DISABLED", "true")
# The on-disk cache of deterministic values (evaluation/cache.py): a fresh one per test process, never ~/.cache.
os.environ["INTERPLAY_HF_CACHE"] = tempfile.mkdtemp(prefix="interplay-hf-cache-")

FIXTURES = Path(__file__).parent / "fixtures"
REPO_ROOT = Path(__file__).parent.parent


# --- the real command line, as a user runs it (a subprocess per call) ---------------------------------------------


def cli(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """``interplay-hf ARGS`` in a subprocess; generous timeout (the machine may be loaded), pipes drained."""
    full_env = {k: v for k, v in os.environ.items() if k != "INTERPLAY_DEBUG"}
    full_env.update({"HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO_ROOT), **(env or {})})
    return subprocess.run([sys.executable, "-m", "interplay_hf.cli", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


def assert_one_line_error(result: subprocess.CompletedProcess, code: int, *needles: str) -> str:
    """The documented exit code, one line on stderr holding every needle, no traceback."""
    err = result.stderr.strip()
    assert result.returncode == code, (result.returncode, result.stderr[-2000:])
    assert "Traceback" not in result.stderr + result.stdout
    assert len(err.splitlines()) == 1, err
    for needle in needles:
        assert needle in err, err
    return err


def snapshot(root: Path) -> dict[str, tuple[str, int]]:
    """Every file under ``root`` with its SHA-256 and mtime: 'nothing touched' is equality of two snapshots."""
    return {str(p.relative_to(root)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file() and not p.is_symlink()}


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


def make_results(model: str = "runs/ctx/rl") -> dict:
    """A results.json as the evaluation stage writes it (docs/results-schema.md), with distinct numbers."""

    def block(n, base):
        return {
            "num_problems": n,
            "outcome_pass@k": {"1": base + 0.2, "4": base + 0.3},
            "process_pass@k": {"1": base + 0.01234, "4": base + 0.1},
            "process_pass@k_first": {"1": base, "4": base + 0.09},
            "chance_pass@k": {"1": 0.0123, "4": 0.0456},
            "greedy_outcome_pass@1": None,
            "greedy_process_pass@1": None,
            "process_accuracy": base,
            "error_counts": {"missing": 1},
            "num_samples": 4 * n,
            "truncated": 0,
        }

    return {
        "model": model,
        "subfolder": None,
        "revision": None,
        "data": "runs/ctx/eval-data",
        "split": None,
        "n": 4,
        "k": [1, 4],
        "sampling": {"temperature": 0.7, "top_p": 1.0, "max_new_tokens": 128, "seed": 0, "backend": "hf"},
        "regimes": {"ID": [2, 10], "OOD-edge": [11, 14], "OOD-hard": [15, 20]},
        "chance": {"source": "generated (1000 problems)", "estimator": "1 - (1 - p(answer))^k, p per op"},
        "intervals": None,
        "versions": {"interplay-hf": "0.1.0"},
        "run": {"num_processes": 1},
        "problems": [],
        "summary": {
            "overall": block(30, 0.3),
            "per_op": {},
            "per_context": {"zoo": block(15, 0.4), "teacher": block(15, 0.2)},
            "per_regime": {"ID": block(10, 0.6), "OOD-edge": block(10, 0.25), "OOD-hard": block(10, 0.05)},
            "per_context_op": {},
        },
    }


def results_from_records(records: list[dict], *, model: str = "m", n: int = 8, ks=(1, 8),
                         regimes: dict | None = None, intervals=None) -> dict:
    """A results.json with every key of its schema around per-problem ``records``; the summary is computed."""
    from interplay_hf.evaluation.aggregate import summarize
    from interplay_hf.evaluation.passk import DEFAULT_REGIMES

    regimes = regimes or DEFAULT_REGIMES
    return {
        "model": model, "subfolder": None, "revision": None, "data": "synthetic", "split": None, "n": n,
        "k": list(ks), "sampling": {"temperature": 0.7, "top_p": 1.0, "max_new_tokens": 64, "seed": 0, "backend": "hf"},
        "regimes": regimes, "chance": {"source": "generated", "estimator": "1 - (1 - p(answer))^k, p per op"},
        "intervals": intervals.record() if intervals is not None else None, "versions": {}, "run": {},
        "problems": records, "summary": summarize(records, ks, regimes, intervals),
    }


def assert_schema(value: dict, schema) -> None:
    """Exactly the keys of a TypedDict of an output schema: every required one, nothing it does not name."""
    assert schema.__required_keys__ <= set(value) <= schema.__required_keys__ | schema.__optional_keys__, (
        sorted(set(value) ^ schema.__required_keys__))
