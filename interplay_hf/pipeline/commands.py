"""A planned stage → its command line: ``${refs}`` resolved to folders, args rendered as flags in the style of
the stage's program, the ``accelerate launch`` words, and the merged recipe a stage with ``recipe_overrides``
is given instead of its own.

Paths inside the root are shown (and passed) relative to it: commands run in the root.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

from interplay_hf.launch import AccelerateLaunch
from interplay_hf.pipeline.schema import REF_RE, PlannedStage
from interplay_hf.yaml_io import load_yaml_mapping, merge_recipe


def display_path(path: Path, root: Path) -> str:
    """Paths inside the root are shown (and passed) relative to it: commands run in the root."""
    try:
        return str(path.resolve().relative_to(root))
    except ValueError:
        return str(path.resolve())


def resolve_refs(value: Any, context: dict) -> Any:
    """Replace ${refs} with folder paths; a whole-value matrix ref becomes a list of folders."""
    root = context["root"]
    if isinstance(value, dict):
        return {k: resolve_refs(v, context) for k, v in value.items()}
    if isinstance(value, list):
        out: list[Any] = []
        for item in value:
            resolved = resolve_refs(item, context)
            out.extend(resolved if isinstance(resolved, list) and isinstance(item, str) else [resolved])
        return out
    if not isinstance(value, str):
        return value
    whole = REF_RE.fullmatch(value.strip())
    target = whole.group(1).strip() if whole else None
    if target in context["variants_of"] and target not in context["output_dirs"]:
        return [display_path(context["output_dirs"][v], root) for v in context["variants_of"][target]]

    def one(match: re.Match) -> str:
        target = match.group(1).strip()
        if target == "output":
            return display_path(context["self"].output_path, root)
        if target == "run_dir":
            return display_path(context["self"].output_dir.parent, root)
        return display_path(context["output_dirs"][target], root)

    return REF_RE.sub(one, value)


def _flag_words(key: str, value: Any, style: str) -> list[str]:
    """One arg → command words. TRL flags keep snake_case; our CLIs use kebab-case."""
    if value is None:
        return []
    flag = "--" + (key if style == "trl" else key.replace("_", "-"))
    if isinstance(value, bool):
        if style == "trl":
            return [flag, "true" if value else "false"]
        return [flag] if value else ["--no-" + key.replace("_", "-")]  # our CLIs: --plots / --no-plots
    if isinstance(value, dict):
        return [flag, json.dumps(value, sort_keys=True)]
    if isinstance(value, list):
        if style == "trl":
            return [flag, *[_scalar(v) for v in value]]
        return [flag, ",".join(_scalar(v) for v in value)]
    return [flag, _scalar(value)]


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return str(value)


def _report_labels(evals: Any, context: dict) -> list[str]:
    """Default report labels: variant names for ${eval} fan-outs, stage names for single refs."""
    labels: list[str] = []
    items = evals if isinstance(evals, list) else [evals]
    for item in items:
        whole = REF_RE.fullmatch(str(item).strip())
        target = whole.group(1).strip() if whole else None
        if target in context["variants_of"] and target not in context["output_dirs"]:
            labels.extend(v.split(".", 1)[1] for v in context["variants_of"][target])
        elif target in context["output_dirs"]:
            labels.append(target.split(".", 1)[1] if "." in target else target)
        else:
            labels.append(Path(str(item)).name)
    return labels


def render_command(stage, stage_type, body, accelerate_config, num_processes, launch_args, context) -> list[str]:
    root = context["root"]
    out = display_path(stage.output_path, root)
    if body["type"] == "shell":
        def quoted(match: re.Match) -> str:
            resolved = resolve_refs("${" + match.group(1) + "}", context)
            return " ".join(shlex.quote(p) for p in (resolved if isinstance(resolved, list) else [resolved]))

        command = REF_RE.sub(quoted, body["command"].strip())
        return ["sh", "-c", command]
    args = dict(stage.args)
    if body["type"] == "report" and "labels" not in args:
        args["labels"] = _report_labels(args["evals"], context)
    resolved = resolve_refs(args, context)
    words: list[str] = []
    recipe_word = resolve_refs(stage.recipe, context) if stage.recipe else None
    if body.get("recipe_overrides") is not None:
        recipe_word = display_path(stage.merged_recipe_path, root)
    if stage_type.recipe == "positional":
        words.append(recipe_word)
    elif stage_type.recipe == "config":
        words += ["--config", recipe_word]
    for key in stage_type.positional:
        value = resolved.pop(key)
        words += [_scalar(v) for v in value] if isinstance(value, list) else [_scalar(value)]
    if stage_type.output_flag:
        words += [stage_type.output_flag, out, *stage_type.fixed_flags]
    for key, value in resolved.items():
        words += _flag_words(key, value, stage_type.flag_style)
    if stage_type.program != "accelerate":
        return [stage_type.program, *stage_type.base, *words]
    module, *sub = stage_type.base
    stage.launch = AccelerateLaunch(module, (*sub, *words), accelerate_config, num_processes,
                                    tuple(str(a) for a in launch_args), root)
    return stage.launch.words()


def write_merged_recipe(stage: PlannedStage, root: Path) -> Path:
    """Write ``<stage>/pipeline_recipe.yaml`` = the stage recipe with its ``recipe_overrides`` (at run time, so a
    recipe written by an input stage can be overridden too)."""
    import yaml

    source = root / stage.recipe
    base = load_yaml_mapping(source, f"{stage.where}.recipe (to apply recipe_overrides)")
    merged = merge_recipe(base, stage.recipe_overrides or {})
    header = (f"# Written by `interplay-hf pipeline`: {stage.recipe} with the recipe_overrides of stage "
              f"{stage.name!r}.\n")
    stage.merged_recipe_path.parent.mkdir(parents=True, exist_ok=True)
    stage.merged_recipe_path.write_text(header + yaml.safe_dump(merged, sort_keys=False, allow_unicode=True),
                                        encoding="utf-8")
    return stage.merged_recipe_path
