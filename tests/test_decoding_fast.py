"""The sampling contract of the fast decode path (fused Qwen2 step + shared-prompt attention, docs/evaluation.md):
(a) next-token log-probs within 1e-4 of the model's forward in fp32; (b) pass@k equal to ``model.generate``'s
within the paired 95% interval (tests/test_decoding_passk.py, slow); (c) the same seed gives the same samples
whatever the batch size or the process split. Plus the fallbacks: unsupported models decode with their own forward
(one logged line), and a batch that cannot fit names the largest that does."""

from __future__ import annotations

import logging

import pytest
import torch


def _qwen2(tied: bool, layers: int = 3):
    """A random tiny Qwen2 with GQA (4 query heads on 2 kv heads) and non-zero q/k/v biases."""
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    config = Qwen2Config(vocab_size=300, hidden_size=64, intermediate_size=160, num_hidden_layers=layers,
                         num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=tied,
                         max_position_embeddings=256)
    model = Qwen2ForCausalLM(config).eval()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.normal_(0.0, 0.15)  # biases and norms too: nothing left at its neutral init
    return model


@pytest.mark.parametrize("tied", [True, False])
def test_fused_step_log_probs_match_the_model_forward(tied):
    """Teacher-forced rows of three prompts of different lengths (left-padded together, several rows each): at every
    step the fused step's next-token log-probs equal the model's forward on the unpadded prefix to 1e-4, also after
    rows leave the batch and after a prompt loses all its rows (its keys/values leave the prefix)."""
    from interplay_hf.decoding.fused_qwen2 import FusedQwen2, refusal
    from interplay_hf.decoding.loop import left_pad

    model = _qwen2(tied)
    assert refusal(model) is None
    prompts = [[5, 6, 7, 8, 9], [10, 11], [12, 13, 14, 15, 16, 17, 18, 19, 20]]
    owner = torch.tensor([0, 1, 2, 2, 0, 2, 1, 0])
    input_ids, mask = left_pad(prompts, 0, "cpu")
    steps = 7
    suffix = torch.randint(1, 300, (len(owner), steps), generator=torch.Generator().manual_seed(1))
    fused = FusedQwen2(model, input_ids.shape[1] + steps)
    leaving = {2: torch.tensor([0, 2, 3, 5, 6, 7]), 4: torch.tensor([1, 2, 3, 5])}  # step 4: prompt 1 loses its rows
    worst, checked = 0.0, 0
    with torch.no_grad():
        logits, cache = fused.prefill(input_ids, mask, owner, steps)
        logits, positions = logits[owner], mask.sum(-1)[owner]
        for step in range(steps):
            for row in range(len(owner)):
                prefix = torch.tensor([prompts[owner[row]] + suffix[row, :step].tolist()])
                reference = model(prefix).logits[0, -1].log_softmax(-1)
                worst = max(worst, (logits[row].log_softmax(-1) - reference).abs().max().item())
                checked += 1
            if step in leaving:
                keep = leaving[step]
                cache.keep_rows(keep)
                owner, positions, suffix, logits = owner[keep], positions[keep], suffix[keep], logits[keep]
            logits = fused.step(suffix[:, step], positions + step, cache)
    assert 1 not in owner.tolist() and len(cache.prefix_keys[0]) == 2  # the prompt without rows left the prefix
    assert checked == 8 * 3 + 6 * 2 + 4 * 2 and worst < 1e-4, worst


def test_cascade_attention_is_one_softmax_over_prompt_and_suffix():
    """The log-sum-exp merge of the two partial softmaxes equals softmax over the concatenated keys."""
    from interplay_hf.decoding.cascade import combine, partial_softmax

    gen = torch.Generator().manual_seed(0)
    query, keys, values = (torch.randn(shape, generator=gen, dtype=torch.float64) for shape in
                           [(3, 1, 8), (3, 11, 8), (3, 11, 8)])
    scores = query @ keys.transpose(-1, -2)
    whole = torch.softmax(scores, -1) @ values
    parts = [partial_softmax(scores[..., s], values[:, s]) for s in (slice(0, 7), slice(7, 11))]
    merged = combine(*parts[0], *parts[1])
    assert torch.allclose(merged.double(), whole, atol=1e-6)


def _sampler(model_dir, batch_size):
    from interplay_hf.evaluation.loading import load_model, load_tokenizer
    from interplay_hf.evaluation.sampling import HFSampler, stop_config

    tok = load_tokenizer(str(model_dir))
    model = load_model(str(model_dir))
    stop = stop_config(tok, model.config, "</answer>")
    return tok, HFSampler(model, tok, stop, max_new_tokens=20, temperature=0.9, top_p=1.0, batch_size=batch_size)


def test_same_seed_same_samples_whatever_the_batch_size_or_process_split(tiny_model_dir, caplog):
    """The fast path's samples depend on (seed, problem, sample index) only: batch sizes 1, 5 and 64 and two
    "processes" (problems split p mod 2, as evaluation shards) give identical token lists, greedy rows included."""
    from interplay_hf.evaluation.sampling import Request, build_requests

    tok, sampler = _sampler(tiny_model_dir, 64)
    questions = ["a b c", "x", "Define p", "q r", "z z z z z"]
    prompts = [tok(f"<question> {q} </question> <solution>")["input_ids"] for q in questions]
    ids = [f"p{i}" for i in range(len(prompts))]
    requests = build_requests(prompts, ids, 6, seed=11) + [Request(prompts[2], None)]
    with caplog.at_level(logging.WARNING, logger="interplay_hf.decoding.loop"):
        reference = sampler.generate(requests)
    assert not caplog.records  # the fused path ran
    for batch_size in (1, 5):
        assert _sampler(tiny_model_dir, batch_size)[1].generate(requests) == reference
    by_shard = {}
    for rank in (0, 1):
        mine = [i for i, r in enumerate(requests[:-1]) if (i // 6) % 2 == rank]
        for i, out in zip(mine, _sampler(tiny_model_dir, 4)[1].generate([requests[i] for i in mine])):
            by_shard[i] = out
    assert [by_shard[i] for i in range(len(requests) - 1)] == reference[:-1]
    assert len({tuple(r) for r in reference}) > 10  # different seeds, different samples


def _llama(tiny_tokenizer):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tiny_tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, pad_token_id=tiny_tokenizer.pad_token_id,
                         eos_token_id=tiny_tokenizer.eos_token_id)
    return LlamaForCausalLM(config).eval()


def test_an_unsupported_model_decodes_with_its_own_forward_and_says_so_once(tiny_tokenizer, caplog):
    """A Llama (and a Qwen2 with sliding windows) is refused by the fused step: the loop decodes with the model's
    forward, as ``model.generate`` with the same draws does (fp32, token for token), and logs one line."""
    from transformers import LogitsProcessorList, Qwen2Config, Qwen2ForCausalLM

    from interplay_hf.decoding import loop
    from interplay_hf.decoding.draw import CounterSampler, sample_seed
    from interplay_hf.decoding.fused_qwen2 import refusal

    sliding = Qwen2ForCausalLM(Qwen2Config(vocab_size=50, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                           num_attention_heads=2, num_key_value_heads=1, use_sliding_window=True,
                                           sliding_window=8, max_window_layers=0))
    assert refusal(sliding) == "sliding-window attention"
    model = _llama(tiny_tokenizer)
    assert refusal(model) == "architecture LlamaForCausalLM"
    prompts = [tiny_tokenizer(f"<question> {q} </question> <solution>")["input_ids"] for q in ("a b", "c")]
    rows = [p for p in prompts for _ in range(3)]
    seeds = [sample_seed(0, f"p{i // 3}", i % 3) for i in range(len(rows))]
    settings = loop.DecodeSettings(12, 0.8, 1.0, (tiny_tokenizer.eos_token_id,), tiny_tokenizer.pad_token_id)
    loop._logged.discard("architecture LlamaForCausalLM")
    with caplog.at_level(logging.WARNING, logger="interplay_hf.decoding.loop"):
        ours = loop.decode(model, rows, seeds, settings)
        assert loop.decode(model, rows, seeds, settings) == ours
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and "architecture LlamaForCausalLM" in lines[0]
    input_ids, mask = loop.left_pad(rows, tiny_tokenizer.pad_token_id, "cpu")
    sampler = CounterSampler(torch.tensor(seeds), input_ids.shape[1], 0.8)
    with torch.no_grad():
        out = model.generate(input_ids=input_ids, attention_mask=mask, do_sample=False, max_new_tokens=12,
                             eos_token_id=tiny_tokenizer.eos_token_id, pad_token_id=tiny_tokenizer.pad_token_id,
                             logits_processor=LogitsProcessorList([sampler]))
    reference = []
    for row in out[:, input_ids.shape[1]:].tolist():
        ends = [i for i, t in enumerate(row) if t == tiny_tokenizer.eos_token_id]
        reference.append(row[: ends[0] + 1] if ends else row)
    assert ours == reference


def test_a_batch_that_cannot_fit_names_the_largest_that_fits(tiny_model_dir):
    """Before any compute: a batch size beyond free memory names the largest batch that fits, and one row that
    cannot fit names the largest ``max_new_tokens``; both named values do fit and one more does not."""
    from interplay_hf.errors import ConfigError
    from interplay_hf.evaluation.sampling import Request, bytes_per_row, check_fits

    tok, sampler = _sampler(tiny_model_dir, 10**12)
    with pytest.raises(ConfigError, match=r"^--batch-size 1000000000000 does not fit in memory .* the largest that "
                                          r"fits is \d+$"):
        sampler.generate([Request([1, 2, 3], 0)])
    model = sampler.model
    free = 50 * bytes_per_row(model, 40)
    with pytest.raises(ConfigError) as err:
        check_fits(model, 64, 20, 20, free)
    largest = int(str(err.value).rsplit(" ", 1)[-1])
    assert largest * bytes_per_row(model, 40) <= free < (largest + 1) * bytes_per_row(model, 40)
    check_fits(model, largest, 20, 20, free)
    with pytest.raises(ConfigError, match=r"^--max-new-tokens 10000: one row of 20 prompt tokens does not fit"):
        check_fits(model, 1, 20, 10_000, free)
    with pytest.raises(ConfigError) as err:
        check_fits(model, 1, 20, 10_000, free)
    tokens = int(str(err.value).rsplit(" ", 1)[-1])
    check_fits(model, 1, 20, tokens, free)
    with pytest.raises(ConfigError):
        check_fits(model, 1, 20, tokens + 1, free)


def test_a_prefill_under_bf16_autocast_feeds_the_fp32_step():
    """GRPO with bf16 autocast runs the model's forward (the prefill) in bf16: the fused step takes its keys and
    values in the weights' dtype and samples."""
    from interplay_hf.decoding.loop import DecodeSettings, decode

    model = _qwen2(tied=True, layers=2)
    settings = DecodeSettings(8, 0.9, 1.0, (299,), 0)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = decode(model, [[5, 6, 7]] * 3 + [[8, 9]], [1, 2, 3, 4], settings)
    assert [len(o) for o in out] == [8, 8, 8, 8] or any(o[-1] == 299 for o in out)
