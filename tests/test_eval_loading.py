"""Model sources the evaluator accepts: released checkpoints by name, and LoRA adapter directories."""

from __future__ import annotations

import argparse

import pytest

from interplay_hf.errors import ConfigError
from interplay_hf.evaluation.cli import resolve_released_args
from interplay_hf.evaluation.config import PAPER_EVAL_RECIPE, EvalConfig
from interplay_hf.hub.released import resolve_released, resolve_released_eval


def released_config(**values) -> EvalConfig:
    return EvalConfig(**resolve_released_eval(values))


def test_released_alias_sets_repo_subfolder_and_matching_eval_set(tmp_path):
    cfg = released_config(output_dir=str(tmp_path), released="ctx-0.01-base", n=4)
    ckpt = resolve_released("ctx-0.01-base")
    assert (cfg.model, cfg.subfolder) == (ckpt.repo_id, ckpt.subfolder)
    assert cfg.data == str(PAPER_EVAL_RECIPE)
    assert cfg.ops == sorted(ckpt.eval_ops) and cfg.contexts == list(ckpt.eval_contexts)


def test_released_keeps_explicit_data_and_ops(tmp_path):
    cfg = released_config(output_dir=str(tmp_path), released="ctx-0.01-base", data="my.jsonl", ops="11-14", n=4)
    assert cfg.data == "my.jsonl" and cfg.ops == [11, 12, 13, 14]


def test_released_and_model_together_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="either --released or --model"):
        released_config(output_dir=str(tmp_path), released="ctx-0.01-base", model="x/y", n=4)


def test_unknown_released_name_suggests_close_names(tmp_path):
    with pytest.raises(ConfigError, match="ctx-0.01-base"):
        released_config(output_dir=str(tmp_path), released="ctx-0.01-bse", n=4)


def test_the_command_line_resolves_released_and_evaluation_refuses_an_unresolved_name(tmp_path):
    args = argparse.Namespace(output_dir=str(tmp_path), released="ctx-0.01-base", model=None, subfolder=None,
                              revision=None, data=None, ops=None, contexts=None, n=4)
    resolved = resolve_released_args(args)
    assert resolved.model == resolve_released("ctx-0.01-base").repo_id and resolved.n == 4
    with pytest.raises(ConfigError, match="--released ctx-0.01-base: not resolved"):
        EvalConfig(output_dir=str(tmp_path), released="ctx-0.01-base", n=4)


def test_lora_adapter_dir_loads_merged_onto_its_base(tmp_path, tiny_model_dir, tiny_tokenizer):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from interplay_hf.evaluation.loading import load_model, load_tokenizer

    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    peft_model = get_peft_model(base, LoraConfig(r=2, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    adapter = tmp_path / "adapter"
    peft_model.save_pretrained(adapter)
    tiny_tokenizer.save_pretrained(adapter)
    ids = torch.tensor([[4, 10, 11, 12]])
    with torch.no_grad():
        expected = peft_model(ids).logits
    merged = load_model(str(adapter))
    assert not hasattr(merged, "peft_config")  # merged into plain weights
    with torch.no_grad():
        torch.testing.assert_close(merged(ids).logits, expected, rtol=1e-4, atol=1e-4)
    assert load_tokenizer(str(adapter)).padding_side == "left"


def test_edge_rl_recipe_keeps_chat_prompts_for_chat_models():
    from interplay_hf.data.recipe import recipe_from_dict
    from interplay_hf.evaluation.edge import rl_data_recipe

    assert recipe_from_dict(rl_data_recipe([4, 5], ["zoo"], 10, 1, chat=True)).prompt_format == "chat"
    assert recipe_from_dict(rl_data_recipe([4, 5], ["zoo"], 10, 1)).prompt_format == "plain"
