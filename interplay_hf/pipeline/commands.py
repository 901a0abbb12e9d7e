"""The pieces of a stage's command line (each kind in :mod:`~interplay_hf.pipeline.stages` assembles its own):
``${refs}`` resolved to folders, args rendered as flags in the style of the stage's program, and the merged
recipe a stage with ``recipe_overrides`` is given instead of its own.

Paths inside the root are shown (and passed) relative to it: commands run in the root.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

from interplay_hf.pipeline.schema import REF_RE, PlannedStage, StageType
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


def report_labels(evals: Any, context: dict) -> list[str]:
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


def shell_command(command: str, context: dict) -> list[str]:
    """``sh -c <command>`` with each ``${ref}`` replaced by its quoted folder(s)."""
    def quoted(match: re.Match) -> str:
        resolved = resolve_refs("${" + match.group(1) + "}", context)
        return " ".join(shlex.quote(p) for p in (resolved if isinstance(resolved, list) else [resolved]))

    return ["sh", "-c", REF_RE.sub(quoted, command.strip())]


def command_words(stage: PlannedStage, stage_type: StageType, resolved: dict[str, Any], recipe: str | None,
                  context: dict) -> list[str]:
    """The words after the program: the recipe (positional or ``--config``), positional args, the output flag,
    then every other arg as a flag in the style of the program."""
    resolved = dict(resolved)
    words: list[str] = []
    if stage_type.recipe == "positional":
        words.append(recipe)
    elif stage_type.recipe == "config":
        words += ["--config", recipe]
    for key in stage_type.positional:
        value = resolved.pop(key)
        words += [_scalar(v) for v in value] if isinstance(value, list) else [_scalar(value)]
    if stage_type.output_flag:
        words += [stage_type.output_flag, display_path(stage.output_path, context["root"]), *stage_type.fixed_flags]
    for key, value in resolved.items():
        words += _flag_words(key, value, stage_type.flag_style)
    return words


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
