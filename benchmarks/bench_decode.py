"""One decode step against the machine's limit (a roofline), and against the model's own forward.

    python benchmarks/bench_decode.py --quick                     # qwen2-300k, 2 prompts x 16 rows, seconds
    python benchmarks/bench_decode.py --preset qwen2-1m           # the study's shape: 2 prompts x 128 rows
    python benchmarks/bench_decode.py --preset qwen2-5m

The state is a batch mid-way through sampling: ``--prompts`` distinct prompts of ``--prompt-len`` tokens, ``--rows``
rows each, ``--suffix-len`` tokens already generated. Timed, in rotation within one process so that all see the same
machine load (``--rounds`` rounds, medians reported):

* ``matmul peak``: a square fp32 ``torch.mm`` (FLOP/s); ``memory peak``: a large tensor copy (bytes/s, read + write);
* ``fused step``: ``decoding.fused_qwen2.FusedQwen2.step`` over the cascade cache (the prompt stored once);
* ``model forward``: the transformers forward of one token per row over the flat in-place cache (``kv_cache``),
  what the decode loop runs for models the fused step refuses (and ran for every model before it).

For the fused step it prints the FLOPs and the least bytes a step must move (every weight once, each prompt's keys
and values once, each row's own keys and values, the logits), the time each would take at the measured peaks, and
the fraction of that bound the step reaches: how far from the machine's limit it is and which limit binds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def timed(fn, repeat: int) -> float:
    """Seconds per call of ``fn`` (mean of ``repeat`` calls after one warm-up)."""
    fn()
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def step_cost(config, prompts: int, rows: int, prompt_len: int, suffix_len: int, elem: int) -> tuple[float, float]:
    """(FLOPs, least bytes moved) of one fused decode step of ``prompts * rows`` rows."""
    hidden, inter, vocab, layers = config.hidden_size, config.intermediate_size, config.vocab_size, config.num_hidden_layers
    heads, kv_heads = config.num_attention_heads, config.num_key_value_heads
    head_dim = hidden // heads
    batch = prompts * rows
    weights_per_layer = hidden * (heads + 2 * kv_heads) * head_dim + heads * head_dim * hidden + 3 * hidden * inter
    flops = 2 * batch * (layers * weights_per_layer + hidden * vocab)
    flops += 2 * 2 * batch * layers * heads * head_dim * (prompt_len + suffix_len)  # q.k and p.v
    weights = layers * weights_per_layer + hidden * vocab
    kv = 2 * layers * kv_heads * head_dim * (prompts * prompt_len + batch * suffix_len)
    moved = elem * (weights + kv) + 4 * batch * vocab
    return float(flops), float(moved)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="qwen2-300k, 2 x 16 rows, 3 rounds")
    parser.add_argument("--preset", default=None, help="model preset (default qwen2-1m; qwen2-300k with --quick)")
    parser.add_argument("--prompts", type=int, default=2)
    parser.add_argument("--rows", type=int, default=None, help="rows per prompt (default 128; 16 with --quick)")
    parser.add_argument("--prompt-len", type=int, default=200, help="op 4-5 prompts are ~150-250 tokens")
    parser.add_argument("--suffix-len", type=int, default=80, help="tokens generated so far (half of 160)")
    parser.add_argument("--rounds", type=int, default=None, help="default 5 (3 with --quick)")
    args = parser.parse_args()
    preset = args.preset or ("qwen2-300k" if args.quick else "qwen2-1m")
    rows = args.rows or (16 if args.quick else 128)
    rounds = args.rounds or (3 if args.quick else 5)
    repeat = 3 if args.quick else 10

    import torch
    from transformers import Qwen2ForCausalLM

    from interplay_hf.decoding.fused_qwen2 import FusedQwen2
    from interplay_hf.decoding.kv_cache import preallocated_cache
    from interplay_hf.models import preset_config

    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    torch.manual_seed(0)
    config = preset_config(preset)
    model = Qwen2ForCausalLM(config).eval()
    gen = torch.Generator().manual_seed(0)
    prompt_ids = torch.randint(10, config.vocab_size, (args.prompts, args.prompt_len), generator=gen)
    suffix = torch.randint(10, config.vocab_size, (args.prompts * rows, args.suffix_len + 1), generator=gen)
    owner = torch.arange(args.prompts).repeat_interleave(rows)
    mask = torch.ones_like(prompt_ids)
    capacity = args.prompt_len + args.suffix_len + 2

    with torch.inference_mode():
        fused = FusedQwen2(model, capacity)
        _, cascade = fused.prefill(prompt_ids, mask, owner, args.suffix_len + 2)
        positions = torch.full((len(owner),), args.prompt_len)
        for step in range(args.suffix_len):
            fused.step(suffix[:, step], positions + step, cascade)
        flat = preallocated_cache(config, capacity)
        full = torch.cat([prompt_ids[owner], suffix[:, : args.suffix_len]], dim=1)
        model(input_ids=full, cache=flat, use_cache=True, logits_to_keep=1)
        last = torch.full((len(owner), 1), full.shape[1])

        def fused_step():
            fused.step(suffix[:, -1], positions + args.suffix_len, cascade)
            cascade.length -= 1  # the same state every call

        def forward_step():
            model(input_ids=suffix[:, -1:], position_ids=last, cache=flat, use_cache=True)
            for layer in flat.layers:  # drop the column just written: the same state every call
                layer.length -= 1
                layer._views()

        size = 2048 if not args.quick else 1024
        a, b = torch.randn(size, size), torch.randn(size, size)
        src = torch.empty(64 * 2**20 // 4 * (1 if args.quick else 4))
        dst = torch.empty_like(src)
        src.normal_()
        probes = {
            "matmul peak": (lambda: torch.mm(a, b), 2 * size**3),
            "memory peak": (lambda: dst.copy_(src), 2 * 4 * src.numel()),
            "fused step": (fused_step, None),
            "model forward": (forward_step, None),
        }
        seconds: dict[str, list[float]] = {name: [] for name in probes}
        for _ in range(rounds):
            for name, (fn, _) in probes.items():
                seconds[name].append(timed(fn, repeat))
    med = {name: statistics.median(values) for name, values in seconds.items()}
    peak_flops, peak_bw = probes["matmul peak"][1] / med["matmul peak"], probes["memory peak"][1] / med["memory peak"]
    flops, moved = step_cost(config, args.prompts, rows, args.prompt_len, args.suffix_len,
                             next(model.parameters()).element_size())
    batch = args.prompts * rows
    print(f"{preset}: {args.prompts} prompts x {rows} rows, prompt {args.prompt_len} tokens, {args.suffix_len} generated, "
          f"fp32, {torch.get_num_threads()} thread(s); medians of {rounds} rounds in rotation")
    print(f"machine: matmul {peak_flops / 1e9:.1f} GFLOP/s, memory {peak_bw / 1e9:.1f} GB/s (measured here, same rounds)")
    for name in ("fused step", "model forward"):
        print(f"{name:14s} {med[name] * 1e3:8.2f} ms/step  {batch / med[name]:9.0f} rows/s")
    print(f"fused step vs model forward: {med['model forward'] / med['fused step']:.2f}x")
    bound_compute, bound_memory = flops / peak_flops, moved / peak_bw
    bound = max(bound_compute, bound_memory)
    print(f"roofline: {flops / 1e6:.1f} MFLOP and >= {moved / 1e6:.2f} MB a step -> {bound_compute * 1e3:.2f} ms at the "
          f"matmul peak, {bound_memory * 1e3:.2f} ms at the memory peak; the step reaches "
          f"{flops / med['fused step'] / peak_flops:.0%} of the matmul peak, {moved / med['fused step'] / peak_bw:.0%} "
          f"of the memory peak: {bound / med['fused step']:.0%} of the roofline bound "
          f"({'compute' if bound_compute >= bound_memory else 'memory'}-bound)")
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"uptime: {load} ({os.cpu_count()} CPUs; figures taken under that load)")


if __name__ == "__main__":
    main()
