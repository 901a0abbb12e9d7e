"""Model and dataset cards rendered from our own templates.

TRL's ``trainer.create_model_card`` describes a fine-tune of a Hub model; ours are trained from
scratch or from a local stage, so we render the card from what a stage directory holds:
``recipe.yaml`` (the resolved config), ``config.json`` and the safetensors header (architecture,
parameter count), ``train_results.json`` / ``trainer_state.json`` (budget spent), an evaluation
``results.json`` (+ ``plots/``) and the dataset's ``build_report.json`` (mixture, sizes, dedup).

Templates are Jinja files packaged in ``interplay_hf/templates/`` (``model_card.md.jinja``,
``dataset_card.md.jinja``); any other template can be passed as ``template=``. Rendering uses
``StrictUndefined``: a template that uses a field we do not provide is a ConfigError naming it.
The YAML header comes from ``ModelCardData`` / ``DatasetCardData`` so the Hub indexes it
(``model-index`` holds the evaluation results).

What the cards say is read from disk by ``card_inputs.py``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from interplay_hf import __version__
from interplay_hf.errors import ConfigError
from interplay_hf.hub.card_inputs import (
    HUB_ID_RE,
    dataset_report_for,
    eval_results,
    evaluation_section,
    find_results,
    fmt,
    human,
    load_data_report,
    mixture_rows,
    model_origin,
    plot_files,
    read_json,
    read_stage_recipe,
    recipe_comments,
    recipe_yaml_text,
    reward_rows,
    split_rows,
    split_sizes,
    stage_kind,
    training_budget,
    training_metrics,
)
from interplay_hf.models import safetensors_parameters
from interplay_hf.paper import CITATION
from interplay_hf.redact import scrub

DEFAULT_LICENSE = "apache-2.0"
MODEL_TEMPLATE = "model_card.md.jinja"
DATASET_TEMPLATE = "dataset_card.md.jinja"

COLUMN_MEANINGS = {
    "problem": "problem statement (official text; ends with '. ')",
    "question": "the question about the queried quantity",
    "solution": "gold step-by-step solution ending with 'Answer: N.'",
    "op": "number of operations needed for the answer (difficulty)",
    "id": "problem id",
    "template": "official context name (crazy_zootopia, teachers_in_school, movie_festival_awards)",
    "mode": "normalforward or forwardreverse",
    "length": "official length tag (zero_context)",
    "d": "official depth parameter",
    "context": "short context name (zoo, teacher, movie)",
    "text": "model text: prompt + completion (pre-training)",
    "prompt": "model prompt, up to and including <solution> (RL, evaluation)",
    "completion": "gold continuation of the prompt",
    "answer": "gold final answer (string)",
    "gold_graph": "gold dependency graph as JSON (process verification)",
}


# ------------------------------------------------------------------------------------------------
# Templates
# ------------------------------------------------------------------------------------------------


def template_text(name_or_path: str | Path) -> tuple[str, str]:
    """(template source, display name): a packaged template by file name, or any file path."""
    path = Path(name_or_path)
    if path.is_file():
        return path.read_text(encoding="utf-8"), str(path)
    packaged = resources.files("interplay_hf") / "templates" / str(name_or_path)
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8"), f"interplay_hf/templates/{name_or_path}"
    raise ConfigError(f"card template {str(name_or_path)!r} not found (--template): give a file path or one of {MODEL_TEMPLATE}, {DATASET_TEMPLATE}")


def render_template(source: str, context: dict[str, Any], *, name: str = "template") -> str:
    """Render with StrictUndefined so a field the template needs but we do not provide is an error, in Jinja's
    sandbox: a ``--template`` file is someone's text, and must not reach Python internals
    (``{{ ''.__class__.__mro__ ... }}``) or unsafe attributes; what it tries is a one-line error."""
    import jinja2
    from jinja2.sandbox import SandboxedEnvironment

    env = SandboxedEnvironment(undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                               keep_trailing_newline=True)
    try:
        return env.from_string(source).render(**context)
    except jinja2.exceptions.SecurityError as err:
        raise ConfigError(f"card template {name}: {err}; a card template may only read the card's fields") from None
    except jinja2.UndefinedError as err:
        raise ConfigError(
            f"card template {name} uses a field that is not provided: {err.message}. "
            f"Fields available: {', '.join(sorted(context))}. Fix the template or pass the value."
        ) from err
    except jinja2.TemplateSyntaxError as err:
        raise ConfigError(f"card template {name} line {err.lineno}: {err.message}") from err


# ------------------------------------------------------------------------------------------------
# Public API
# ------------------------------------------------------------------------------------------------


ARCHITECTURE_ROWS = (
    ("model_type", "architecture"),
    ("hidden_size", "hidden size"),
    ("num_hidden_layers", "layers"),
    ("num_attention_heads", "attention heads"),
    ("num_key_value_heads", "KV heads"),
    ("intermediate_size", "MLP size"),
    ("vocab_size", "vocabulary"),
    ("max_position_embeddings", "max positions"),
    ("tie_word_embeddings", "tied embeddings"),
)
STAGE_KIND_WORDS = {
    "pretrain": "pre-trained from scratch",
    "midtrain": "mid-trained (continued pre-training on a shifted mixture)",
    "rl": "trained with GRPO (reinforcement learning with verifiable rewards)",
    "sft": "fine-tuned",
}


def _architecture_rows(config: dict, n_params: int | None) -> list[tuple[str, str]]:
    """(label, value) rows of the card's architecture table, from config.json and the weights' size."""
    rows = [(label, fmt(config[key])) for key, label in ARCHITECTURE_ROWS if key in config]
    if n_params:
        rows.append(("parameters", f"{human(n_params)} ({n_params:,})"))
    return rows


def _model_summary(kind: str, config: dict, n_params: int | None) -> str:
    """The card's one-sentence summary: size, architecture and how the stage trained it."""
    size = human(n_params) + "-parameter " if n_params else ""
    return (f"A {size}{config.get('model_type', 'causal')} language model {STAGE_KIND_WORDS.get(kind, 'trained')} "
            "on synthetic multi-step arithmetic reasoning problems.")


def model_card_context(
    stage_dir: str | Path,
    *,
    results: str | Path | dict | None = None,
    recipe: dict | None = None,
    data_report: str | Path | dict | None = None,
    repo_id: str | None = None,
    revision: str | None = None,
    subfolder: str | None = None,
    stages: list[dict[str, str]] | None = None,
    license: str = DEFAULT_LICENSE,
    title: str | None = None,
) -> dict[str, Any]:
    """Everything the model card template can use (documented by the template itself)."""
    stage_dir = Path(stage_dir)
    if not stage_dir.is_dir():
        raise ConfigError(f"stage dir {stage_dir} does not exist; give the output_dir of a training stage")
    own_recipe = recipe is None
    recipe = read_stage_recipe(stage_dir) if recipe is None else recipe
    config = read_json(stage_dir / "config.json") or {}
    trainer_state = read_json(stage_dir / "trainer_state.json")
    train_results = read_json(stage_dir / "train_results.json")
    results_dict, results_dir = find_results(results, stage_dir)
    dataset_name, report = dataset_report_for(recipe, stage_dir)
    if data_report is not None:
        report = load_data_report(data_report)
    mixture = mixture_rows((report or {}).get("mixture"))

    kind = stage_kind(stage_dir, recipe)
    origin = model_origin(recipe)
    n_params = safetensors_parameters(stage_dir)
    architecture = _architecture_rows(config, n_params)
    name = title or (repo_id.split("/")[-1] if repo_id else stage_dir.name)
    summary = _model_summary(kind, config, n_params)
    plots = plot_files(results_dir)
    return {
        "title": name,
        "summary": summary,
        "repo_id": repo_id,
        "revision": revision,
        "subfolder": subfolder,
        "stage": {"name": stage_dir.name, "kind": kind},
        "model": dict(origin, architecture=architecture),
        "load": {"repo_id": repo_id or f"<path to {stage_dir.name}>", "subfolder": subfolder, "revision": revision},
        "stages": stages or [],
        "data": {"source": (report or {}).get("name") or dataset_name, "mixture": mixture, "sizes": split_sizes(report)},
        "budget": training_budget(recipe, trainer_state),
        "train_metrics": training_metrics(train_results),
        "rewards": reward_rows(recipe),
        "evaluation": evaluation_section(results_dict) if results_dict else None,
        "plots": [{"title": p["title"], "path": p["path"]} for p in plots],
        "recipe_yaml": recipe_yaml_text(recipe, recipe_comments(stage_dir) if own_recipe else []) if recipe else None,
        "citation": CITATION,
        "license": license,
        "version": __version__,
        # not for the template: what the push plan needs and the metadata header
        "_plot_files": plots,
        "_results": results_dict,
        "_results_dir": results_dir,
    }


def render_model_card(
    stage_dir: str | Path,
    *,
    results: str | Path | dict | None = None,
    recipe: dict | None = None,
    data_report: str | Path | dict | None = None,
    repo_id: str | None = None,
    revision: str | None = None,
    subfolder: str | None = None,
    stages: list[dict[str, str]] | None = None,
    license: str = DEFAULT_LICENSE,
    title: str | None = None,
    template: str | Path = MODEL_TEMPLATE,
    extra: dict[str, Any] | None = None,
):
    """Render the model card of a training stage as a ``huggingface_hub.ModelCard``.

    ``results``: an eval output dir, its results.json, or the dict (default: ``results.json`` or
    ``eval/results.json`` inside the stage dir, if any). ``recipe``: overrides ``recipe.yaml``.
    ``extra``: more template fields for a custom ``template``.
    """
    from huggingface_hub import ModelCard, ModelCardData

    context = model_card_context(
        stage_dir,
        results=results,
        recipe=recipe,
        data_report=data_report,
        repo_id=repo_id,
        revision=revision,
        subfolder=subfolder,
        stages=stages,
        license=license,
        title=title,
    )
    origin = context["model"]
    tags = ["interplay-hf", "reasoning", "synthetic-data", "arithmetic", context["stage"]["kind"]]
    tags += {"rl": ["grpo", "trl"], "pretrain": ["from-scratch", "trl", "sft"], "midtrain": ["trl", "sft"], "sft": ["trl", "sft"]}.get(
        context["stage"]["kind"], []
    )
    model_name = context["title"]
    results_dict = context["_results"]
    card_data = ModelCardData(
        language="en",
        license=license,
        library_name="transformers",
        pipeline_tag="text-generation",
        tags=tags,
        base_model=origin["name"] if origin["origin"] == "hub" else None,
        datasets=[context["data"]["source"]] if HUB_ID_RE.match(context["data"]["source"] or "") else None,
        model_name=model_name if results_dict else None,  # names the model-index entry
        eval_results=eval_results(results_dict, model_name) if results_dict else None,
    )
    template_source, template_name = template_text(template)
    public = {k: v for k, v in context.items() if not k.startswith("_")}
    public.update(extra or {})
    public["card_data"] = card_data.to_yaml()
    return ModelCard(scrub(render_template(template_source, public, name=template_name)))


def _size_category(rows: int) -> str:
    for limit, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M")):
        if rows < limit:
            return label
    return "10M<n<100M" if rows < 100_000_000 else "100M<n<1B"


def dataset_card_context(
    dataset_dir: str | Path,
    *,
    report: str | Path | dict | None = None,
    repo_id: str | None = None,
    license: str = DEFAULT_LICENSE,
    title: str | None = None,
) -> dict[str, Any]:
    """Template fields for a dataset built by ``interplay-hf data build`` (a ``save_to_disk`` dir)."""
    dataset_dir = Path(dataset_dir)
    if not dataset_dir.is_dir():
        raise ConfigError(f"dataset dir {dataset_dir} does not exist; give the --output-dir of `interplay-hf data build`")
    report = load_data_report(report if report is not None else dataset_dir)
    import datasets

    try:
        loaded = datasets.load_from_disk(str(dataset_dir))
    except FileNotFoundError as err:
        raise ConfigError(f"{dataset_dir} is not a dataset saved with save_to_disk ({err})") from err
    splits_ds = loaded if isinstance(loaded, datasets.DatasetDict) else {"train": loaded}
    total = sum(ds.num_rows for ds in splits_ds.values())
    splits = split_rows(report) or [
        {"name": name, "rows": f"{ds.num_rows:,}", "ops": "–", "contexts": "–", "dropped": "–"}
        for name, ds in splits_ds.items()
    ]
    first = next(iter(splits_ds.values()))
    schema = [
        {"name": col, "dtype": getattr(feature, "dtype", type(feature).__name__), "description": COLUMN_MEANINGS.get(col, "")}
        for col, feature in first.features.items()
    ]
    generator = [(k, fmt(v)) for k, v in report["generator"].items()] + [("seed", fmt(report["seed"]))] if report else []
    name = title or (report["name"] if report else None) or (repo_id.split("/")[-1] if repo_id else dataset_dir.name)
    summary = (report["description"] if report else None) or \
        f"Synthetic reasoning problems: {total:,} rows in {len(splits)} split(s)."
    return {
        "title": name,
        "summary": summary,
        "repo_id": repo_id,
        "load": {"repo_id": repo_id or f"<path to {dataset_dir.name}>"},
        "generator": generator,
        "mixture": mixture_rows(report["mixture"]) if report else [],
        "splits": splits,
        "built": report is not None,
        "dedup_against": report["dedup_against"] if report else [],
        "schema": schema,
        "recipe_yaml": recipe_yaml_text(report["recipe"]) if report else None,
        "citation": CITATION,
        "license": license,
        "version": __version__,
        "_total_rows": total,
    }


def render_dataset_card(
    dataset_dir: str | Path,
    *,
    report: str | Path | dict | None = None,
    repo_id: str | None = None,
    license: str = DEFAULT_LICENSE,
    title: str | None = None,
    template: str | Path = DATASET_TEMPLATE,
    extra: dict[str, Any] | None = None,
):
    """Render the dataset card of a built dataset as a ``huggingface_hub.DatasetCard``.

    ``report``: the build report (dict or path); default ``<dataset_dir>/build_report.json``.
    """
    from huggingface_hub import DatasetCard, DatasetCardData

    context = dataset_card_context(dataset_dir, report=report, repo_id=repo_id, license=license, title=title)
    card_data = DatasetCardData(
        language=["en"],
        license=license,
        pretty_name=context["title"],
        size_categories=[_size_category(context["_total_rows"])],
        source_datasets=["original"],
        task_categories=["text-generation", "question-answering"],
        tags=["interplay-hf", "synthetic", "reasoning", "arithmetic", "process-supervision"],
    )
    template_source, template_name = template_text(template)
    public = {k: v for k, v in context.items() if not k.startswith("_")}
    public.update(extra or {})
    public["card_data"] = card_data.to_yaml()
    return DatasetCard(scrub(render_template(template_source, public, name=template_name)))
