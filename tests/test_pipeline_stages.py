"""Typed stages (pipeline/stages.py) and the planning chain of pipeline/plan.py, one step at a time:
read_pipeline -> expand_matrix -> wiring -> parse_stage -> apply_budget -> stage_inputs -> render_stage."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from interplay_hf.errors import ConfigError
from interplay_hf.pipeline.plan import (
    ConcreteStage,
    apply_budget,
    build_plan,
    expand_matrix,
    plan_stage,
    read_pipeline,
    stage_inputs,
    wiring,
)
from interplay_hf.pipeline.schema import STAGE_TYPES
from interplay_hf.pipeline.stages import (
    STAGE_KINDS,
    AccelerateStage,
    Defaults,
    RecipeStage,
    ReportStage,
    SelectEdgeStage,
    ShellStage,
    Stage,
    TrainStage,
    parse_stage,
)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "data.yaml").write_text("splits: {}\n")
    (tmp_path / "sft.yaml").write_text("learning_rate: 0.001\n")
    (tmp_path / "cpu.yaml").write_text("num_processes: 1\n")
    return tmp_path


def parse(body: dict, root: Path, defaults: Defaults | None = None) -> Stage:
    return parse_stage(body, "stages.s", defaults or Defaults(), root)


def test_every_stage_type_has_a_kind():
    assert set(STAGE_KINDS) == set(STAGE_TYPES)
    assert STAGE_KINDS["sft"] is TrainStage and issubclass(TrainStage, RecipeStage)
    assert issubclass(TrainStage, AccelerateStage) and STAGE_KINDS["eval"] is AccelerateStage


def test_a_stage_is_parsed_into_its_kind_with_defaults_applied(root):
    stage = parse({"type": "sft", "recipe": "sft.yaml", "args": {"max_steps": 3}, "env": {"A": 1}}, root,
                  Defaults(accelerate_config="cpu.yaml", env={"B": "x"}))
    assert isinstance(stage, TrainStage)
    assert (stage.recipe, stage.args, stage.env) == ("sft.yaml", {"max_steps": 3}, {"B": "x", "A": "1"})
    assert stage.launch.accelerate_config == "cpu.yaml" and stage.launch.from_defaults
    assert isinstance(parse({"type": "shell", "command": "true"}, root), ShellStage)
    assert parse({"type": "push", "args": {"path": "x", "repo_id": "a/b"}}, root).manual  # push: manual by default


@pytest.mark.parametrize("body, message", [
    ({"type": "eval", "recipe": "x.yaml"}, r"stages\.s\.recipe: a eval stage takes no recipe file; use args"),
    ({"type": "tokenizer", "recipe_overrides": {"a": 1}}, r"recipe_overrides: a tokenizer stage has no recipe"),
    ({"type": "eval", "command": "ls"}, r"stages\.s\.command: only shell stages take a command"),
    ({"type": "report", "num_processes": 2}, r"stages\.s\.num_processes: only sft, grpo, eval stages run through"),
    ({"type": "data"}, r"stages\.s\.recipe: required for a data stage"),
    ({"type": "data", "recipe": "missing.yaml"}, r"file 'missing\.yaml' not found"),
    ({"type": "data", "recipe": "data.yaml", "recipe_overrides": []}, r"recipe_overrides: a non-empty mapping"),
    ({"type": "shell"}, r"stages\.s\.command: required for a shell stage"),
    ({"type": "eval", "accelerate_config": "gpu.yaml"}, r"stages\.s\.accelerate_config: file 'gpu\.yaml' not found"),
    ({"type": "eval", "launch_args": "--x"}, r"stages\.s\.launch_args: a list of strings"),
    ({"type": "eval", "args": ["model"]}, r"stages\.s\.args: a mapping flag -> value"),
    ({"type": "eval", "args": {"bad flag": 1}}, r"stages\.s\.args\.bad flag: flag names are"),
    ({"type": "eval", "after": {"a": 1}}, r"stages\.s\.after: a list of stage names"),
    ({"type": "eval", "manual": "yes"}, r"stages\.s\.manual: true or false"),
    ({"type": "tokenizer", "env": [None]}, r"stages\.s\.env: a mapping NAME -> value"),
    ({"type": "data", "env": [None]}, r"stages\.s\.recipe: required"),  # the kind's fields first, as always
])
def test_each_kind_checks_its_own_fields_and_refuses_the_keys_of_others(root, body, message):
    with pytest.raises(ConfigError, match=message):
        parse(body, root)


def test_a_bad_default_is_named_as_such(root):
    with pytest.raises(ConfigError, match=r"^defaults\.accelerate_config: file 'gpu\.yaml' not found"):
        parse({"type": "eval"}, root, Defaults(accelerate_config="gpu.yaml"))
    with pytest.raises(ConfigError, match=r"^defaults\.env: a mapping NAME -> value"):
        parse({"type": "tokenizer"}, root, Defaults(env=["A=1"]))


def test_required_args_are_checked_after_the_budget(root):
    with pytest.raises(ConfigError, match=r"stages\.s\.args\.data: required for a eval stage"):
        parse({"type": "eval"}, root).check_args({"model": "m"})
    edge = parse({"type": "select_edge"}, root)
    assert isinstance(edge, SelectEdgeStage)
    edge.check_args({"results": "${eval}"})
    with pytest.raises(ConfigError, match="needs model and data"):
        edge.check_args({"model": "m"})
    with pytest.raises(ConfigError, match="shell stages take no args"):
        parse({"type": "shell", "command": "true"}, root).check_args({"max_steps": 3})


def test_read_pipeline_checks_the_top_level(root):
    path = root / "p.yaml"
    path.write_text("name: run1\ndescription: ' x '\nstages: {a: {type: shell, command: 'true'}}\n")
    spec = read_pipeline(path)
    assert (spec.name, spec.description, spec.root, list(spec.stages)) == ("run1", "x", root, ["a"])
    path.write_text("name: 'bad name'\nstages: {}\n")
    with pytest.raises(ConfigError, match="name: required"):
        read_pipeline(path)
    path.write_text("name: ok\ndefaults: {accelerate_configs: x}\nstages: {}\n")
    with pytest.raises(ConfigError, match=r"defaults: unknown key 'accelerate_configs'\. Did you mean"):
        read_pipeline(path)


def test_expand_matrix_merges_each_variant_over_the_stage():
    stages = {"rl": {"type": "shell", "command": "c", "env": {"A": "1"},
                     "matrix": {"x": {"env": {"B": "2"}}, "y": {"command": "d"}}}, "data": {"type": "shell"}}
    concrete = expand_matrix(stages)
    assert list(concrete) == ["rl.x", "rl.y", "data"]
    assert concrete["rl.x"] == ConcreteStage("rl.x", "rl", "x", {"type": "shell", "command": "c",
                                                                  "env": {"A": "1", "B": "2"}}, "stages.rl.matrix.x")
    assert concrete["rl.y"].body["command"] == "d" and concrete["data"].variant is None
    with pytest.raises(ConfigError, match=r"stages\.rl\.matrix\.x: unknown key 'typo'"):
        expand_matrix({"rl": {"type": "shell", "matrix": {"x": {"typo": 1}}}})
    with pytest.raises(ConfigError, match=r"stages\.a\.type: 'trian' is not a stage type"):
        expand_matrix({"a": {"type": "trian"}})


def test_wiring_points_refs_at_what_each_command_writes(tmp_path):
    concrete = expand_matrix({"data": {"type": "data"}, "ev": {"type": "eval", "matrix": {"a": {}, "b": {}}}})
    wires = wiring(concrete, tmp_path / "run", tmp_path)
    assert wires.output_paths["data"] == tmp_path / "run" / "data" / "dataset"  # data writes a subfolder
    assert wires.output_dirs["ev.a"] == wires.output_paths["ev.a"] == tmp_path / "run" / "ev.a"
    assert wires.variants_of == {"data": ["data"], "ev": ["ev.a", "ev.b"]}


def test_apply_budget_sets_the_arg_and_says_how(root):
    stage = parse({"type": "sft", "recipe": "sft.yaml", "args": {"seed": 1}}, root)
    budget = {"total_samples": 100, "stages": {"mid": {"split": "b", "share": 0.8, "samples": 80, "arg": "max_steps",
                                                       "value": 10, "per_sample": 1}}}
    args, samples, note = apply_budget(stage, "mid", budget)
    assert (args, samples, note) == ({"seed": 1, "max_steps": 10}, 80, "80 samples (0.8 of 100, split b) -> max_steps=10")
    assert stage.args == {"seed": 1}  # the parsed stage is not changed
    assert apply_budget(stage, "other", budget) == ({"seed": 1}, None, "")
    clash = parse({"type": "sft", "recipe": "sft.yaml", "args": {"max_steps": 5}}, root)
    with pytest.raises(ConfigError, match=r"args\.max_steps: also set by budget\.to_args"):
        apply_budget(clash, "mid", budget)


def test_stage_inputs_in_first_mention_order(root, tmp_path):
    concrete = expand_matrix({n: {"type": "shell"} for n in ("data", "tok", "me")}
                             | {"ev": {"type": "shell", "matrix": {"a": {}, "b": {}}}})
    wires = wiring(concrete, tmp_path / "run", root)
    stage = parse({"type": "report", "args": {"evals": "${ev}", "x": "${tok}/f"}, "after": ["data", "tok"]}, root)
    assert stage_inputs(stage, "me", stage.args, wires) == ["ev.a", "ev.b", "tok", "data"]
    shell = parse({"type": "shell", "command": "cat ${ev} ${data}/x"}, root)  # a shell line may take all variants
    assert stage_inputs(shell, "me", {}, wires) == ["ev.a", "ev.b", "data"]
    with pytest.raises(ConfigError, match=r"stages\.s: the stage refers to itself"):
        stage_inputs(parse({"type": "shell", "command": "ls ${me}"}, root), "me", {}, wires)
    with pytest.raises(ConfigError, match=r"stages\.s\.args\.x: \$\{nope\} names no stage"):
        stage_inputs(parse({"type": "tokenizer", "args": {"x": "${nope}"}}, root), "me", {"x": "${nope}"}, wires)


def test_each_kind_renders_its_command(root, tmp_path):
    bodies = {"data": {"type": "data", "recipe": "data.yaml"},
              "sft": {"type": "sft", "recipe": "sft.yaml", "recipe_overrides": {"seed": 2},
                      "args": {"dataset_path": "${data}", "bf16": False}, "accelerate_config": "cpu.yaml"},
              "ev": {"type": "eval", "args": {"model": "${sft}", "data": "${data}", "plots": False},
                     "matrix": {"a": {}, "b": {}}},
              "report": {"type": "report", "args": {"evals": "${ev}"}},
              "sh": {"type": "shell", "command": "ls ${report} > ${output}/x"}}
    concrete = expand_matrix(bodies)
    wires = wiring(concrete, tmp_path / "run", root)
    planned = {n: plan_stage(c, parse_stage(c.body, c.where, Defaults(), root), wires, None)
               for n, c in concrete.items()}
    run = "run"  # folders inside the root are passed relative to it (commands run there)
    assert planned["data"].command == ["interplay-hf", "data", "build", "data.yaml", "--output-dir",
                                       f"{run}/data/dataset", "--overwrite"]
    assert planned["sft"].command[-8:] == ["interplay_hf.train.sft", "--config", f"{run}/sft/pipeline_recipe.yaml",
                                           "--output_dir", f"{run}/sft", "--dataset_path", f"{run}/data/dataset",
                                           "--bf16", "false"][-8:]
    assert planned["sft"].launch is not None and planned["sft"].processes == 1
    assert planned["sft"].recipe_overrides == {"seed": 2} and planned["sft"].hash_parts["recipe_overrides"] == {"seed": 2}
    assert "--no-plots" in planned["ev.a"].command and planned["ev.a"].inputs == ["sft", "data"]
    assert planned["report"].command == ["interplay-hf", "report", f"{run}/ev.a", f"{run}/ev.b", "--output-dir",
                                         f"{run}/report", "--labels", "a,b"]
    assert planned["sh"].command == ["sh", "-c", f"ls {run}/report > {run}/sh/x"]
    assert planned["sh"].hash_parts["command"] == "ls ${report} > ${output}/x"


def test_a_plan_still_hashes_what_it_hashed_before_typed_stages(root):
    """A stage without accelerate settings still hashes the defaults' (as plans did), so hashes stay stable."""
    path = root / "p.yaml"
    path.write_text(textwrap.dedent("""
        name: r
        defaults: {accelerate_config: cpu.yaml, num_processes: 1}
        stages:
          data: {type: data, recipe: data.yaml}
    """))
    stage = build_plan(path, root / "runs").stages[0]
    assert stage.hash_parts["launch"] == {"recipe_overrides": None, "accelerate_config": "cpu.yaml",
                                          "num_processes": 1, "launch_args": [], "command": None}
    assert "cpu.yaml" in stage.hash_parts["files"]


def test_report_stage_keeps_labels_it_is_given(root, tmp_path):
    concrete = expand_matrix({"e": {"type": "shell"}, "r": {"type": "report", "args": {"evals": ["${e}"],
                                                                                       "labels": "base"}}})
    stage = parse_stage(concrete["r"].body, "stages.r", Defaults(), root)
    assert isinstance(stage, ReportStage)
    planned = plan_stage(concrete["r"], stage, wiring(concrete, tmp_path / "run", root), None)
    assert planned.command[-2:] == ["--labels", "base"]
