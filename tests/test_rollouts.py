"""GRPO rollouts through our decode loop (train/rollouts.py) and the in-place KV cache (decoding/kv_cache.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROWS = [json.loads(line) for line in (Path(__file__).parent / "fixtures" / "official_rows.jsonl").read_text().splitlines()]


def _prompt(row: dict) -> str:
    return f"<question> {(row['problem'].strip() + ' ' + row['question'].strip()).strip()} </question> <solution>"


def _trainer(model_dir, tmp_path, rewards, **overrides):
    from datasets import Dataset
    from transformers import AutoTokenizer
    from trl import GRPOConfig

    from interplay_hf.train.rollouts import DecodeLoopGRPOTrainer

    settings = dict(output_dir=str(tmp_path / "out"), per_device_train_batch_size=4, num_generations=4,
                    max_completion_length=10, max_steps=2, learning_rate=1e-5, logging_steps=1, save_strategy="no",
                    report_to="none", use_cpu=True, bf16=False, seed=0, dataloader_num_workers=0, temperature=0.9)
    settings.update(overrides)
    dataset = Dataset.from_list([{"prompt": _prompt(r)} for r in ROWS[:4]])
    return DecodeLoopGRPOTrainer(model=str(model_dir), reward_funcs=rewards, args=GRPOConfig(**settings),
                                 train_dataset=dataset, processing_class=AutoTokenizer.from_pretrained(model_dir))


def test_rollouts_are_the_samples_model_generate_draws(tiny_model_dir, tmp_path):
    """A rollout batch (4 generations of 2 prompts) equals ``model.generate`` with the same per-row counter draws
    as a logits processor, cut after the EOS as TRL cuts it."""
    import torch
    from transformers import LogitsProcessorList

    from interplay_hf.decoding.draw import CounterSampler, sample_seed
    from interplay_hf.decoding.loop import left_pad

    trainer = _trainer(tiny_model_dir, tmp_path, [lambda completions, **kw: [0.0] * len(completions)],
                       max_completion_length=24)
    assert trainer.decode_loop_refusal() is None
    tok = trainer.processing_class
    prompts = [ids for r in ROWS[:2] for ids in [tok(_prompt(r))["input_ids"]] * 4]
    ours, logprobs = trainer._generate_single_turn(prompts, None, {}, 4)
    assert logprobs is None and len(ours) == 8 and len({tuple(c) for c in ours}) > 2

    stream = f"grpo/0/1/{trainer.accelerator.process_index}"  # the first rollout call of step 0
    seeds = torch.tensor([sample_seed(0, stream, row) for row in range(8)])
    input_ids, mask = left_pad(prompts, tok.pad_token_id, "cpu")
    model = trainer.model
    with torch.no_grad():
        out = model.generate(input_ids=input_ids, attention_mask=mask, do_sample=False, max_new_tokens=24,
                             eos_token_id=trainer.eos_token_ids, pad_token_id=tok.pad_token_id,
                             logits_processor=LogitsProcessorList([CounterSampler(seeds, input_ids.shape[1], 0.9)]))
    reference = []
    for row in out[:, input_ids.shape[1]:].tolist():
        ends = [i for i, t in enumerate(row) if t in trainer.eos_token_ids]
        reference.append(row[: ends[0] + 1] if ends else row)
    assert ours == reference


@pytest.mark.slow
def test_grpo_trains_with_decode_loop_rollouts_reproducibly_and_falls_back_when_it_must(tiny_model_dir, tmp_path):
    seen: dict[str, list] = {"a": [], "b": [], "top_k": []}

    def spy(key):
        def reward(completions, **kwargs):
            seen[key].append(list(completions))
            return [float(len(c) % 3) for c in completions]
        return reward

    for key in ("a", "b"):
        trainer = _trainer(tiny_model_dir, tmp_path / key, [spy(key)])
        trainer.train()
    assert seen["a"] and seen["a"] == seen["b"]  # same seed, same rollouts
    assert len(seen["a"]) == 2 and seen["a"][0] != seen["a"][1]  # a new stream every step

    trainer = _trainer(tiny_model_dir, tmp_path / "k", [spy("top_k")], top_k=5, max_steps=1)
    assert trainer.decode_loop_refusal() == "top_k"
    trainer.train()  # TRL's own generate
    assert len(seen["top_k"]) == 1 and len(seen["top_k"][0]) == 4


def test_preallocated_cache_matches_the_concatenating_cache(tiny_model_dir):
    import torch
    from transformers import AutoModelForCausalLM, DynamicCache

    from interplay_hf.decoding.kv_cache import PreallocatedLayer, preallocated_cache

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    ids = torch.randint(10, 100, (3, 7), generator=torch.Generator().manual_seed(0))
    ours, theirs = preallocated_cache(model.config, capacity=10), DynamicCache(config=model.config)
    assert all(isinstance(layer, PreallocatedLayer) for layer in ours.layers)
    with torch.no_grad():
        for cache in (ours, theirs):
            model(input_ids=ids, cache=cache, use_cache=True)
            cache.batch_select_indices(torch.tensor([2, 0, 0]))
        step = [model(input_ids=ids[[2, 0, 0], -1:], cache=cache, use_cache=True).logits for cache in (ours, theirs)]
    assert torch.equal(step[0], step[1]) and ours.get_seq_length() == theirs.get_seq_length() == 8
    with pytest.raises(RuntimeError, match="capacity 10 exceeded"):
        ours.update(*(torch.zeros(3, 2, 3, 16),) * 2, layer_idx=0)
