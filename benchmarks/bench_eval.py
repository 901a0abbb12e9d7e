"""Sampling throughput of evaluation: our batched, per-sample-seeded ``HFSampler`` vs a naive loop.

    python benchmarks/bench_eval.py [--quick] [--preset qwen2-1m] [--n 64] [--max-new-tokens 64]

Three ways to draw n completions per prompt, in the same process on the same random model:

* ``naive``: one ``model.generate(do_sample=True)`` call per sample (what a simple eval script does);
* ``batched (HF multinomial)``: our batching/left padding, HF's own sampling (global RNG; not reproducible
  across batch sizes);
* ``batched (ours)``: ``HFSampler`` — the same batching with per-sample counter-based seeds (what
  ``interplay-hf eval`` runs): its cost over HF multinomial is the price of reproducibility.

Tokens counted = generated tokens up to the stop (a random model rarely stops, so ≈ max_new_tokens each).
The naive loop runs on a subset of samples (``--naive-samples``) and is reported as a rate.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 prompts, 64 new tokens, 8 naive samples")
    parser.add_argument("--preset", default="qwen2-1m", help="model preset (random init)")
    parser.add_argument("--n", type=int, default=64, help="samples per prompt")
    parser.add_argument("--prompts", type=int, default=None, help="prompts (default 2 quick / 4)")
    parser.add_argument("--max-new-tokens", type=int, default=None, help="default 64 quick / 256")
    parser.add_argument("--batch-size", type=int, default=None, help="default: auto (as eval)")
    parser.add_argument("--naive-samples", type=int, default=None, help="samples for the naive loop (default 8 quick / 32)")
    args = parser.parse_args()
    prompts_n = args.prompts or (2 if args.quick else 4)
    max_new = args.max_new_tokens or (64 if args.quick else 256)
    naive_n = args.naive_samples or (8 if args.quick else 32)

    import torch
    from transformers import GenerationConfig

    from interplay_hf.data.text import make_prompt, make_text
    from interplay_hf.evaluation.sampling import HFSampler, Request, build_requests, cut_completion, stop_config
    from interplay_hf.models import build_model, count_parameters
    from interplay_hf.tokenizer import build_tokenizer

    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    rows = [json.loads(line) for line in open(REPO / "tests" / "fixtures" / "official_rows.jsonl")]
    tok = build_tokenizer([make_text(r["problem"], r["question"], r["solution"]) for r in rows] * 2, vocab_size=2200)
    tok.padding_side = "left"
    model = build_model(args.preset, tokenizer=tok, seed=0).eval()
    prompts = [tok(make_prompt(r["problem"], r["question"]), add_special_tokens=False)["input_ids"]
               for r in rows[10 : 10 + prompts_n]]
    stop = stop_config(tok, model.config, "</answer>")
    requests = build_requests(prompts, [f"p{i}" for i in range(len(prompts))], args.n, seed=0)
    print(f"model {args.preset} ({count_parameters(model) / 1e6:.2f}M params), {len(prompts)} prompts x n={args.n}, "
          f"max_new_tokens={max_new}, prompt length {min(map(len, prompts))}-{max(map(len, prompts))} tokens, "
          f"threads={torch.get_num_threads()}")

    def count(outs):
        return sum(len(cut_completion(o, stop)[0]) for o in outs)

    results = []
    # ours
    sampler = HFSampler(model, tok, stop, max_new, 0.7, 1.0, args.batch_size)
    sampler.generate(requests[:2])  # warm-up (and auto batch size)
    t = time.perf_counter()
    outs = sampler.generate(requests)
    dt = time.perf_counter() - t
    results.append(("batched (ours, seeded per sample)", len(requests), count(outs), dt))
    batch = sampler.batch_size

    # same batching, HF multinomial sampling
    hf_cfg = GenerationConfig(do_sample=True, temperature=0.7, top_p=1.0, top_k=0, max_new_tokens=max_new,
                              eos_token_id=stop.stop_token_ids + stop.keep_token_ids, pad_token_id=stop.pad_token_id)
    t = time.perf_counter()
    outs = []
    order = sorted(range(len(requests)), key=lambda i: -len(requests[i].prompt_ids))
    for s in range(0, len(order), batch):
        chunk = [requests[i] for i in order[s : s + batch]]
        width = max(len(r.prompt_ids) for r in chunk)
        ids = torch.tensor([[stop.pad_token_id] * (width - len(r.prompt_ids)) + r.prompt_ids for r in chunk])
        mask = torch.tensor([[0] * (width - len(r.prompt_ids)) + [1] * len(r.prompt_ids) for r in chunk])
        with torch.inference_mode():
            seq = model.generate(input_ids=ids, attention_mask=mask, generation_config=hf_cfg)
        outs += [row[width:].tolist() for row in seq]
    dt = time.perf_counter() - t
    results.append(("batched (HF multinomial)", len(requests), count(outs), dt))

    # naive: one generate call per sample
    naive_requests = [Request(prompts[i % len(prompts)], None) for i in range(naive_n)]
    t = time.perf_counter()
    outs = []
    for r in naive_requests:
        with torch.inference_mode():
            seq = model.generate(input_ids=torch.tensor([r.prompt_ids]), generation_config=hf_cfg)
        outs.append(seq[0, len(r.prompt_ids) :].tolist())
    dt = time.perf_counter() - t
    results.append(("naive (one sample per generate)", naive_n, count(outs), dt))

    base = results[-1][2] / results[-1][3]
    print(f"\nbatch size (auto) = {batch}")
    print(f"{'method':36s} {'seqs':>5s} {'tokens':>7s} {'seconds':>8s} {'tok/s':>8s} {'vs naive':>9s}")
    for name, seqs, tokens, secs in results:
        rate = tokens / secs
        print(f"{name:36s} {seqs:5d} {tokens:7d} {secs:8.2f} {rate:8.0f} {rate / base:8.1f}x")


if __name__ == "__main__":
    main()
