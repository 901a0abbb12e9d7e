"""The paper-scale recipes carry the official configuration (recipes/paper/README.md cites each source)."""

from __future__ import annotations

from pathlib import Path

import pytest

from interplay_hf.pipeline.plan import build_plan
from interplay_hf.train.config import parse_stage_args

REPO = Path(__file__).resolve().parent.parent
GRPO_100M = sorted((REPO / "recipes/train").glob("grpo_qwen2-100m*.yaml"))
SFT_100M = sorted((REPO / "recipes/train").glob("*train_qwen2-100m*.yaml"))


def _parse(stage: str, path: Path, *overrides: str):
    """The real parser; GPU-only flags (bf16, vLLM) are switched off so that a CPU machine checks the rest."""
    import torch

    gpu_off = [] if torch.cuda.is_available() else ["--use_cpu", "true", "--use_vllm", "false"][: 4 if stage == "grpo" else 2]
    return parse_stage_args(stage, ["--config", str(path), *gpu_off, *overrides], check_paths=False)


@pytest.mark.parametrize("path", GRPO_100M, ids=lambda p: p.stem)
def test_paper_grpo_recipes_use_the_official_verl_settings(path):
    script, train, _ = _parse("grpo", path)
    # verl compute_score (the answer string) for extrapolation RL; the mid-training + RL runs (cpt-rl yamls) use
    # compute_score_with_step_process with zero_on_process_mismatch: our strict reward
    assert script.reward_funcs == (["strict"] if path.stem.endswith(("_light", "_medium", "_heavy")) else ["outcome"])
    assert train.weight_decay == 0.01 and train.adam_beta1 == 0.9 and train.adam_beta2 == 0.999
    assert train.delta == 3.0 and train.epsilon == 0.2 and train.loss_type == "dapo"
    assert script.stop_at_answer_close is False  # rollouts run to EOS
    assert train.learning_rate == 1e-6 and train.beta == 0.001 and train.num_generations == 6


@pytest.mark.parametrize("path", SFT_100M, ids=lambda p: p.stem)
def test_paper_sft_recipes_use_the_transformers_adam_defaults_as_llama_factory_does(path):
    _, train, _ = _parse("sft", path)
    assert (train.adam_beta1, train.adam_beta2, train.weight_decay) == (0.9, 0.999, 0.1)


def test_rewards_per_paper_pipeline(tmp_path):
    """Outcome-only where the official runs were (extrapolation), strict where they were (mid-training + RL, context)."""
    def rewards(name: str) -> dict[str, list[str]]:
        plan = build_plan(REPO / f"recipes/paper/{name}/pipeline.yaml", tmp_path)
        out = {}
        for stage in plan.stages:
            if stage.type == "grpo":
                script, _, _ = _parse("grpo", REPO / stage.recipe, *_flags({**stage.args, **(stage.recipe_overrides or {})}))
                out[stage.name] = script.reward_funcs
        return out

    assert set(map(tuple, rewards("extrapolation").values())) == {("outcome",)}
    assert set(map(tuple, rewards("midtrain_vs_rl").values())) == {("strict",)}
    assert set(map(tuple, rewards("context").values())) == {("strict",)}
    assert sorted(map(tuple, rewards("process_reward").values())) == [
        ("mixed",), ("mixed",), ("mixed",), ("outcome",), ("strict",)]


def _flags(args: dict) -> list[str]:
    import json

    words: list[str] = []
    for key in ("reward_funcs", "reward_kwargs"):
        if key in args:
            value = args[key]
            words += [f"--{key}", *value] if isinstance(value, list) else [f"--{key}", json.dumps(value)]
    return words


def test_rollouts_end_at_eos_when_the_recipe_says_so(tiny_tokenizer):
    """A checkpoint saved with ``</answer>`` as a stop keeps only EOS once stop_at_answer_close is false."""
    from types import SimpleNamespace

    from interplay_hf.train.common import model_from_args

    model_args = SimpleNamespace(model_name_or_path=None, dtype=None, attn_implementation=None, model_revision=None)
    training_args = SimpleNamespace(seed=0, trust_remote_code=False)
    stops = model_from_args(SimpleNamespace(model_preset="qwen2-300k", model_subfolder=None, stop_at_answer_close=True),
                       model_args, training_args, tiny_tokenizer)
    eos_only = model_from_args(SimpleNamespace(model_preset="qwen2-300k", model_subfolder=None,
                                          stop_at_answer_close=False), model_args, training_args, tiny_tokenizer)
    assert stops.generation_config.eos_token_id == [3, 9]
    assert eos_only.generation_config.eos_token_id == [tiny_tokenizer.eos_token_id] == [3]


def test_a_sample_budget_measures_the_mean_document_length(tiny_tokenizer):
    """Mid-training counts documents (max_train_samples); the mean length of a `text` column must be measurable."""
    from datasets import Dataset

    from interplay_hf.train.common import mean_document_tokens

    texts = ["<question> a </question> <solution> b </solution>", "<question> c </question>"]
    mean = mean_document_tokens(Dataset.from_dict({"text": texts}), tiny_tokenizer, "text")
    expected = sum(len(tiny_tokenizer(t, add_special_tokens=False)["input_ids"]) + 1 for t in texts) / 2
    assert mean == expected


def test_bfd_packing_keeps_every_document_whole_and_masks_per_document(tiny_tokenizer):
    """Paper recipes pack whole documents (the official bins never split one); attention restarts per document."""
    from datasets import Dataset

    from interplay_hf.train.packing import DocumentMaskCollator, pack_whole_documents

    texts = [f"<question> q{i} </question> <solution> Define x as {i}; so x = {i}. </solution>" * (1 + i % 4)
             for i in range(40)]
    packed = pack_whole_documents(Dataset.from_dict({"text": texts}), tiny_tokenizer, "text", max_length=128)
    eos = tiny_tokenizer.eos_token_id
    documents = []
    for row in packed["input_ids"]:
        assert len(row) <= 128 and row[-1] == eos  # a row ends where its last document ends
        start = 0
        for i, token in enumerate(row):
            if token == eos:
                documents.append(tiny_tokenizer.decode(row[start:i]))
                start = i + 1
    assert sorted(documents) == sorted(texts)  # each document once, in one piece
    assert len(packed) < len(texts)  # ... several to a row
    batch = DocumentMaskCollator(pad_token_id=tiny_tokenizer.pad_token_id, eos_token_id=eos)(
        [{"input_ids": packed[0]["input_ids"]}])
    first_doc = packed[0]["input_ids"].index(eos) + 1
    assert batch["position_ids"][0, first_doc].item() == 0 and batch["labels"][0, first_doc].item() == -100
