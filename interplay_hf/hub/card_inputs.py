"""What a card says, read from disk: stage dirs, eval results, dataset build reports — and secrets kept out.

Turns the files a stage leaves behind (``recipe.yaml``, ``config.json``, the safetensors header,
``train_results.json``, ``trainer_state.json``), an evaluation ``results.json`` and a dataset's
``build_report.json`` into the plain rows the card templates print. No template logic here.

Inputs read from ``build_report.json`` (all optional; written beside a dataset by ``interplay-hf data build``):
``name``, ``description``, ``generator`` (dict of settings), ``seed``, ``mixture`` (list of components
``{ops|op_range|op_min/op_max, weight|proportion|share, contexts|context}``, or a dict of split -> such a
list / ``{"mixture": [...]}``), ``splits`` (dict split -> ``{num_rows|rows|num_examples, <other counts>}``)
or ``sizes`` (dict split -> rows), ``dedup`` (dict of counts), ``recipe`` (the data recipe, dict).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from interplay_hf.errors import ConfigError
from interplay_hf.redact import REDACTED, redact, scrub  # noqa: F401 - re-exported for the card modules

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


def read_recipe(stage_dir: Path) -> dict | None:
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


def _ops_text(component: dict) -> str:
    ops = component.get("ops", component.get("op_range", component.get("op")))
    if ops is None and component.get("op_min") is not None:
        ops = [component["op_min"], component.get("op_max", component["op_min"])]
    if isinstance(ops, (list, tuple)) and len(ops) == 2 and all(isinstance(o, int) for o in ops):
        return f"{ops[0]}–{ops[1]}" if ops[0] != ops[1] else str(ops[0])
    if isinstance(ops, dict):  # op -> probability
        return ", ".join(f"{k}: {fmt(v)}" for k, v in ops.items())
    return fmt(ops) if ops is not None else "–"


def _contexts_text(component: dict) -> str:
    contexts = component.get("contexts", component.get("context"))
    if isinstance(contexts, dict):
        return ", ".join(f"{k} {fmt(v)}" for k, v in contexts.items())
    return fmt(contexts) if contexts is not None else "–"


def mixture_rows(mixture: Any, prefix: str = "") -> list[dict[str, str]]:
    """Normalise the mixture shapes a data recipe/report may use into table rows."""
    if mixture is None:
        return []
    if isinstance(mixture, dict):
        for key in ("components", "mixture", "sources"):
            if key in mixture:
                return mixture_rows(mixture[key], prefix)
        if any(isinstance(v, (list, dict)) for v in mixture.values()):  # split -> components
            rows = []
            for split, sub in mixture.items():
                rows.extend(mixture_rows(sub, f"{prefix}{split}"))
            return rows
        return [_component_row(mixture, prefix or "all", 0)]
    if isinstance(mixture, list):
        return [_component_row(c, prefix, i) for i, c in enumerate(mixture) if isinstance(c, dict)]
    return []


def _component_row(component: dict, prefix: str, index: int) -> dict[str, str]:
    name = component.get("name") or component.get("split") or f"#{index + 1}"
    weight = next((component[k] for k in ("weight", "proportion", "share", "prob", "fraction", "num_examples", "count") if k in component), None)
    return {
        "component": f"{prefix} {name}".strip() if prefix else str(name),
        "ops": _ops_text(component),
        "weight": fmt(weight) if weight is not None else "–",
        "contexts": _contexts_text(component),
    }


def split_sizes(report: dict | None) -> list[tuple[str, str]]:
    if not report:
        return []
    if isinstance(report.get("splits"), dict):
        out = []
        for split, info in report["splits"].items():
            rows = info.get("num_rows", info.get("rows", info.get("num_examples"))) if isinstance(info, dict) else info
            out.append((split, fmt(rows)))
        return out
    if isinstance(report.get("sizes"), dict):
        return [(k, fmt(v)) for k, v in report["sizes"].items()]
    return []


def load_data_report(source: str | Path | dict | None) -> dict | None:
    """A build report as a dict, from a dict, a build_report.json path or a dataset directory."""
    if source is None or isinstance(source, dict):
        return source
    path = Path(source)
    if path.is_dir():
        path = path / "build_report.json"
    return read_json(path)


def dataset_report_for(recipe: dict | None, stage_dir: Path) -> tuple[str | None, dict | None]:
    """The dataset a stage trained on, and its build report when the dataset dir is on disk."""
    name = find(recipe, "dataset_path", "dataset_name", "train_dataset", "data_path", "dataset")
    if not isinstance(name, str):
        return None, None
    # as given (relative to the cwd the pipeline ran in), or a sibling of the stage in its run dir
    for candidate in (Path(name), stage_dir.parent / name, stage_dir.parent / Path(name).name):
        if (candidate / "build_report.json").is_file():
            return "/".join(Path(name).parts[-2:]), load_data_report(candidate)
    return ("/".join(Path(name).parts[-2:]) if not HUB_ID_RE.match(name) else name), None


# ------------------------------------------------------------------------------------------------
# Evaluation results
# ------------------------------------------------------------------------------------------------


def load_results(results: str | Path | dict | None, stage_dir: Path | None = None) -> tuple[dict | None, Path | None]:
    """(results.json as a dict, its directory) from a dict, a file, an eval dir, or beside the stage."""
    if isinstance(results, dict):
        return results, None
    candidates: list[Path] = []
    if results is not None:
        path = Path(results)
        candidates = [path / "results.json" if path.is_dir() else path]
        if not candidates[0].is_file():
            raise ConfigError(f"--results {results}: no results.json there; point it at an eval output dir or its results.json")
    elif stage_dir is not None:
        candidates = [stage_dir / "results.json", stage_dir / "eval" / "results.json"]
    for path in candidates:
        data = read_json(path)
        if data is not None:
            return data, path.parent
    return None, None


def _value(block: dict, metric: str, k: int) -> float | None:
    values = block.get(metric) or {}
    value = values.get(str(k), values.get(k))
    return float(value) if value is not None else None


def _cell(value: float | None) -> str:
    return f"{value:.3f}" if value is not None else "–"


def evaluation_section(results: dict) -> dict[str, Any]:
    """The card's evaluation tables (per regime, per context) from a results.json dict."""
    ks = [int(k) for k in results.get("k", [])]
    summary = results.get("summary") or {}
    if not ks or not summary:
        raise ConfigError("results.json has no `k` list or no `summary`; re-run `interplay-hf eval` to produce it")
    regimes = results.get("regimes") or {}
    per_regime = summary.get("per_regime") or {}
    rows = []
    for name, block in list(per_regime.items()) + [("overall", summary.get("overall"))]:
        if not block:
            continue
        span = regimes.get(name)
        rows.append(
            {
                "name": name,
                "ops": f"{span[0]}–{span[1]}" if span else ("all" if name == "overall" else "–"),
                "num_problems": block.get("num_problems", "–"),
                "process": [_cell(_value(block, "process_pass@k", k)) for k in ks],
                "process_first": [_cell(_value(block, "process_pass@k_first", k)) for k in ks],
                "outcome": [_cell(_value(block, "outcome_pass@k", k)) for k in ks],
                "chance": [_cell(_value(block, "chance_pass@k", k)) for k in ks],
            }
        )
    contexts = []
    for name, block in (summary.get("per_context") or {}).items():
        pairs = [(_cell(_value(block, "process_pass@k", k)), _cell(_value(block, "outcome_pass@k", k))) for k in ks]
        contexts.append({"name": name, "num_problems": block.get("num_problems", "–"), "pairs": pairs})
    sampling = results.get("sampling") or {}
    return {
        "data": _short_path(results.get("data")),
        "n": results.get("n", "–"),
        "k": ks,
        "sampling": [(k, fmt(v)) for k, v in sampling.items() if k in ("temperature", "top_p", "max_new_tokens", "seed", "backend")],
        "regimes": rows,
        "contexts": contexts if len(contexts) > 1 else [],
    }


def _short_path(value: Any) -> str:
    if not isinstance(value, str) or not value:
        return "–"
    return value if HUB_ID_RE.match(value) else "/".join(Path(value).parts[-2:])


def eval_results(results: dict, model_name: str):
    """``EvalResult`` entries for the card's ``model-index``: process and outcome pass@k per regime."""
    from huggingface_hub import EvalResult

    ks = [int(k) for k in results.get("k", [])]
    summary = results.get("summary") or {}
    data_name = _short_path(results.get("data"))
    regimes = results.get("regimes") or {}
    out = []
    blocks = list((summary.get("per_regime") or {}).items()) + [("overall", summary.get("overall"))]
    for regime, block in blocks:
        if not block:
            continue
        span = regimes.get(regime)
        label = f"{regime} (op {span[0]}-{span[1]})" if span else regime
        for metric, pretty in (("process_pass@k", "process-verified pass@{k}"), ("outcome_pass@k", "outcome pass@{k}")):
            for k in ks:
                value = _value(block, metric, k)
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
