"""Evaluation throughput: the whole ``interplay-hf eval`` command against a plain batched ``model.generate`` loop.

    python benchmarks/bench_eval.py --quick                                  # random qwen2-1m, seconds
    python benchmarks/bench_eval.py                                          # the study's shape, qwen2-1m
    python benchmarks/bench_eval.py --preset qwen2-5m --rounds 2             # the same, qwen2-5m
    python benchmarks/bench_eval.py --model runs/quickstart/pretrain --data runs/quickstart/data/dataset \\
        --max-new-tokens 160                                                 # a trained model that stops
    python benchmarks/bench_eval.py --model runs/mini2/tail.b0 --data runs/mini2/data/dataset --ops 4-5 \\
        --contexts zoo --max-problems-per-op 10 --rounds 2                   # the study's base on its edge problems

Both sides load the model from disk inside the timed region and generate n samples per prompt at the paper's
settings (temperature 0.7, top-p 1, no top-k, stop at ``</answer>``) with the same batch size:

* ``plain generate``: ``AutoModelForCausalLM.from_pretrained`` + ``model.generate(do_sample=True)`` over
  left-padded batches (what a simple eval script does);
* ``interplay-hf eval``: ``evaluation.runner.evaluate`` end to end (loading, per-sample seeded decoding, scoring,
  chance baseline, results files), with ``--dtype`` as given.

The default shape is the mini study's evaluation: the official fixture's op 4-5 problems (6 prompts of ~150-250
tokens), n = 128 samples each, 160 new tokens, batch 256. The two sides alternate for ``--rounds`` rounds in one
process, so both see the same machine load; the ratio of the median rates is printed with ``uptime``'s load. Tokens
are generated tokens up to the stop. Without ``--model`` a random model rarely stops, so every row runs to
``--max-new-tokens``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parent.parent
SIDES = ("plain generate", "interplay-hf eval")
sys.path.insert(0, str(REPO))


def random_model(preset: str, workdir: Path, n_prompts: int | None, ops: tuple[int, int]) -> tuple[str, str]:
    """A saved random ``preset`` model with a tokenizer trained on the official fixture rows, and a .jsonl of
    the rows of ``ops`` (the first ``n_prompts`` of them when given) as the eval set."""
    from interplay_hf.data.text import make_text
    from interplay_hf.models import build_model
    from interplay_hf.tokenizer import build_tokenizer

    rows = [json.loads(line) for line in open(REPO / "tests" / "fixtures" / "official_rows.jsonl", encoding="utf-8")]
    tok = build_tokenizer([make_text(r["problem"], r["question"], r["solution"]) for r in rows] * 2, vocab_size=2200)
    model = build_model(preset, tokenizer=tok, seed=0)
    model.save_pretrained(workdir / "model")
    tok.save_pretrained(workdir / "model")
    with open(workdir / "eval.jsonl", "w", encoding="utf-8") as f:
        chosen = [r for r in rows if ops[0] <= r["op"] <= ops[1]]
        for row in chosen[:n_prompts] if n_prompts else chosen:
            f.write(json.dumps(row) + "\n")
    return str(workdir / "model"), str(workdir / "eval.jsonl")


def plain_generate(model_dir: str, prompts: list[str], n: int, max_new: int, batch_size: int) -> tuple[int, float, float]:
    """(generated tokens up to the stop, wall seconds, CPU seconds) of a plain batched ``model.generate`` loop,
    loading included."""
    import torch
    from transformers import AutoModelForCausalLM, GenerationConfig

    from interplay_hf.evaluation.sampling import cut_completion, stop_config
    from interplay_hf.tokenizer import load_saved_tokenizer

    start, cpu = time.perf_counter(), time.process_time()
    tok = load_saved_tokenizer(model_dir)  # AutoTokenizer would swap in Qwen's pre-tokenizer (qwen2 config)
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    stop = stop_config(tok, model.config, "</answer>", model.generation_config)
    config = GenerationConfig(do_sample=True, temperature=0.7, top_p=1.0, top_k=0, max_new_tokens=max_new,
                              eos_token_id=stop.stop_token_ids + stop.keep_token_ids, pad_token_id=stop.pad_token_id)
    sequences = [tok(p, add_special_tokens=False)["input_ids"] for p in prompts for _ in range(n)]
    sequences.sort(key=len, reverse=True)
    tokens = 0
    for s in range(0, len(sequences), batch_size):
        chunk = sequences[s : s + batch_size]
        width = max(map(len, chunk))
        ids = torch.tensor([[stop.pad_token_id] * (width - len(c)) + c for c in chunk])
        mask = torch.tensor([[0] * (width - len(c)) + [1] * len(c) for c in chunk])
        with torch.inference_mode():
            out = model.generate(input_ids=ids, attention_mask=mask, generation_config=config)
        tokens += sum(len(cut_completion(row[width:].tolist(), stop)[0]) for row in out)
    return tokens, time.perf_counter() - start, time.process_time() - cpu


def our_eval(model_dir: str, data: str, n: int, max_new: int, batch_size: int, dtype: str, out: Path,
             select: dict) -> tuple[int, float, float]:
    """(generated tokens, wall seconds, CPU seconds) of ``interplay-hf eval`` end to end on the problems that
    ``select`` (ops, contexts, max_problems_per_op) keeps."""
    from interplay_hf.evaluation.config import EvalConfig
    from interplay_hf.evaluation.runner import evaluate

    cfg = EvalConfig(output_dir=str(out), model=model_dir, data=data, n=n, k=[1], max_new_tokens=max_new,
                     batch_size=batch_size, dtype=dtype, greedy=False, **select)
    start, cpu = time.perf_counter(), time.process_time()
    results = evaluate(cfg, log=lambda msg: None)
    return results["run"]["generated_tokens"], time.perf_counter() - start, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="4 op 2-3 prompts x n=16, 64 new tokens, 1 round")
    parser.add_argument("--preset", default="qwen2-1m", help="random model preset when --model is not given")
    parser.add_argument("--model", help="a saved model directory (with its tokenizer)")
    parser.add_argument("--data", help="the eval set for --model (a saved dataset or .jsonl; eval splits are used)")
    parser.add_argument("--prompts", type=int, default=None, help="random-model prompts (default: every fixture row "
                        "of --ops; 4 with --quick)")
    parser.add_argument("--ops", default=None, help="prompts' ops, e.g. 4-5 (random model: default 4-5, 2-3 with "
                        "--quick; --model: every op of --data unless given)")
    parser.add_argument("--contexts", default=None, help="--model: only these contexts of --data, e.g. zoo")
    parser.add_argument("--max-problems-per-op", type=int, default=None, help="--model: the first N problems per op")
    parser.add_argument("--n", type=int, default=None, help="samples per prompt (default 16 quick / 128)")
    parser.add_argument("--max-new-tokens", type=int, default=None, help="default 64 quick / 160")
    parser.add_argument("--batch-size", type=int, default=256, help="the same for both sides")
    parser.add_argument("--dtype", default="float32", help="dtype of our eval (float32 keeps today's samples)")
    parser.add_argument("--rounds", type=int, default=None, help="alternations (default 1 quick / 3)")
    args = parser.parse_args()
    n = args.n or (16 if args.quick else 128)
    max_new = args.max_new_tokens or (64 if args.quick else 160)
    rounds = args.rounds or (1 if args.quick else 3)
    low, _, high = (args.ops or ("2-3" if args.quick else "4-5")).partition("-")
    ops = (int(low), int(high or low))

    import torch

    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    from interplay_hf.evaluation.config import EvalConfig
    from interplay_hf.evaluation.problems import load_problems

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if args.model:
            model_dir, data = args.model, args.data
        else:
            model_dir, data = random_model(args.preset, work, args.prompts or (4 if args.quick else None), ops)
        # with --model, the same problems on both sides: those --ops/--contexts/--max-problems-per-op keep
        select = ({"ops": args.ops, "contexts": args.contexts, "max_problems_per_op": args.max_problems_per_op}
                  if args.model else {})
        config = EvalConfig(output_dir=str(work / "problems"), model=model_dir, data=data, **select)
        prompts = [p.prompt for p in load_problems(data, None, config.ops, config.contexts, config.max_problems_per_op,
                                                   work / "problems")]
        print(f"model {model_dir}, {len(prompts)} prompts x n={n}, max_new_tokens={max_new}, batch {args.batch_size}, "
              f"our dtype {args.dtype}, threads {torch.get_num_threads()}")
        rates: dict[tuple[str, str], list[float]] = {(name, clock): [] for name in SIDES for clock in ("wall", "cpu")}
        for r in range(rounds):
            for name in SIDES:
                if name == "plain generate":
                    tokens, wall, cpu = plain_generate(model_dir, prompts, n, max_new, args.batch_size)
                else:
                    tokens, wall, cpu = our_eval(model_dir, data, n, max_new, args.batch_size, args.dtype, work / f"e{r}",
                                                 select)
                rates[name, "wall"].append(tokens / wall)
                rates[name, "cpu"].append(tokens / cpu)
                print(f"  round {r}: {name:18s} {tokens:7d} tokens {wall:7.1f}s wall {tokens / wall:7.0f} tok/s, "
                      f"{cpu:7.1f}s CPU {tokens / cpu:7.0f} tok/CPU-s", flush=True)
    for clock in ("wall", "cpu"):
        ours, plain = (statistics.median(rates[name, clock]) for name in ("interplay-hf eval", "plain generate"))
        print(f"median tokens per {clock:4s} second: plain generate {plain:6.0f}, interplay-hf eval {ours:6.0f} -> ratio "
              f"{ours / plain:.2f}x (target 3x)")
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"uptime: {load} ({os.cpu_count()} CPUs; per CPU second is the steadier figure on a shared machine)")


if __name__ == "__main__":
    main()
