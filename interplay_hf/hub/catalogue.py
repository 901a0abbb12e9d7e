"""The official released checkpoints (Interplay-LM-Reasoning on the Hub), by name.

The authors publish their 100M models as four Hub repos with one folder per experiment setting
(docs/paper-settings.md). This module is a catalogue of those folders with short aliases and the evaluation
set each one belongs to, so ``interplay-hf eval --released ctx-0.01-rl-strict`` needs no path typing.

What the catalogue knows, and how sure it is (``ReleasedCheckpoint.status``):

- ``confirmed``: the folder is named in docs/paper-settings.md or in the release's own README.
- ``inferred``: the folder follows the release's layout but is not named anywhere we can cite
  (e.g. ``rl/op11-14_uniform`` for the settings other than ``0.5easy``). Resolving one warns.
- ``uncatalogued``: an explicit ``<repo>/<setting>/...`` path that fits the layout of a known repo
  and setting but is not listed (docs/paper-settings.md says the lists are partial: "…" after the mid-training
  checkpoints, ``rl/<RL data preset>`` beyond the examples). Accepted with an
  :class:`UncataloguedCheckpointWarning`, or refused with ``strict=True``. Anything else (unknown
  repo, unknown setting, a path that does not fit the layout, an unknown alias) is a ConfigError
  that suggests the closest names.

Pure Python: nothing heavy is imported until :func:`load_released`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

ORG = "Interplay-LM-Reasoning"
ALL_OPS: tuple[int, ...] = tuple(range(2, 21))  # test sets: op 2-20, 200 problems per op (docs/evaluation.md)
REGIMES: dict[str, tuple[int, int]] = {"ID": (2, 10), "OOD-edge": (11, 14), "OOD-hard": (15, 20)}
# Files the released folders hold (docs/paper-settings.md); RL folders also carry an unused chat_template.jinja.
RELEASED_FILES: tuple[str, ...] = (
    "config.json",
    "generation_config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
)


class UncataloguedCheckpointWarning(UserWarning):
    """An explicit released path (or an inferred entry) that the catalogue cannot vouch for."""


@dataclass(frozen=True)
class ReleasedCheckpoint:
    """One folder of a released repo, with what it was trained on and what to evaluate it on."""

    repo_id: str  # e.g. "Interplay-LM-Reasoning/context_pretrain"
    subfolder: str  # e.g. "idzoo_0.99zoo_0.01teacher/base"
    alias: str | None  # short name, e.g. "ctx-0.01-base" (None for uncatalogued paths)
    experiment: str  # "extrapolation" | "midtrain" | "context" | "context-op2"
    stage: str  # "base" (end of pre-training) | "midtrain" | "rl"
    setting: str  # the top-level folder = the pre-training mixture preset
    pretraining: str  # the pre-training mixture in words
    variant: str | None = None  # RL data preset / mid-training preset
    description: str = ""  # what this stage adds, in words
    eval_ops: tuple[int, ...] = ALL_OPS
    eval_contexts: tuple[str, ...] = ("zoo",)
    eval_description: str = ""
    step: int | None = None  # checkpoint-N for mid-training checkpoints
    nominal: tuple[tuple[int, float], ...] = ()  # (RL steps, mid-training share) pairs the release ties to it
    status: str = "confirmed"  # "confirmed" | "inferred" | "uncatalogued"
    source: str = ""  # where the entry comes from
    revision: str | None = None  # the released repos use main

    @property
    def repo_name(self) -> str:
        return self.repo_id.split("/", 1)[1]

    @property
    def path(self) -> str:
        """``<repo name>/<subfolder>``: the form ``--released`` accepts besides the alias."""
        return f"{self.repo_name}/{self.subfolder}"

    @property
    def name(self) -> str:
        return self.alias or self.path

    @property
    def eval_regimes(self) -> dict[str, tuple[int, int]]:
        """The paper's regimes restricted to the ops this checkpoint is evaluated on."""
        ops = set(self.eval_ops)
        return {name: span for name, span in REGIMES.items() if ops & set(range(span[0], span[1] + 1))}

    def to_dict(self) -> dict[str, Any]:
        return {
            "alias": self.alias,
            "repo_id": self.repo_id,
            "subfolder": self.subfolder,
            "revision": self.revision,
            "experiment": self.experiment,
            "stage": self.stage,
            "setting": self.setting,
            "pretraining": self.pretraining,
            "variant": self.variant,
            "description": self.description,
            "eval_ops": list(self.eval_ops),
            "eval_contexts": list(self.eval_contexts),
            "eval_description": self.eval_description,
            "step": self.step,
            "nominal": [{"rl_steps": s, "midtrain_share": b} for s, b in self.nominal],
            "status": self.status,
            "source": self.source,
        }


# --------------------------------------------------------------------------------------------------
# The catalogue. Settings and preset meanings come from docs/paper-settings.md and the release's PRESET.json.
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Repo:
    name: str
    experiment: str
    settings: dict[str, str]  # setting folder -> alias stem
    pretraining: dict[str, str]  # setting folder -> mixture in words
    eval_contexts: tuple[str, ...]
    eval_description: str
    layout: tuple[str, ...]  # regexes a subfolder below the setting must match
    notes: str = ""
    midtrain: dict[str, Any] = field(default_factory=dict)


_EXTRAP_EVAL = (
    "composition test set: op 2-20 (ID 2-10, OOD-edge 11-14, OOD-hard 15-20), 200 problems per op; the "
    "official generator cycles zoo/teacher/movie templates, so all three contexts appear"
)
_CONTEXT_EVAL = "op 2-20 in context A (zoo) and context B (teacher), 200 problems per op and context"


def _difficulty_mix(easy: str, medium: str, hard: str) -> str:
    return f"op 2-10: easy (op 2-4) {easy}, medium (op 5-7) {medium}, hard (op 8-10) {hard}"


REPOS: dict[str, _Repo] = {
    "extrapolation_rl": _Repo(
        name="extrapolation_rl",
        experiment="extrapolation",
        settings={
            "id2-10_0.2easy_0.3medium_0.5hard": "extrap-0.2easy",
            "id2-10_0.5easy_0.3medium_0.2hard": "extrap-0.5easy",
            "id2-10_0.4995easy_0.4995medium_0.001hard": "extrap-0.4995easy",
            "id2-10_0.475easy_0.475medium_0.05hard": "extrap-0.475easy",
        },
        pretraining={
            "id2-10_0.2easy_0.3medium_0.5hard": _difficulty_mix("0.2", "0.3", "0.5"),
            "id2-10_0.5easy_0.3medium_0.2hard": _difficulty_mix("0.5", "0.3", "0.2"),
            "id2-10_0.4995easy_0.4995medium_0.001hard": _difficulty_mix("0.4995", "0.4995", "0.001"),
            "id2-10_0.475easy_0.475medium_0.05hard": _difficulty_mix("0.475", "0.475", "0.05"),
        },
        eval_contexts=("zoo", "teacher", "movie"),
        eval_description=_EXTRAP_EVAL,
        layout=(r"base", r"rl/[A-Za-z0-9._+-]+"),
        notes="each setting has base/ and rl/<RL data preset>; only rl/op11-14_uniform is named in the release",
    ),
    "extrapolation_midtrain": _Repo(
        name="extrapolation_midtrain",
        experiment="midtrain",
        settings={"id2-10_0.2easy_0.3medium_0.5hard": "midtrain"},
        pretraining={"id2-10_0.2easy_0.3medium_0.5hard": _difficulty_mix("0.2", "0.3", "0.5")},
        eval_contexts=("zoo", "teacher", "movie"),
        eval_description=_EXTRAP_EVAL,
        layout=(r"midtrain/[A-Za-z0-9._+-]+/checkpoint-\d+", r"rl/[A-Za-z0-9._+/-]+"),
        notes="checkpoint list is partial (docs/paper-settings.md: partial); the RL outputs started from them are not named",
        midtrain={
            "preset": "cpt0.2-uniform_0.8-11-14_plus",
            "description": "mid-training (continued pre-training): 20% op 2-10 uniform + 80% op 11-14",
            # checkpoint-N -> (nominal RL steps, mid-training share) pairs, as the release labels them
            # ("50step/0.2"); N beyond 6192 exist but are not listed (docs/paper-settings.md "…").
            "checkpoints": {
                387: ((50, 0.2),),
                774: ((100, 0.2),),
                1161: ((50, 0.5),),
                1548: ((200, 0.2),),
                1935: ((100, 0.5),),
                2322: ((300, 0.2),),
                3096: ((100, 0.8), (400, 0.2)),
                3870: ((500, 0.2),),
                4644: ((600, 0.2),),
                6192: ((300, 0.5),),
            },
        },
    ),
    "context_pretrain": _Repo(
        name="context_pretrain",
        experiment="context",
        settings={
            "idzoo_0.9zoo_0.1teacher": "ctx-0.1",
            "idzoo_0.99zoo_0.01teacher": "ctx-0.01",
            "idzoo_0.999zoo_0.001teacher": "ctx-0.001",
        },
        pretraining={
            "idzoo_0.9zoo_0.1teacher": "op 2-10; contexts zoo 0.9 / teacher 0.1",
            "idzoo_0.99zoo_0.01teacher": "op 2-10; contexts zoo 0.99 / teacher 0.01",
            "idzoo_0.999zoo_0.001teacher": "op 2-10; contexts zoo 0.999 / teacher 0.001",
        },
        eval_contexts=("zoo", "teacher"),
        eval_description=_CONTEXT_EVAL,
        layout=(r"base", r"rl/[A-Za-z0-9._+-]+"),
        notes="each setting has base/ and rl/<variant>/; one RL variant is named in the release",
    ),
    "context_pretrain_2": _Repo(
        name="context_pretrain_2",
        experiment="context-op2",
        settings={
            "0.9zoo_op2-20+0.1teacher_op2": "ctx2-0.1",
            "0.99zoo_op2-20+0.01teacher_op2": "ctx2-0.01",
            "0.999zoo_op2-20+0.001teacher_op2": "ctx2-0.001",
        },
        pretraining={
            "0.9zoo_op2-20+0.1teacher_op2": "zoo op 2-20 (0.9) + teacher op 2 only (0.1)",
            "0.99zoo_op2-20+0.01teacher_op2": "zoo op 2-20 (0.99) + teacher op 2 only (0.01)",
            "0.999zoo_op2-20+0.001teacher_op2": "zoo op 2-20 (0.999) + teacher op 2 only (0.001)",
        },
        eval_contexts=("zoo", "teacher"),
        eval_description=_CONTEXT_EVAL,
        layout=(r"base", r"rl/[A-Za-z0-9._+-]+"),
        notes="same base/ and rl/<variant>/ layout as context_pretrain; no RL variant is named in the release",
    ),
}

_RL_OP_PRESETS = {"op11-14_uniform": (11, 14), "op7-10_uniform": (7, 10), "op9-12_uniform": (9, 12), "op17-20_uniform": (17, 20)}


def _describe_rl_variant(variant: str) -> str:
    """A readable description of an RL folder name built from the release's preset names."""
    parts = []
    for preset, (lo, hi) in _RL_OP_PRESETS.items():
        if variant.startswith(preset):
            parts.append(f"GRPO on op {lo}-{hi} (uniform)")
    match = re.match(r"contextzoo_([0-9.]+)zoo_([0-9.]+)teacher", variant)
    if match:
        parts.append(f"GRPO on RL data with contexts zoo {match.group(1)} / teacher {match.group(2)}")
    if variant.endswith("_process_strict"):
        parts.append("strict process reward (answer reward zeroed on any process mismatch)")
    elif "_process" in variant:
        parts.append("process-aware reward")
    elif parts:
        parts.append("outcome reward")
    return "; ".join(parts) or f"RL variant {variant}"


def _base_entry(repo: _Repo, setting: str, *, status: str = "confirmed", source: str = "docs/paper-settings.md") -> ReleasedCheckpoint:
    return ReleasedCheckpoint(
        repo_id=f"{ORG}/{repo.name}",
        subfolder=f"{setting}/base",
        alias=f"{repo.settings[setting]}-base",
        experiment=repo.experiment,
        stage="base",
        setting=setting,
        pretraining=repo.pretraining[setting],
        description="end of pre-training; the model RL starts from",
        eval_contexts=repo.eval_contexts,
        eval_description=repo.eval_description,
        status=status,
        source=source,
    )


def _rl_entry(repo: _Repo, setting: str, variant: str, alias_suffix: str, *, status: str, source: str) -> ReleasedCheckpoint:
    return ReleasedCheckpoint(
        repo_id=f"{ORG}/{repo.name}",
        subfolder=f"{setting}/rl/{variant}",
        alias=f"{repo.settings[setting]}-rl-{alias_suffix}",
        experiment=repo.experiment,
        stage="rl",
        setting=setting,
        pretraining=repo.pretraining[setting],
        variant=variant,
        description=_describe_rl_variant(variant),
        eval_contexts=repo.eval_contexts,
        eval_description=repo.eval_description,
        status=status,
        source=source,
    )


def _build_catalogue() -> tuple[ReleasedCheckpoint, ...]:
    entries: list[ReleasedCheckpoint] = []
    extrap = REPOS["extrapolation_rl"]
    for setting in extrap.settings:
        entries.append(_base_entry(extrap, setting, source="docs/paper-settings.md; extrapolation_rl README"))
        confirmed = setting == "id2-10_0.5easy_0.3medium_0.2hard"  # the release's own example
        entries.append(
            _rl_entry(
                extrap,
                setting,
                "op11-14_uniform",
                "op11-14",
                status="confirmed" if confirmed else "inferred",
                source="docs/paper-settings.md example" if confirmed else "inferred: the example's RL preset applied to this setting",
            )
        )
    mid = REPOS["extrapolation_midtrain"]
    setting = next(iter(mid.settings))
    for step, nominal in mid.midtrain["checkpoints"].items():
        entries.append(
            ReleasedCheckpoint(
                repo_id=f"{ORG}/{mid.name}",
                subfolder=f"{setting}/midtrain/{mid.midtrain['preset']}/checkpoint-{step}",
                alias=f"midtrain-11-14-ckpt{step}",
                experiment=mid.experiment,
                stage="midtrain",
                setting=setting,
                pretraining=mid.pretraining[setting],
                variant=mid.midtrain["preset"],
                description=mid.midtrain["description"],
                eval_contexts=mid.eval_contexts,
                eval_description=mid.eval_description,
                step=step,
                nominal=nominal,
                source="docs/paper-settings.md; extrapolation_midtrain README",
            )
        )
    for repo_name in ("context_pretrain", "context_pretrain_2"):
        repo = REPOS[repo_name]
        for setting in repo.settings:
            entries.append(_base_entry(repo, setting, source="docs/paper-settings.md"))
    entries.append(
        _rl_entry(
            REPOS["context_pretrain"],
            "idzoo_0.99zoo_0.01teacher",
            "contextzoo_0.99zoo_0.01teacher_process_strict",
            "strict",
            status="confirmed",
            source="docs/paper-settings.md example",
        )
    )
    return tuple(entries)


CATALOGUE: tuple[ReleasedCheckpoint, ...] = _build_catalogue()
BY_ALIAS: dict[str, ReleasedCheckpoint] = {e.alias: e for e in CATALOGUE if e.alias}
BY_PATH: dict[str, ReleasedCheckpoint] = {e.path: e for e in CATALOGUE}
assert len(BY_ALIAS) == len(CATALOGUE) == len(BY_PATH), "aliases and paths must be unique"


def uncatalogued_entry(repo: _Repo, setting: str, rest: str) -> ReleasedCheckpoint:
    """An entry for a folder that fits the layout of ``repo`` and ``setting`` but is not listed."""
    stage = rest.split("/", 1)[0]
    variant = rest.split("/", 1)[1] if "/" in rest else None
    step = None
    description = "not in the catalogue"
    if stage == "midtrain" and variant:
        match = re.search(r"checkpoint-(\d+)$", variant)
        step = int(match.group(1)) if match else None
        variant = variant.split("/", 1)[0]
        description = repo.midtrain.get("description", description) if variant == repo.midtrain.get("preset") else description
    elif stage == "rl" and variant:
        description = _describe_rl_variant(variant)
    return ReleasedCheckpoint(
        repo_id=f"{ORG}/{repo.name}",
        subfolder=f"{setting}/{rest}",
        alias=None,
        experiment=repo.experiment,
        stage=stage,
        setting=setting,
        pretraining=repo.pretraining[setting],
        variant=variant,
        description=description,
        eval_contexts=repo.eval_contexts,
        eval_description=repo.eval_description,
        step=step,
        status="uncatalogued",
        source="explicit path (layout and setting known, folder not listed)",
    )
