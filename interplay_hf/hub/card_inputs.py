"""What a card says, read from disk: stage dirs, eval results, dataset build reports — and secrets kept out.

Turns the files a stage leaves behind (``recipe.yaml``, ``config.json``, the safetensors header,
``train_results.json``, ``trainer_state.json``), an evaluation ``results.json`` and a dataset's
``build_report.json`` into the plain rows the card templates print. No template logic here.

A dataset's ``build_report.json`` is read with the data layer's types (``interplay_hf/data/report.py``), the
only shape its writer produces.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from interplay_hf.data.report import BuildReport, MixtureSummary, read_build_report, report_path
from interplay_hf.errors import ConfigError
from interplay_hf.evaluation.results_schema import RESULTS_FILE, Block, Results
from interplay_hf.redact import redact, scrub

REWARD_MEANINGS = {
    "outcome": "1 if the final answer is right (string match, as the official RL reward)",
    "process": "R_pv: fraction of gold steps reproduced correctly",
    "mixed": "α·R_out + (1−α)·R_pv, gated on a correct answer",
    "strict": "1 only if the answer is right and every step is process-verified",
    "format": "1 if the completion has the solution/answer tags",
}


# ------------------------------------------------------------------------------------------------
# Reading a stage directory
# ------------------------------------------------------------------------------------------------


def read_json(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ConfigError(f"{path} is not valid JSON ({err}); re-run the stage that wrote it") from err


def read_stage_recipe(stage_dir: Path) -> dict | None:
    path = stage_dir / "recipe.yaml"
    if not path.is_file():
        return None
    from interplay_hf.yaml_io import read_yaml

    data = read_yaml(path, "recipe")
    if data is not None and not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a mapping of recipe fields, got {type(data).__name__}")
    return data or {}


def recipe_yaml_text(recipe: dict, comments: list[str] = ()) -> str:
    """The recipe as YAML with secrets redacted, after its leading comment lines (derived facts)."""
    import yaml

    header = "".join(scrub(line.rstrip()) + "\n" for line in comments)
    return header + yaml.safe_dump(redact(recipe), sort_keys=False, allow_unicode=True).rstrip()


def recipe_comments(stage_dir: Path) -> list[str]:
    """The ``# ...`` lines that open a stage's recipe.yaml (the train scripts record derived budgets there)."""
    path = stage_dir / "recipe.yaml"
    if not path.is_file():
        return []
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        lines.append(line)
    return lines


def find(recipe: dict | None, *names: str) -> Any:
    """The first of ``names`` in the recipe, at the top level or one mapping below (sectioned recipes)."""
    if not recipe:
        return None
    for name in names:
        if recipe.get(name) not in (None, ""):
            return recipe[name]
    for value in recipe.values():
        if isinstance(value, dict):
            for name in names:
                if value.get(name) not in (None, ""):
                    return value[name]
    return None


def human(n: int | float | None) -> str:
    if n is None:
        return "–"
    for unit, scale in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.3g}{unit}"
    return f"{n:g}"


def fmt(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(fmt(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}={fmt(v)}" for k, v in value.items())
    return str(value).replace("|", "\\|").replace("\n", " ")


HUB_ID_RE = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def model_origin(recipe: dict | None) -> dict[str, Any]:
    """Where the weights started: a preset (from scratch), a Hub model id, or a local stage."""
    from interplay_hf.models import PRESETS

    preset = find(recipe, "model_preset", "preset")
    name = find(recipe, "model_name_or_path", "model")
    if isinstance(preset, str) and preset in PRESETS:
        return {"origin": "preset", "name": preset, "preset_help": PRESETS[preset].help}
    if isinstance(name, str) and name in PRESETS:
        return {"origin": "preset", "name": name, "preset_help": PRESETS[name].help}
    if isinstance(name, str) and HUB_ID_RE.match(name) and not Path(name).exists():
        return {"origin": "hub", "name": name, "preset_help": None}
    if isinstance(name, str):
        parts = Path(name).parts  # don't publish a user's absolute path: keep the last two parts
        return {"origin": "local", "name": "/".join(parts[-2:]), "preset_help": None}
    return {"origin": "unknown", "name": "", "preset_help": None}


def stage_kind(stage_dir: Path, recipe: dict | None) -> str:
    """pretrain / midtrain / rl / sft, from the recipe first, else the stage name."""
    declared = find(recipe, "stage_kind", "stage_type")
    if isinstance(declared, str) and declared:
        return declared
    if find(recipe, "reward_funcs", "num_generations") is not None:
        return "rl"
    name = stage_dir.name.lower()
    for key, kind in (("mid", "midtrain"), ("grpo", "rl"), ("rl", "rl"), ("pre", "pretrain"), ("base", "pretrain")):
        if key in name:
            return kind
    return "pretrain" if model_origin(recipe)["origin"] in ("preset", "unknown") else "sft"


_BUDGET_KEYS = (
    ("max_steps", "max steps"),
    ("num_train_epochs", "epochs"),
    ("per_device_train_batch_size", "batch size per device"),
    ("gradient_accumulation_steps", "gradient accumulation"),
    ("max_length", "max sequence length"),
    ("max_seq_length", "max sequence length"),
    ("packing", "packing"),
    ("max_train_tokens", "token budget"),
    ("max_train_samples", "sample budget"),
    ("learning_rate", "learning rate"),
    ("lr_scheduler_type", "schedule"),
    ("warmup_ratio", "warm-up ratio"),
    ("weight_decay", "weight decay"),
    ("max_grad_norm", "grad clip"),
    ("num_generations", "rollouts per prompt"),
    ("max_completion_length", "max completion length"),
    ("temperature", "sampling temperature"),
    ("beta", "KL coefficient"),
    ("bf16", "bf16"),
    ("seed", "seed"),
)
_METRIC_KEYS = (
    ("train_loss", "final train loss"),
    ("train_samples", "train samples"),
    ("epoch", "epochs done"),
    ("train_runtime", "runtime (s)"),
    ("train_samples_per_second", "samples / s"),
    ("total_flos", "total FLOs"),
)


def training_budget(recipe: dict | None, trainer_state: dict | None) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    seen: set[str] = set()
    for key, label in _BUDGET_KEYS:
        value = find(recipe, key)
        if value is not None and label not in seen and not (key == "max_steps" and value == -1):
            rows.append((label, fmt(value)))
            seen.add(label)
    if trainer_state and trainer_state.get("global_step") is not None:
        rows.append(("optimizer steps done", fmt(trainer_state["global_step"])))
    return rows


def training_metrics(train_results: dict | None) -> list[tuple[str, str]]:
    if not train_results:
        return []
    rows = []
    for key, label in _METRIC_KEYS:
        if train_results.get(key) is not None:
            value = train_results[key]
            rows.append((label, human(value) if key == "total_flos" else fmt(value)))
    return rows


def reward_rows(recipe: dict | None) -> list[dict[str, str]]:
    funcs = find(recipe, "reward_funcs")
    if not funcs:
        return []
    funcs = [funcs] if isinstance(funcs, str) else list(funcs)
    weights = find(recipe, "reward_weights") or [1.0] * len(funcs)
    kwargs = find(recipe, "reward_kwargs") or {}
    rows = []
    for i, name in enumerate(funcs):
        params = kwargs.get(name) if isinstance(kwargs, dict) else None
        if name == "mixed" and not (params or {}).get("alpha"):
            params_text = "α = default"
        else:
            params_text = ", ".join(("α" if k == "alpha" else k) + f" = {fmt(v)}" for k, v in (params or {}).items()) or "–"
        rows.append(
            {
                "name": str(name),
                "weight": fmt(weights[i]) if i < len(weights) else "1",
                "params": params_text,
                "description": REWARD_MEANINGS.get(str(name), "custom reward"),
            }
        )
    return rows


# ------------------------------------------------------------------------------------------------
# Mixtures and data reports
# ------------------------------------------------------------------------------------------------


def _ops_text(component: MixtureSummary) -> str:
    ops = component["ops"]
    if isinstance(ops, dict):  # op -> weight
        return ", ".join(f"{k}: {fmt(v)}" for k, v in ops.items())
    return f"{ops[0]}–{ops[1]}" if ops[0] != ops[1] else str(ops[0])


def _counts_text(counts: dict[str, int | float]) -> str:
    return ", ".join(f"{k} {fmt(v)}" for k, v in counts.items())


def mixture_rows(mixture: dict[str, list[MixtureSummary]] | None) -> list[dict[str, str]]:
    """One table row per mixture component of each training split, as ``build_report.json`` records them."""
    return [
        {"component": f"{split} #{i + 1}", "ops": _ops_text(c), "weight": fmt(c["weight"]),
         "contexts": _counts_text(c["contexts"])}
        for split, components in (mixture or {}).items()
        for i, c in enumerate(components)
    ]


def split_rows(report: BuildReport | None) -> list[dict[str, str]]:
    """Rows, ops, contexts and duplicates dropped of each split."""
    rows = []
    for name, split in (report or {}).get("splits", {}).items():
        ops = sorted(int(op) for op in split["ops"])
        dropped = split["duplicates_dropped"]
        rows.append({
            "name": name,
            "rows": f"{split['rows']:,}",
            "ops": (f"{ops[0]}–{ops[-1]}" if ops[0] != ops[-1] else str(ops[0])) if ops else "–",
            "contexts": _counts_text(split["contexts"]) or "–",
            "dropped": f"{sum(dropped.values()):,}" + (f" ({_counts_text(dropped)})" if dropped else ""),
        })
    return rows


def split_sizes(report: BuildReport | None) -> list[tuple[str, str]]:
    return [(row["name"], row["rows"]) for row in split_rows(report)]


def load_data_report(source: str | Path | BuildReport | None) -> BuildReport | None:
    """A build report from a dict, a build_report.json path or a dataset directory."""
    if source is None or isinstance(source, dict):
        return source
    return read_build_report(source)


def dataset_report_for(recipe: dict | None, stage_dir: Path) -> tuple[str | None, dict | None]:
    """The dataset a stage trained on, and its build report when the dataset dir is on disk."""
    name = find(recipe, "dataset_path", "dataset_name", "train_dataset", "data_path", "dataset")
    if not isinstance(name, str):
        return None, None
    # as given (relative to the cwd the pipeline ran in), or a sibling of the stage in its run dir
    for candidate in (Path(name), stage_dir.parent / name, stage_dir.parent / Path(name).name):
        if report_path(candidate).is_file():
            return "/".join(Path(name).parts[-2:]), load_data_report(candidate)
    return ("/".join(Path(name).parts[-2:]) if not HUB_ID_RE.match(name) else name), None


# ------------------------------------------------------------------------------------------------
# Evaluation results
# ------------------------------------------------------------------------------------------------


def find_results(results: str | Path | Results | None, stage_dir: Path | None = None) -> tuple[Results | None, Path | None]:
    """(results.json, its directory) from a dict, a file, an eval dir, or beside the stage; read and checked by
    the evaluation layer, which writes it."""
    from interplay_hf.evaluation.aggregate import load_results as load_eval_results

    if isinstance(results, dict):
        return results, None
    if results is not None:
        path = Path(results)
        path = path / RESULTS_FILE if path.is_dir() else path
        if not path.is_file():
            raise ConfigError(f"--results {results}: no results.json there; point it at an eval output dir or its results.json")
        return load_eval_results(path), path.parent
    for folder in (stage_dir, stage_dir / "eval") if stage_dir is not None else ():
        if (folder / RESULTS_FILE).is_file():
            return load_eval_results(folder), folder
    return None, None


def _cell(block: Block, metric: str, k: int) -> str:
    value = block[metric].get(str(k))  # type: ignore[literal-required]
    return f"{value:.3f}" if value is not None else "–"


def _regime_blocks(results: Results) -> list[tuple[str, Block]]:
    return [*results["summary"]["per_regime"].items(), ("overall", results["summary"]["overall"])]


def evaluation_section(results: Results) -> dict[str, Any]:
    """The card's evaluation tables (per regime, per context) from a results.json."""
    ks, regimes = results["k"], results["regimes"]
    rows = []
    for name, block in _regime_blocks(results):
        span = regimes.get(name)
        rows.append(
            {
                "name": name,
                "ops": f"{span[0]}–{span[1]}" if span else "all",
                "num_problems": block["num_problems"],
                "process": [_cell(block, "process_pass@k", k) for k in ks],
                "process_first": [_cell(block, "process_pass@k_first", k) for k in ks],
                "outcome": [_cell(block, "outcome_pass@k", k) for k in ks],
                "chance": [_cell(block, "chance_pass@k", k) for k in ks],
            }
        )
    contexts = [
        {"name": name, "num_problems": block["num_problems"],
         "pairs": [(_cell(block, "process_pass@k", k), _cell(block, "outcome_pass@k", k)) for k in ks]}
        for name, block in results["summary"]["per_context"].items()
    ]
    shown = ("temperature", "top_p", "max_new_tokens", "seed", "backend")
    return {
        "data": _short_path(results["data"]),
        "n": results["n"],
        "k": ks,
        "sampling": [(k, fmt(v)) for k, v in results["sampling"].items() if k in shown],
        "regimes": rows,
        "contexts": contexts if len(contexts) > 1 else [],
    }


def _short_path(value: Any) -> str:
    if not isinstance(value, str) or not value:
        return "–"
    return value if HUB_ID_RE.match(value) else "/".join(Path(value).parts[-2:])


def eval_results(results: Results, model_name: str):
    """``EvalResult`` entries for the card's ``model-index``: process and outcome pass@k per regime."""
    from huggingface_hub import EvalResult

    data_name = _short_path(results["data"])
    out = []
    for regime, block in _regime_blocks(results):
        span = results["regimes"].get(regime)
        label = f"{regime} (op {span[0]}-{span[1]})" if span else regime
        for metric, pretty in (("process_pass@k", "process-verified pass@{k}"), ("outcome_pass@k", "outcome pass@{k}")):
            for k in results["k"]:
                value = block[metric].get(str(k))  # type: ignore[literal-required]
                if value is None:
                    continue
                out.append(
                    EvalResult(
                        task_type="text-generation",
                        task_name="Synthetic multi-step arithmetic reasoning",
                        dataset_type="interplay-hf-synthetic",
                        dataset_name=f"{data_name} — {label}",
                        dataset_config=regime,
                        dataset_split="test",
                        metric_type=metric.replace("@k", f"@{k}"),
                        metric_name=pretty.format(k=k),
                        metric_value=round(value, 4),
                    )
                )
    return out


def plot_files(results_dir: Path | None) -> list[dict[str, str]]:
    if results_dir is None or not (results_dir / "plots").is_dir():
        return []
    return [
        {"title": p.stem.replace("_", " "), "path": f"plots/{p.name}", "local": str(p)}
        for p in sorted((results_dir / "plots").glob("*.png"))
    ]
