"""`EvalConfig`: every knob of an evaluation run, validated before anything is loaded or sampled.

The help text of each field is the documentation of the matching CLI flag (``--max-new-tokens`` or
``--max_new_tokens``) and of the Python keyword. Defaults are the paper's sampling (docs/evaluation.md):
128 samples, temperature 0.7, top-p 1.0 (no top-k), stop at ``</answer>``, 1,024 new tokens.
"""

from __future__ import annotations

import argparse
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from interplay_hf.errors import ConfigError
from interplay_hf.evaluation.passk import default_k_list, parse_int_list, parse_regimes
from interplay_hf.evaluation.stats import BootstrapSpec
from interplay_hf.inputs import check_number, finite_float

BACKENDS = ("hf", "vllm")
DTYPES = ("auto", "float32", "bfloat16", "float16")


# The paper's eval sets (200 problems per op and context); the default --data of --released checkpoints.
PAPER_EVAL_RECIPE = Path(__file__).resolve().parents[2] / "recipes" / "data" / "eval.yaml"


@dataclass
class EvalConfig:
    output_dir: str = field(
        metadata={"help": "Run directory for results.json, results.md, samples.jsonl, problems.jsonl, inspect.html, "
                          "plots/."}
    )
    model: str | None = field(
        default=None, metadata={"help": "Model to evaluate: a local directory, a Hub repo id, or a LoRA adapter dir."}
    )
    data: str | None = field(
        default=None,
        metadata={"help": "Eval set: a data recipe YAML (built on the fly), a saved dataset dir, or a .jsonl of rows. "
                          "Default with --released: recipes/data/eval.yaml on the checkpoint's ops and contexts."},
    )
    released: str | None = field(
        default=None,
        metadata={"help": "A released checkpoint by alias or '<repo>/<subfolder>' (`interplay-hf released list`); "
                          "sets --model/--subfolder and, unless given, the matching eval set."},
    )
    subfolder: str | None = field(default=None, metadata={"help": "Model subfolder inside the repo/dir (e.g. 'ctx/base')."})
    revision: str | None = field(default=None, metadata={"help": "Hub revision (branch, tag or commit) of --model."})
    tokenizer: str | None = field(
        default=None, metadata={"help": "Tokenizer path/repo when it is not stored with the model."}
    )
    split: str | None = field(
        default=None,
        metadata={"help": "Split name(s) or glob(s), comma-separated. Default: the eval splits (<prefix>_op<N>_<context>, "
                          "as data recipes name them), else 'test'/'eval', else the only split."},
    )
    ops: Any = field(default=None, metadata={"help": "Ops to evaluate, e.g. '11-14' or '2,4,8-10'. Default: all in the set."})
    contexts: Any = field(default=None, metadata={"help": "Contexts to evaluate, e.g. 'zoo,teacher'. Default: all."})
    max_problems_per_op: int | None = field(
        default=None, metadata={"help": "Keep at most N problems per (context, op), in dataset order."}
    )
    n: int = field(default=128, metadata={"help": "Samples per problem (pass@k needs n ≥ k)."})
    k: Any = field(default=None, metadata={"help": "k values for pass@k, e.g. '1,8,32,128'. Default: 1,2,4,…,n."})
    temperature: float = field(default=0.7, metadata={"help": "Sampling temperature (0 = greedy samples)."})
    top_p: float = field(default=1.0, metadata={"help": "Nucleus sampling mass (1.0 = off, as in the paper)."})
    max_new_tokens: int = field(default=1024, metadata={"help": "Generation budget per sample."})
    stop: str = field(default="</answer>", metadata={"help": "Generation stops after this string (or token)."})
    seed: int = field(
        default=0,
        metadata={"help": "Base seed; sample j of problem p is seeded by (seed, p.id, j), so results do not depend on "
                          "batch size or process count."},
    )
    backend: str = field(default="hf", metadata={"help": "Sampling backend: 'hf' (model.generate) or 'vllm'."})
    batch_size: int | None = field(
        default=None, metadata={"help": "Sequences per generate call. Default: sized to free memory (halved on OOM)."}
    )
    dtype: str = field(default="auto", metadata={"help": "auto|float32|bfloat16|float16 (auto: saved dtype; float32 on CPU)."})
    greedy: bool = field(default=True, metadata={"help": "Also decode greedily once per problem (greedy pass@1)."})
    chat: bool = field(
        default=False, metadata={"help": "Prompt through the tokenizer's chat template (auto for conversational data)."}
    )
    chance_samples: int = field(
        default=1000,
        metadata={"help": "Chance baseline: answer distribution of N freshly generated problems per op "
                          "(0: the eval set's own answers, leave-one-out)."},
    )
    regimes: Any = field(
        default=None, metadata={"help": "Op regimes, e.g. 'ID=2-10,OOD-edge=11-14,OOD-hard=15-20' (the default)."}
    )
    bootstrap_resamples: int = field(
        default=1000, metadata={"help": "Bootstrap resamples over problems for the confidence interval of every pass@k."}
    )
    confidence: float = field(default=0.95, metadata={"help": "Confidence level of the intervals, in (0, 1)."})
    save_samples: bool = field(
        default=True, metadata={"help": "Write samples.jsonl (completions + verdicts).", "aliases": ("--no-samples",)}
    )
    samples_per_problem: int | None = field(
        default=None, metadata={"help": "Keep only the first N samples per problem in samples.jsonl."}
    )
    plots: bool = field(default=True, metadata={"help": "Write plots/*.png."})
    inspect: bool = field(
        default=True,
        metadata={"help": "Write inspect.html: the samples with every step marked against the gold (needs "
                          "samples.jsonl; docs/inspector.md)."},
    )
    resume: bool = field(
        default=True, metadata={"help": "Reuse finished problems of an interrupted run with the same settings."}
    )
    overwrite: bool = field(
        default=False, metadata={"help": "Replace results of another model or other settings found in --output-dir."}
    )
    vllm_gpu_memory_utilization: float = field(default=0.85, metadata={"help": "vLLM: fraction of GPU memory to use."})
    vllm_tensor_parallel_size: int = field(default=1, metadata={"help": "vLLM: GPUs per model (tensor parallel)."})

    def __post_init__(self) -> None:
        if self.released and not self.model:
            raise ConfigError(f"--released {self.released}: not resolved; the command line resolves it (in Python: "
                              "EvalConfig(**interplay_hf.hub.released.resolve_released_eval({...})))")
        if self.n is None or int(self.n) <= 0:
            raise ConfigError(f"--n must be a positive number of samples per problem, got {self.n}")
        self.n = int(self.n)
        self.k = parse_int_list(self.k, "--k") or default_k_list(self.n)
        if self.k[0] < 1:
            raise ConfigError(f"--k values must be ≥ 1, got {self.k}")
        if self.k[-1] > self.n:
            raise ConfigError(f"--k {self.k[-1]} exceeds --n {self.n}: pass@k needs at least k samples; raise --n or drop k")
        self.ops = parse_int_list(self.ops, "--ops")
        if isinstance(self.contexts, str):
            self.contexts = [c for c in self.contexts.replace(" ", "").split(",") if c] or None
        self.regimes = parse_regimes(self.regimes)
        if self.backend not in BACKENDS:
            raise ConfigError(f"--backend {self.backend!r} is unknown; choose one of {', '.join(BACKENDS)}")
        if self.dtype not in DTYPES:
            raise ConfigError(f"--dtype {self.dtype!r} is unknown; choose one of {', '.join(DTYPES)}")
        check_number(self.temperature, "--temperature", low=0, meaning="0 = greedy samples")
        check_number(self.top_p, "--top-p", low=0, high=1, low_open=True, meaning="nucleus mass; 1 = off")
        check_number(self.vllm_gpu_memory_utilization, "--vllm-gpu-memory-utilization", low=0, high=1, low_open=True)
        if self.max_new_tokens <= 0:
            raise ConfigError(f"--max-new-tokens must be positive, got {self.max_new_tokens}")
        if self.batch_size is not None and self.batch_size <= 0:
            raise ConfigError(f"--batch-size must be positive (or omitted for auto), got {self.batch_size}")
        if self.max_problems_per_op is not None and self.max_problems_per_op <= 0:
            raise ConfigError(f"--max-problems-per-op must be positive, got {self.max_problems_per_op}")
        if self.chance_samples < 0:
            raise ConfigError(f"--chance-samples must be ≥ 0, got {self.chance_samples}")
        _ = self.intervals  # validates --bootstrap-resamples and --confidence before anything runs
        if not self.model:
            raise ConfigError("--model is required (a local model directory or a Hub repo id), or --released <name>")
        if not self.data:
            raise ConfigError("--data is required (a data recipe YAML, a saved dataset dir or a .jsonl file)")

    @property
    def intervals(self) -> BootstrapSpec:
        """How the confidence intervals of results.json are computed (seeded: reruns are identical)."""
        return BootstrapSpec(resamples=self.bootstrap_resamples, confidence=self.confidence)

    @property
    def sampling(self) -> dict:
        """The ``sampling`` block of results.json."""
        return {
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_new_tokens": self.max_new_tokens,
            "seed": self.seed,
            "backend": self.backend,
            "stop": self.stop,
            "chat": self.chat,
        }

    def to_dict(self) -> dict:
        return asdict(self)


def _arg_type(type_str: str):
    for name, typ in (("bool", bool), ("float", finite_float), ("int", int)):
        if name in str(type_str):
            return typ
    return str


def add_dataclass_arguments(parser: argparse.ArgumentParser, cls: type, skip: tuple[str, ...] = ()) -> None:
    """Add ``--field-name`` (and ``--field_name``) for every dataclass field; help comes from the field metadata.

    Booleans defaulting to True get ``--no-<name>``; those defaulting to False get ``--<name>``. Validation
    stays in the dataclass, so the CLI and the Python API reject the same inputs with the same ConfigError.
    """
    for f in fields(cls):
        if f.name in skip:
            continue
        dashed, under = "--" + f.name.replace("_", "-"), "--" + f.name
        names = [dashed] if dashed == under else [dashed, under]
        help_text = f.metadata.get("help", "")
        typ = _arg_type(f.type)
        if typ is bool:
            if f.default is True:
                names = ["--no-" + f.name.replace("_", "-")] + (["--no_" + f.name] if "_" in f.name else [])
                names += list(f.metadata.get("aliases", ()))
                parser.add_argument(*names, dest=f.name, action="store_false", help=f"turn off (on by default): {help_text}")
            else:
                parser.add_argument(*names, dest=f.name, action="store_true", help=help_text)
            continue
        required = f.default is MISSING and f.default_factory is MISSING
        default = None if required else f.default
        parser.add_argument(*names, dest=f.name, type=typ, default=default, required=required, help=help_text)


def config_from_args(cls: type, args: argparse.Namespace, **overrides):
    values = {f.name: getattr(args, f.name) for f in fields(cls) if hasattr(args, f.name)}
    values.update(overrides)
    return cls(**values)
