"""``interplay-hf tokenizer`` and ``interplay-hf train sft|grpo``.

``train`` is a convenience: it checks the recipe and the accelerate config here (so mistakes fail in
a second, not after a process launch) and then runs the stage exactly as the pipeline does::

    accelerate launch --config_file accelerate_configs/cpu.yaml -m interplay_hf.train.sft --config R [overrides]
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

from interplay_hf.errors import ConfigError
from interplay_hf.guard.launched import run_launched
from interplay_hf.guard.outputs import check_apart, check_file, check_folder, output_lock, probe_lock
from interplay_hf.guard.policy import debug_requested
from interplay_hf.launch import AccelerateLaunch
from interplay_hf.redact import redact_argv
from interplay_hf.tokenizer import DEFAULT_NUMBERS, DEFAULT_VOCAB_SIZE, TOKENIZER_MODES

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_ACCELERATE_CONFIG = "accelerate_configs/cpu.yaml"


def register(subparsers) -> None:
    tok = subparsers.add_parser(
        "tokenizer",
        help="write the released checkpoints' tokenizer, or train a small BPE on a saved dataset",
        description="--numbers released: the official tokenizer.json every released checkpoint uses, as is "
        "(nothing trained; the paper recipes' default). groups / digits: a deterministic byte-level BPE trained "
        "on --dataset. Both have the released special tokens (ids 0-9) and load with AutoTokenizer.from_pretrained.",
    )
    tok.add_argument("--dataset", default=None, help="saved dataset directory (interplay-hf data build); "
                     "for --numbers groups / digits")
    tok.add_argument("--split", default="train", help="split to read (default: train)")
    tok.add_argument("--column", default="text", help="text column (default: text)")
    tok.add_argument("--vocab-size", type=int, default=None, help=f"vocabulary size (paper: {DEFAULT_VOCAB_SIZE}, "
                     "the default)")
    tok.add_argument("--max-texts", type=int, default=None, help="use only the first N texts")
    tok.add_argument("--numbers", choices=TOKENIZER_MODES, default=DEFAULT_NUMBERS,
                     help="released = the released checkpoints' tokenizer, unchanged (numbers as whole tokens with "
                     "their leading space); groups = train one, runs of up to 3 digits pre-tokenized together "
                     "(default); digits = train one, one digit at a time. docs/tokenization.md compares them")
    tok.add_argument("--output-dir", required=True, help="where to save the tokenizer")
    tok.set_defaults(func=run_tokenizer)

    stats = subparsers.add_parser(
        "tokenizer-stats",
        help="tokens per problem by op for each tokenizer mode, and the problems each paper budget buys",
        description="Generates a fixed sample of problems (ops 2-20, zoo/teacher/movie in turn), tokenizes it with "
        "the released tokenizer and with groups / digits tokenizers trained on the sample's text, and prints the "
        "markdown tables of docs/tokenization.md.",
    )
    stats.add_argument("--problems", type=int, default=2000, help="problems in the sample (default: 2000)")
    stats.add_argument("--seed", type=int, default=0, help="sample seed (default: 0)")
    stats.add_argument("--vocab-size", type=int, default=DEFAULT_VOCAB_SIZE,
                       help=f"vocabulary of the trained modes (default: {DEFAULT_VOCAB_SIZE})")
    stats.set_defaults(func=run_tokenizer_stats)

    train = subparsers.add_parser(
        "train",
        help="run a training stage (sft | grpo) via accelerate launch",
        description="Check a stage recipe, then run `accelerate launch -m interplay_hf.train.<stage> --config "
        "<recipe> [overrides]`. Recipe fields are overridden after `--`: "
        "`interplay-hf train sft --config R -- --output_dir D --learning_rate 1e-4`.",
    )
    stages = train.add_subparsers(dest="stage", metavar="STAGE")
    for stage, text in (("sft", "pre-training / mid-training (SFTTrainer)"), ("grpo", "RL (GRPOTrainer)")):
        p = stages.add_parser(stage, help=text)
        p.add_argument("--config", required=True, help="stage recipe YAML")
        p.add_argument(
            "--accelerate-config",
            default=DEFAULT_ACCELERATE_CONFIG,
            help=f"accelerate config (default: {DEFAULT_ACCELERATE_CONFIG})",
        )
        p.add_argument("--num-processes", type=int, default=None, help="override the config's num_processes")
        p.add_argument("--dry-run", action="store_true", help="check and print the command, do not run it")
        p.add_argument("--overwrite", action="store_true",
                       help="start again from scratch: delete the stage's checkpoints in output_dir instead of "
                       "resuming (same as `-- --overwrite_output_dir true`)")
        p.add_argument(
            "overrides",
            nargs="*",
            help="recipe field overrides after `--`, e.g. `-- --output_dir runs/x --learning_rate 1e-4`",
        )
        p.set_defaults(func=run_train, stage_name=stage)

    comp = subparsers.add_parser(
        "compute",
        help="training FLOPs of finished sft/grpo stages (for comparisons at equal compute)",
        description="Tokens each stage processed (TRL's num_tokens) x per-token FLOPs x parameters; "
        "the method is in interplay_hf/train/compute.py.",
    )
    comp.add_argument("stage_dirs", nargs="+", help="finished training stage folders, in order (one training path)")
    comp.add_argument("--output", default=None, help="write compute.json here")
    comp.set_defaults(func=run_compute)


def run_tokenizer(args) -> int:
    from interplay_hf.tokenizer import RELEASED, build_tokenizer_from_dataset, save_released_tokenizer

    if args.numbers == RELEASED:
        given = [flag for flag, value in (("--dataset", args.dataset), ("--vocab-size", args.vocab_size),
                                          ("--max-texts", args.max_texts)) if value is not None]
        if given:
            raise ConfigError(f"{given[0]}: --numbers released trains nothing (it writes the released tokenizer "
                              "as is); drop it, or choose --numbers groups / digits to train one")
        check_tokenizer_output(args.output_dir, args.dataset)
        with output_lock(args.output_dir):
            tokenizer = save_released_tokenizer(args.output_dir)
        print(f"the released tokenizer ({len(tokenizer)} tokens) saved to {args.output_dir}")
        return 0
    if args.dataset is None:
        raise ConfigError(f"--dataset: required to train a tokenizer (--numbers {args.numbers}); or --numbers "
                          "released for the released checkpoints' tokenizer")
    check_tokenizer_output(args.output_dir, args.dataset)
    with output_lock(args.output_dir):
        tokenizer = build_tokenizer_from_dataset(args.dataset, args.output_dir, args.split, args.column,
                                                 args.vocab_size or DEFAULT_VOCAB_SIZE, args.max_texts, args.numbers)
    print(f"tokenizer with {len(tokenizer)} tokens saved to {args.output_dir}")
    return 0


def check_tokenizer_output(output_dir: str, dataset: str | None) -> None:
    """A tokenizer folder: not the dataset it is trained on, and not a model's folder, whose own tokenizer a new
    one (another vocabulary) would replace."""
    check_folder(output_dir)
    check_apart(output_dir, [("--dataset", dataset)])
    model_files = [p.name for p in Path(output_dir).glob("*") if p.name == "config.json" or p.suffix == ".safetensors"]
    if model_files:
        raise ConfigError(f"--output-dir {output_dir}: holds a model ({', '.join(sorted(model_files))}); a new "
                          "tokenizer there would replace the model's own: choose another --output-dir")


def run_tokenizer_stats(args) -> int:
    from interplay_hf.tokenizer_stats import OPS, measure, render, sample_problems

    if args.problems < len(OPS):
        raise ConfigError(f"--problems: at least {len(OPS)} (one per op 2-20), got {args.problems}")
    print(render(measure(sample_problems(args.problems, args.seed), args.vocab_size), args.problems, args.seed), end="")
    return 0


def run_compute(args) -> int:
    from interplay_hf.atomic_io import write_json
    from interplay_hf.train.compute import compute_record

    check_file(args.output)
    check_apart(args.output, [("stage", d) for d in args.stage_dirs], "--output")
    record = compute_record(args.stage_dirs)
    for stage in record["stages"]:
        print(f"{stage['stage']}: {stage['kind']}, {stage['tokens']:,} tokens x {stage['parameters']:,} parameters "
              f"x {stage['flops_per_parameter_token']} = {stage['flops']:.3e} FLOPs")
    print(f"total: {record['total_flops']:.3e} FLOPs")
    if args.output:
        write_json(Path(args.output), record)
        print(f"-> {args.output}")
    return 0


def resolve_accelerate_config(path: str) -> Path:
    """The config as given, else relative to the repository root; ConfigError if neither exists."""
    for candidate in (Path(path), REPO_ROOT / path):
        if candidate.is_file():
            return candidate
    configs = sorted(p.name for p in (REPO_ROOT / "accelerate_configs").glob("*.yaml"))
    raise ConfigError(f"--accelerate-config {path}: no such file (configs in accelerate_configs/: {configs}).")


def load_accelerate_config(path: Path):
    from accelerate.commands.config.config_args import load_config_from_file

    try:
        return load_config_from_file(str(path))
    except (ValueError, TypeError, KeyError) as err:
        raise ConfigError(f"--accelerate-config {path}: not a valid accelerate config ({err}).") from None


def launch_command(stage: str, recipe: str, accelerate_config: Path, num_processes: int, overrides) -> list[str]:
    """The ``accelerate launch`` command line of a stage, by the package's one launch builder."""
    launch = AccelerateLaunch(f"interplay_hf.train.{stage}", ("--config", recipe, *overrides), str(accelerate_config),
                              num_processes)
    return launch.words(program=(sys.executable, "-m", "accelerate.commands.launch"))


def run_train(args) -> int:
    from interplay_hf.train.config import parse_stage_args

    overrides = list(args.overrides or []) + (["--overwrite_output_dir", "true"] if args.overwrite else [])
    config_path = resolve_accelerate_config(args.accelerate_config)
    accel = load_accelerate_config(config_path)
    if args.num_processes is not None and args.num_processes < 1:
        raise ConfigError(f"--num-processes: must be >= 1 (processes to launch), got {args.num_processes}.")
    num_processes = args.num_processes or max(1, int(getattr(accel, "num_processes", 1) or 1))
    # Everything is checked here, for the launch's world size, before processes start.
    _, training_args, _ = parse_stage_args(args.stage_name, ["--config", args.config, *overrides], world_size=num_processes)
    if training_args.push_to_hub:
        from interplay_hf.hub.push import TrainedStagePush

        TrainedStagePush().check(training_args)
    cmd = launch_command(args.stage_name, args.config, config_path, num_processes, overrides)
    print(shlex.join(redact_argv(cmd)), flush=True)
    if args.dry_run:
        return 0
    probe_lock(training_args.output_dir, "output_dir")  # now, not after the launch; rank 0 then holds it
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    return run_launched(cmd, env, debug=debug_requested())
