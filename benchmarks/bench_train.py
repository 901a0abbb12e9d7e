"""Training-spine overhead: our stage scripts next to a bare TRL trainer on the same model, data and settings.

    python benchmarks/bench_train.py [--quick]

SFT: tokens/s of ``interplay_hf.train.sft.main`` vs a bare ``SFTTrainer`` (target ratio >= 0.97).
GRPO: seconds/step of ``interplay_hf.train.grpo.main`` vs a bare ``GRPOTrainer`` (target ratio <= 1.05).
Runs alternate (ours then bare, bare then ours, ...); the ratio of the medians and of the fastest runs are
both printed, since on a shared machine single runs vary by tens of percent. Held-out evaluation is off in the "ours" column (it is extra work, not overhead; its
cost is printed on its own line). Timings are the Trainer's ``train_runtime`` (model loading and
dataset preparation excluded on both sides).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
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
        "--reward_funcs", "mixed", "--num_generations", "4", "--per_device_train_batch_size", "8",
        "--max_completion_length", "64", "--max_steps", str(steps), "--logging_steps", "1",
        "--learning_rate", "1e-5", "--save_strategy", "no", "--bf16", "false", "--activation_checkpointing", "false",
        "--use_cpu", "true", "--report_to", "none", "--disable_tqdm", "true", "--log_completions", "false",
        "--seed", "0", "--heldout_split", "none",
    ]  # fmt: skip


def run_ours(stage: str, argv: list[str]) -> dict:
    from interplay_hf.train.config import parse_stage_args

    module = __import__(f"interplay_hf.train.{stage}", fromlist=["main"])
    script_args, training_args, model_args = parse_stage_args(stage, argv)
    module.main(script_args, training_args, model_args)
    import json

    return json.loads((Path(training_args.output_dir) / "train_results.json").read_text())


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
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOTrainer

    from interplay_hf.rewards import get_reward_funcs
    from interplay_hf.train.config import parse_stage_args

    _, training_args, _ = parse_stage_args("grpo", argv)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
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


def alternate(repeats: int, ours, bare) -> tuple[list, list]:
    """Run ``ours(i)`` and ``bare(i)`` ``repeats`` times, swapping which goes first each time."""
    results: tuple[list, list] = ([], [])
    for i in range(repeats):
        order = ((0, ours), (1, bare)) if i % 2 == 0 else ((1, bare), (0, ours))
        for side, run in order:
            results[side].append(run(i))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps and repeats (about 2 minutes)")
    args = parser.parse_args()
    import torch
    import transformers

    torch.set_num_threads(1)
    transformers.utils.logging.set_verbosity_error()
    preset = "qwen2-1m"
    sft_steps, grpo_steps, repeats = (15, 4, 2) if args.quick else (40, 10, 3)

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_data(root, 400 if args.quick else 2000)
        tokens_per_step = 8 * 512

        ours_sft, bare_sft = alternate(
            repeats,
            lambda i: run_ours("sft", sft_argv(root, str(root / f"ours_sft{i}"), sft_steps, preset)),
            lambda i: run_bare_sft(root, sft_argv(root, str(root / f"bare_sft{i}"), sft_steps, preset), preset),
        )
        ours_sft = [sft_steps * tokens_per_step / m["train_runtime"] for m in ours_sft]
        bare_sft = [sft_steps * tokens_per_step / m["train_runtime"] for m in bare_sft]

        model_dir = root / "ours_sft0"  # a briefly pre-trained model: completions of a realistic length
        ours_grpo, bare_grpo = alternate(
            repeats,
            lambda i: run_ours("grpo", grpo_argv(root, model_dir, str(root / f"ours_grpo{i}"), grpo_steps)),
            lambda i: run_bare_grpo(root, model_dir, grpo_argv(root, model_dir, str(root / f"bare_grpo{i}"), grpo_steps)),
        )
        ours_grpo = [m["train_runtime"] / grpo_steps for m in ours_grpo]
        bare_grpo = [m["train_runtime"] / grpo_steps for m in bare_grpo]
        eval_s = heldout_cost(root, preset)

    med = statistics.median
    print(f"\nbench_train ({'quick' if args.quick else 'full'}; {preset}; torch threads 1; {repeats} runs each)")
    print(f"{'':16s}{'ours':>10s}{'bare TRL':>10s}{'ratio':>8s}{'best ours':>11s}{'best bare':>11s}{'ratio':>8s}  target")
    print(f"{'SFT tokens/s':16s}{med(ours_sft):10.0f}{med(bare_sft):10.0f}{med(ours_sft) / med(bare_sft):8.3f}"
          f"{max(ours_sft):11.0f}{max(bare_sft):11.0f}{max(ours_sft) / max(bare_sft):8.3f}  >= 0.97")
    print(f"{'GRPO s/step':16s}{med(ours_grpo):10.3f}{med(bare_grpo):10.3f}{med(ours_grpo) / med(bare_grpo):8.3f}"
          f"{min(ours_grpo):11.3f}{min(bare_grpo):11.3f}{min(ours_grpo) / min(bare_grpo):8.3f}  <= 1.05")
    print("all runs: SFT ours", [round(x) for x in ours_sft], "bare", [round(x) for x in bare_sft])
    print("          GRPO ours", [round(x, 3) for x in ours_grpo], "bare", [round(x, 3) for x in bare_grpo])
    print(f"held-out eval (64+64 docs CE), once: {eval_s:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
