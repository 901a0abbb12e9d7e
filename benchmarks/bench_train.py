"""Training speed: our stage scripts next to a bare TRL trainer on the same model, data and settings.

    python benchmarks/bench_train.py [--quick] [--preset qwen2-5m]

Three sides per stage, run in rotation so that all see the same machine load:

* ``bare``: a bare ``SFTTrainer`` / ``GRPOTrainer`` in fp32, as TRL's docs write it (the baseline);
* ``ours fp32``: ``interplay_hf.train.sft.main`` / ``grpo.main`` with ``--bf16 false`` (our overhead: the
  GRPO side also has the decode-loop rollouts, ``train/rollouts.py``);
* ``ours``: the same with the default precision, bf16 autocast where the CPU has native bf16
  (``train.config.cpu_has_native_bf16``).

SFT: tokens/s (target >= 1.3x bare); GRPO: seconds/step on the mini study's shapes, 2 prompts x 16 rollouts of
up to 128 tokens a rank (target <= 0.5x bare). The ratio of the medians and of the best runs are both printed.
Held-out evaluation is off (extra work, not overhead; its cost is printed on its own line). Timings are the
Trainer's ``train_runtime`` (model loading and dataset preparation excluded on all sides). The final losses of
``ours`` and ``ours fp32`` are printed next to each other: bf16 autocast's tolerance.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def make_data(root: Path, n: int) -> None:
    """op 2-3 zoo problems (the quickstart's distribution) saved like `interplay-hf data build` does."""
    from datasets import Dataset, DatasetDict

    from interplay_hf.data import generate_problem
    from interplay_hf.tokenizer import build_tokenizer

    rows = [generate_problem(op=2 + i % 2, context="zoo", seed=i).to_row() for i in range(n + 64)]
    data = DatasetDict({"train": Dataset.from_list(rows[:n]), "validation": Dataset.from_list(rows[n:])})
    data.save_to_disk(str(root / "data"))
    build_tokenizer(data["train"]["text"], vocab_size=2200).save_pretrained(str(root / "tok"))


def sft_argv(root: Path, out: str, steps: int, preset: str) -> list[str]:
    return [
        "--model_preset", preset, "--tokenizer_name_or_path", str(root / "tok"),
        "--dataset_path", str(root / "data"), "--output_dir", out,
        "--packing", "true", "--packing_strategy", "wrapped", "--max_length", "512",
        "--per_device_train_batch_size", "8", "--learning_rate", "3e-3", "--max_steps", str(steps),
        "--logging_steps", "10", "--save_strategy", "no", "--bf16", "false", "--activation_checkpointing", "false",
        "--use_cpu", "true", "--report_to", "none", "--disable_tqdm", "true", "--seed", "0",
        "--heldout_split", "none",
    ]  # fmt: skip


def grpo_argv(root: Path, model_dir: Path, out: str, steps: int) -> list[str]:
    return [
        "--model_name_or_path", str(model_dir), "--dataset_path", str(root / "data"), "--output_dir", out,
        "--reward_funcs", "mixed", "--num_generations", "16", "--per_device_train_batch_size", "32",
        "--max_completion_length", "128", "--max_steps", str(steps), "--logging_steps", "1",
        "--learning_rate", "1e-5", "--save_strategy", "no", "--bf16", "false", "--activation_checkpointing", "false",
        "--use_cpu", "true", "--report_to", "none", "--disable_tqdm", "true", "--log_completions", "false",
        "--seed", "0", "--heldout_split", "none",
    ]  # fmt: skip


def default_precision(argv: list[str]) -> list[str]:
    """``argv`` without its ``--bf16 false``: the stage picks its default precision."""
    i = argv.index("--bf16")
    return argv[:i] + argv[i + 2 :]


def run_ours(stage: str, argv: list[str]) -> dict:
    """The Trainer's metrics plus the last logged training loss."""
    import json

    from interplay_hf.train.config import parse_stage_args

    module = __import__(f"interplay_hf.train.{stage}", fromlist=["main"])
    script_args, training_args, model_args = parse_stage_args(stage, argv)
    module.main(script_args, training_args, model_args)
    out = Path(training_args.output_dir)
    metrics = json.loads((out / "train_results.json").read_text())
    history = json.loads((out / "trainer_state.json").read_text())["log_history"]
    metrics["last_loss"] = [h["loss"] for h in history if "loss" in h][-1]
    metrics["bf16"] = training_args.bf16
    return metrics


def run_bare_sft(root: Path, argv: list[str], preset: str) -> dict:
    """SFTTrainer as in TRL's docs: same config object, model, tokenizer and text column."""
    from datasets import load_from_disk
    from transformers import AutoTokenizer
    from trl import SFTTrainer

    from interplay_hf.models import build_model
    from interplay_hf.train.config import parse_stage_args

    _, training_args, _ = parse_stage_args("sft", argv)
    tokenizer = AutoTokenizer.from_pretrained(root / "tok")
    model = build_model(preset, tokenizer=tokenizer, seed=0)
    dataset = load_from_disk(str(root / "data"))["train"].select_columns(["text"])
    trainer = SFTTrainer(model=model, args=training_args, train_dataset=dataset, processing_class=tokenizer)
    return trainer.train().metrics


def run_bare_grpo(root: Path, model_dir: Path, argv: list[str]) -> dict:
    from datasets import load_from_disk
    from transformers import AutoModelForCausalLM
    from trl import GRPOTrainer

    from interplay_hf.rewards import get_reward_funcs
    from interplay_hf.tokenizer import load_saved_tokenizer
    from interplay_hf.train.config import parse_stage_args

    _, training_args, _ = parse_stage_args("grpo", argv)
    tokenizer = load_saved_tokenizer(model_dir)  # AutoTokenizer would swap in Qwen's pre-tokenizer (qwen2 config)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    columns = ["prompt", "solution", "answer", "gold_graph"]
    dataset = load_from_disk(str(root / "data"))["train"].select_columns(columns)
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=get_reward_funcs(["mixed"]),
        args=training_args,
        train_dataset=dataset,
        processing_class=tokenizer,
    )
    return trainer.train().metrics


def heldout_cost(root: Path, preset: str) -> float:
    """Seconds of one held-out evaluation (64 documents' CE + 64 training documents' CE)."""
    from datasets import load_from_disk
    from transformers import AutoTokenizer

    from interplay_hf.models import build_model
    from interplay_hf.train.callbacks import document_cross_entropy

    tokenizer = AutoTokenizer.from_pretrained(root / "tok")
    model = build_model(preset, tokenizer=tokenizer).eval()
    texts = [t + tokenizer.eos_token for t in load_from_disk(str(root / "data"))["validation"]["text"]]
    start = time.perf_counter()
    document_cross_entropy(model, tokenizer, texts[:64])
    document_cross_entropy(model, tokenizer, texts[:64])
    return time.perf_counter() - start


def rotate(repeats: int, sides: dict[str, Callable[[int], dict]]) -> dict[str, list[dict]]:
    """Run every side ``repeats`` times, rotating which goes first, so that all see the same machine load."""
    names = list(sides)
    results: dict[str, list[dict]] = {name: [] for name in names}
    for i in range(repeats):
        for name in names[i % len(names) :] + names[: i % len(names)]:
            results[name].append(sides[name](i))
    return results


def report(label: str, values: dict[str, list[float]], higher_is_better: bool, target: str) -> None:
    best = max if higher_is_better else min
    med = statistics.median
    bare = values["bare"]
    for name in ("ours fp32", "ours"):
        ours = values[name]
        print(f"{label:14s}{name:10s}{med(ours):9.3f}{med(bare):9.3f}{med(ours) / med(bare):8.3f}"
              f"{best(ours):9.3f}{best(bare):9.3f}{best(ours) / best(bare):8.3f}  {target}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps and repeats (a few minutes)")
    parser.add_argument("--preset", default="qwen2-1m", help="model preset (qwen2-1m or qwen2-5m)")
    parser.add_argument("--grpo-only", action="store_true", help="GRPO only (one SFT run makes its model)")
    args = parser.parse_args()
    import torch
    import transformers

    from interplay_hf.train.config import cpu_has_native_bf16

    torch.set_num_threads(1)
    transformers.utils.logging.set_verbosity_error()
    preset = args.preset
    sft_steps, grpo_steps, repeats = (15, 3, 2) if args.quick else (40, 8, 3)

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_data(root, 400 if args.quick else 2000)
        tokens_per_step = 8 * 512

        def sft(name: str, i: int) -> dict:
            argv = sft_argv(root, str(root / f"sft_{name.replace(' ', '_')}{i}"), sft_steps, preset)
            if name == "bare":
                return run_bare_sft(root, argv, preset)
            return run_ours("sft", default_precision(argv) if name == "ours" else argv)

        sft_sides = ("ours fp32",) if args.grpo_only else ("bare", "ours fp32", "ours")
        sft_runs = rotate(1 if args.grpo_only else repeats, {name: (lambda i, n=name: sft(n, i)) for name in sft_sides})
        model_dir = root / "sft_ours_fp320"  # a briefly pre-trained model: completions of a realistic length

        def grpo(name: str, i: int) -> dict:
            argv = grpo_argv(root, model_dir, str(root / f"grpo_{name.replace(' ', '_')}{i}"), grpo_steps)
            if name == "bare":
                return run_bare_grpo(root, model_dir, argv)
            return run_ours("grpo", default_precision(argv) if name == "ours" else argv)

        grpo_runs = rotate(repeats, {name: (lambda i, n=name: grpo(n, i)) for name in ("bare", "ours fp32", "ours")})
        eval_s = heldout_cost(root, preset)

    sft_rates = {k: [sft_steps * tokens_per_step / m["train_runtime"] for m in v] for k, v in sft_runs.items()}
    grpo_times = {k: [m["train_runtime"] / grpo_steps for m in v] for k, v in grpo_runs.items()}
    print(f"\nbench_train ({'quick' if args.quick else 'full'}; {preset}; torch threads 1; {repeats} runs a side; "
          f"native CPU bf16: {cpu_has_native_bf16()}, so `ours` ran with bf16={grpo_runs['ours'][0]['bf16']})")
    print(f"{'':14s}{'side':10s}{'median':>9s}{'bare':>9s}{'ratio':>8s}{'best':>9s}{'bare':>9s}{'ratio':>8s}  target")
    if not args.grpo_only:
        report("SFT tokens/s", {k: [x / 1000 for x in v] for k, v in sft_rates.items()}, True, ">= 1.3 (k tokens/s)")
    report("GRPO s/step", grpo_times, False, "<= 0.5")
    for stage, runs in (() if args.grpo_only else (("SFT", sft_runs),)) + (("GRPO", grpo_runs),):
        print(f"{stage} last training loss, ours fp32 vs ours: "
              f"{[round(m['last_loss'], 5) for m in runs['ours fp32']]} vs {[round(m['last_loss'], 5) for m in runs['ours']]}")
    print("all runs: SFT tokens/s", {k: [round(x) for x in v] for k, v in sft_rates.items()})  # only ours fp32 if --grpo-only
    print("          GRPO s/step", {k: [round(x, 3) for x in v] for k, v in grpo_times.items()})
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"held-out eval (64+64 docs CE), once: {eval_s:.2f} s; uptime: {load} (figures taken under that load)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
