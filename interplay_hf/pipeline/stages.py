"""Typed stages: a stage mapping of a pipeline YAML, parsed once into the dataclass of its kind.

Every stage has the fields of :class:`Stage` (type, description, args, env, after, manual, and the accelerate
settings it inherits from ``defaults:``); a kind adds its own fields and checks them when it is parsed:

| kind | stage types | adds |
|---|---|---|
| :class:`RecipeStage` | data | ``recipe``, ``recipe_overrides`` |
| :class:`AccelerateStage` | eval | runs through ``accelerate launch``; checks its accelerate settings |
| :class:`TrainStage` | sft, grpo | both of the above |
| :class:`SelectEdgeStage` | select_edge | needs model and data, or results |
| :class:`ReportStage` | report | default ``--labels`` from the eval stages it compares |
| :class:`ShellStage` | shell | ``command`` (and no args) |
| :class:`Stage` | tokenizer, push | nothing |

A key that belongs to another kind (``recipe`` on an eval stage) is refused with the fix. Each kind renders its
own command line (``render``); :mod:`interplay_hf.pipeline.plan` plans with these objects and never reads the
YAML mapping again. docs/architecture.md shows how to add a kind.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from interplay_hf.errors import ConfigError
from interplay_hf.launch import AccelerateLaunch
from interplay_hf.pipeline.batch import check_process_count
from interplay_hf.pipeline.commands import command_words, display_path, report_labels, resolve_refs, shell_command
from interplay_hf.pipeline.hashing import is_file
from interplay_hf.pipeline.schema import ACCELERATE_TYPES, DEFAULTS_KEYS, STAGE_TYPES, PlannedStage, check_keys

ARG_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")


@dataclass(frozen=True)
class Defaults:
    """The pipeline's ``defaults:``, for every stage that does not set the key itself."""

    accelerate_config: Any = None
    num_processes: Any = None
    launch_args: Any = None
    env: Any = None

    @classmethod
    def parse(cls, raw: Any) -> Defaults:
        return cls(**check_keys(raw or {}, DEFAULTS_KEYS, "defaults"))


@dataclass(frozen=True)
class LaunchSettings:
    """``accelerate launch`` settings, the stage's own or else the defaults'. Only accelerate kinds run with (and
    check) them; every stage hashes them, as plans always have, so hashes do not change."""

    accelerate_config: Any
    num_processes: Any
    launch_args: Any  # a list once checked (accelerate kinds)
    from_defaults: bool  # accelerate_config came from ``defaults:`` (names that key in an error)

    @classmethod
    def of(cls, body: dict, defaults: Defaults) -> LaunchSettings:
        return cls(body.get("accelerate_config", defaults.accelerate_config),
                   body.get("num_processes", defaults.num_processes),
                   body.get("launch_args", defaults.launch_args) or [], "accelerate_config" not in body)


# What a key of another kind says when a stage of this kind sets it.
FOREIGN_KEY_FIXES = {
    "recipe": "a {type} stage takes no recipe file; use args",
    "recipe_overrides": "a {type} stage has no recipe to override; use args",
    "command": "only shell stages take a command; use args",
    **{key: "only " + ", ".join(ACCELERATE_TYPES) + " stages run through accelerate"
       for key in ("accelerate_config", "num_processes", "launch_args")},
}


@dataclass(frozen=True)
class Stage:
    """What every stage has; tokenizer and push stages have nothing more."""

    OWN_KEYS: ClassVar[tuple[str, ...]] = ()  # keys of FOREIGN_KEY_FIXES this kind takes

    type: str
    where: str  # the YAML path of the stage, for error messages
    description: str
    args: dict[str, Any]
    env: dict[str, str]
    after: list[str]
    manual: bool
    launch: LaunchSettings

    @classmethod
    def parse(cls, body: dict, where: str, defaults: Defaults, root: Path) -> Stage:
        """``body`` (its keys checked against schema.STAGE_KEYS) as this kind, every field checked: args, then the
        kind's own fields, then env, after and manual (the order errors have always been reported in)."""
        fields = cls.read(body, where, defaults, root)
        return cls(**fields, env=_env(body, defaults, where), after=_after(body, where), manual=_manual(body, where))

    @classmethod
    def read(cls, body: dict, where: str, defaults: Defaults, root: Path) -> dict[str, Any]:
        """This kind's fields from ``body`` (but env, after, manual), checked; a kind adds its own to its parent's."""
        args = body.get("args") or {}
        if not isinstance(args, dict):
            raise ConfigError(f"{where}.args: a mapping flag -> value")
        for key in args:
            if not isinstance(key, str) or not ARG_NAME_RE.match(key):
                raise ConfigError(f"{where}.args.{key}: flag names are letters, digits, '_' or '-'")
        for key, fix in FOREIGN_KEY_FIXES.items():
            if key not in cls.OWN_KEYS and body.get(key) is not None:
                raise ConfigError(f"{where}.{key}: " + fix.format(type=body["type"]))
        return {"type": body["type"], "where": where, "description": str(body.get("description") or ""),
                "args": copy.deepcopy(args), "launch": LaunchSettings.of(body, defaults)}

    def check_args(self, args: dict[str, Any]) -> None:
        """The args the command cannot run without (after the budget set its arg)."""
        for arg in STAGE_TYPES[self.type].required_args:
            if args.get(arg) is None:
                raise ConfigError(f"{self.where}.args.{arg}: required for a {self.type} stage")

    def reference_fields(self, args: dict[str, Any]) -> list[tuple[str, Any, bool]]:
        """(YAML path, value, is a shell line) of the fields whose ``${refs}`` make other stages inputs, in order."""
        return [(f"{self.where}.args", args, False)]

    def hash_parts(self) -> dict[str, Any]:
        """What besides type, recipe, args and files enters the stage hash (:mod:`~interplay_hf.pipeline.hashing`)."""
        return {"recipe_overrides": None, "accelerate_config": self.launch.accelerate_config,
                "num_processes": self.launch.num_processes,
                "launch_args": [str(a) for a in self.launch.launch_args], "command": None}

    def words(self, planned: PlannedStage, context: dict) -> list[str]:
        """The command's words after its program and sub-command: output folder, flags (``${refs}`` resolved)."""
        return command_words(planned, STAGE_TYPES[self.type], resolve_refs(planned.args, context), None, context)

    def render(self, planned: PlannedStage, context: dict) -> list[str]:
        """The command line: ``interplay-hf <sub-command> <words>``."""
        spec = STAGE_TYPES[self.type]
        return [spec.program, *spec.base, *self.words(planned, context)]


@dataclass(frozen=True)
class RecipeStage(Stage):
    """A stage given a recipe file (positional for data, ``--config`` for training), optionally with overrides."""

    OWN_KEYS: ClassVar[tuple[str, ...]] = ("recipe", "recipe_overrides")

    recipe: str = ""
    recipe_overrides: dict[str, Any] | None = None

    @classmethod
    def read(cls, body: dict, where: str, defaults: Defaults, root: Path) -> dict[str, Any]:
        fields = super().read(body, where, defaults, root)
        recipe, overrides = body.get("recipe"), body.get("recipe_overrides")
        if not isinstance(recipe, str) or not recipe:
            raise ConfigError(f"{where}.recipe: required for a {body['type']} stage (path relative to {root})")
        if "${" not in recipe and not is_file(root / recipe):  # ${stage}/file: written by an input stage
            raise ConfigError(f"{where}.recipe: file {recipe!r} not found (paths are relative to {root})")
        if overrides is not None and (not isinstance(overrides, dict) or not overrides):
            raise ConfigError(f"{where}.recipe_overrides: a non-empty mapping of recipe key -> value")
        return {**fields, "recipe": recipe, "recipe_overrides": overrides}

    def reference_fields(self, args: dict[str, Any]) -> list[tuple[str, Any, bool]]:
        fields = [(f"{self.where}.recipe", self.recipe, False)]
        if self.recipe_overrides is not None:
            fields.append((f"{self.where}.recipe_overrides", self.recipe_overrides, False))
        return fields + super().reference_fields(args)

    def hash_parts(self) -> dict[str, Any]:
        return {**super().hash_parts(), "recipe_overrides": self.recipe_overrides}

    def words(self, planned: PlannedStage, context: dict) -> list[str]:
        """The recipe as passed (the merged file when overrides are set), then the output folder and flags."""
        if self.recipe_overrides is not None:
            recipe = display_path(planned.merged_recipe_path, context["root"])
        else:
            recipe = resolve_refs(self.recipe, context)
        return command_words(planned, STAGE_TYPES[self.type], resolve_refs(planned.args, context), recipe, context)


@dataclass(frozen=True)
class AccelerateStage(Stage):
    """A stage run by ``accelerate launch -m <module>`` on ``processes`` processes."""

    OWN_KEYS: ClassVar[tuple[str, ...]] = ("accelerate_config", "num_processes", "launch_args")

    @classmethod
    def read(cls, body: dict, where: str, defaults: Defaults, root: Path) -> dict[str, Any]:
        fields = super().read(body, where, defaults, root)
        launch = fields["launch"]
        if launch.accelerate_config is not None and not is_file(root / str(launch.accelerate_config)):
            raise ConfigError(f"{'defaults' if launch.from_defaults else where}.accelerate_config: "
                              f"file {launch.accelerate_config!r} not found (paths are relative to {root})")
        if launch.num_processes is not None:
            check_process_count(launch.num_processes, f"{where}.num_processes")
        if not isinstance(launch.launch_args, list) or not all(
                isinstance(a, (str, int, float)) for a in launch.launch_args):
            raise ConfigError(f"{where}.launch_args: a list of strings (extra `accelerate launch` flags)")
        return fields

    def render(self, planned: PlannedStage, context: dict) -> list[str]:
        """``accelerate launch ... -m <module> <words>``; the structured launch is kept on ``planned.launch``."""
        module, *sub = STAGE_TYPES[self.type].base
        planned.launch = AccelerateLaunch(module, (*sub, *self.words(planned, context)), self.launch.accelerate_config,
                                          context["processes"], tuple(str(a) for a in self.launch.launch_args),
                                          context["root"])
        return planned.launch.words()


@dataclass(frozen=True)
class TrainStage(AccelerateStage, RecipeStage):
    """sft and grpo: a TRL recipe passed as ``--config`` (RecipeStage's words), launched through accelerate."""

    OWN_KEYS: ClassVar[tuple[str, ...]] = RecipeStage.OWN_KEYS + AccelerateStage.OWN_KEYS


@dataclass(frozen=True)
class SelectEdgeStage(Stage):
    """select_edge: evaluates the base model itself (model and data) or reads an eval stage's results."""

    def check_args(self, args: dict[str, Any]) -> None:
        super().check_args(args)
        if args.get("results") is None and (args.get("model") is None or args.get("data") is None):
            raise ConfigError(f"{self.where}.args: a select_edge stage needs model and data (to evaluate the base "
                              "model) or results (an eval stage's folder, e.g. ${eval_base})")


@dataclass(frozen=True)
class TokenizerStage(Stage):
    """tokenizer: writes the released checkpoints' tokenizer (``numbers: released``) or trains one on ``dataset``."""

    def check_args(self, args: dict[str, Any]) -> None:
        super().check_args(args)
        if args.get("numbers") != "released" and args.get("dataset") is None:
            raise ConfigError(f"{self.where}.args.dataset: required for a tokenizer stage that trains one; or "
                              "numbers: released (the released checkpoints' tokenizer, nothing trained)")


@dataclass(frozen=True)
class ReportStage(Stage):
    """report: labels its runs by eval variant (``${eval}`` fan-out) or stage name unless ``labels`` is given."""

    def words(self, planned: PlannedStage, context: dict) -> list[str]:
        args = dict(planned.args)
        if "labels" not in args:
            args["labels"] = report_labels(args["evals"], context)
        return command_words(planned, STAGE_TYPES[self.type], resolve_refs(args, context), None, context)


@dataclass(frozen=True)
class ShellStage(Stage):
    """Any command line, run by /bin/sh in the root folder; ``${refs}`` become quoted folders."""

    OWN_KEYS: ClassVar[tuple[str, ...]] = ("command",)

    command: str = ""

    @classmethod
    def read(cls, body: dict, where: str, defaults: Defaults, root: Path) -> dict[str, Any]:
        fields = super().read(body, where, defaults, root)
        command = body.get("command")
        if not isinstance(command, str) or not command.strip():
            raise ConfigError(f"{where}.command: required for a shell stage (a command line)")
        return {**fields, "command": command}

    def check_args(self, args: dict[str, Any]) -> None:
        if args:  # its own, or set by budget.to_args
            raise ConfigError(f"{self.where}.args: shell stages take no args; write everything into `command`")

    def reference_fields(self, args: dict[str, Any]) -> list[tuple[str, Any, bool]]:
        return [*super().reference_fields(args), (f"{self.where}.command", self.command, True)]

    def hash_parts(self) -> dict[str, Any]:
        return {**super().hash_parts(), "command": self.command}

    def render(self, planned: PlannedStage, context: dict) -> list[str]:
        return shell_command(self.command, context)


# Stage type -> its kind. A new type with a new kind: one class above (fields, checks, render) and one entry here.
STAGE_KINDS: dict[str, type[Stage]] = {
    "data": RecipeStage, "tokenizer": TokenizerStage, "sft": TrainStage, "grpo": TrainStage, "eval": AccelerateStage,
    "select_edge": SelectEdgeStage, "report": ReportStage, "push": Stage, "shell": ShellStage,
}
assert set(STAGE_KINDS) == set(STAGE_TYPES), "every stage type of schema.STAGE_TYPES has a kind"


def parse_stage(body: dict, where: str, defaults: Defaults, root: Path) -> Stage:
    """One concrete stage (matrix variant merged) as its typed kind."""
    return STAGE_KINDS[body["type"]].parse(body, where, defaults, root)


def _env(body: dict, defaults: Defaults, where: str) -> dict[str, str]:
    for source, env in (("defaults", defaults.env), (where, body.get("env"))):
        if not isinstance(env or {}, dict):
            raise ConfigError(f"{source}.env: a mapping NAME -> value")
        for key, value in (env or {}).items():  # None would reach the stage as "None", a list as "[1, 2]"
            if not isinstance(value, (str, int, float, bool)):
                raise ConfigError(f"{source}.env.{key}: {type(value).__name__ if value is not None else 'null'} is "
                                  "not an environment value; give a string, number or boolean (quote it)")
    env = {**(defaults.env or {}), **(body.get("env") or {})}
    return {str(k): str(v).lower() if isinstance(v, bool) else str(v) for k, v in env.items()}


def _after(body: dict, where: str) -> list[str]:
    after = body.get("after") or []
    if isinstance(after, str):
        after = [after]
    if not isinstance(after, list):
        raise ConfigError(f"{where}.after: a list of stage names")
    return after


def _manual(body: dict, where: str) -> bool:
    manual = body.get("manual", STAGE_TYPES[body["type"]].manual)
    if not isinstance(manual, bool):
        raise ConfigError(f"{where}.manual: true or false")
    return manual
