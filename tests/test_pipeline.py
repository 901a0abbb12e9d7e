"""Pipeline recipes: planning (order, fan-out, budgets, hashes, selection) and resumable running.

Runs use `shell` stages (a real, documented stage type: one command line), so the runner is tested
as users run it, in milliseconds. The stage types that launch training are covered by the commands
they render here and by the end-to-end test in test_pipeline_e2e.py.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from interplay_hf.errors import ConfigError
from interplay_hf.pipeline.decide import DONE_FILE, decide, select_stages
from interplay_hf.pipeline.plan import build_plan
from interplay_hf.pipeline.run import run_pipeline


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def pipeline(tmp_path: Path, text: str) -> Path:
    """A pipeline YAML in tmp_path (its root: no pyproject.toml above it)."""
    return write(tmp_path / "pipeline.yaml", text)


def run(path: Path, tmp_path: Path, **kw) -> tuple[int, str]:
    lines: list[str] = []
    code = run_pipeline(path, runs_dir=tmp_path / "runs", echo=False, say=lines.append, **kw)
    return code, "\n".join(lines)


def counts(tmp_path: Path) -> dict[str, int]:
    """How many times each stage's command really ran (each appends its name to ran.txt)."""
    ran = tmp_path / "ran.txt"
    names = ran.read_text().split() if ran.exists() else []
    return {n: names.count(n) for n in set(names)}


def counting(name: str, extra: str = "") -> str:
    return f"echo {name} >> ran.txt; echo {name} > ${{output}}/out.txt{extra}"


THREE_STAGES = f"""
name: three
stages:
  report:
    type: shell
    command: "cat ${{train}}/out.txt > ${{output}}/summary.txt; {counting('report')}"
  train:
    type: shell
    command: "cat ${{data}}/out.txt; {counting('train')}"
  data:
    type: shell
    command: "{counting('data')}"
"""


# --- planning --------------------------------------------------------------------------------------
def test_stages_run_in_dependency_order_whatever_the_file_order(tmp_path):
    plan = build_plan(pipeline(tmp_path, THREE_STAGES), tmp_path / "runs")
    assert plan.names == ["data", "train", "report"]
    assert plan.stage("report").inputs == ["train"]
    assert plan.run_dir == (tmp_path / "runs" / "three").resolve()
    assert plan.stage("train").output_dir == plan.run_dir / "train"


def test_independent_stages_keep_their_declaration_order(tmp_path):
    plan = build_plan(pipeline(tmp_path, """
        name: p
        stages:
          z: {type: shell, command: "true"}
          a: {type: shell, command: "true", after: [z]}
          m: {type: shell, command: "true"}
        """), tmp_path / "runs")
    assert plan.names == ["z", "a", "m"]


def test_matrix_fans_out_and_a_whole_fanout_reference_is_the_list_of_its_folders(tmp_path):
    write(tmp_path / "grpo.yaml", "learning_rate: 1.0e-6\n")
    write(tmp_path / "eval_data.yaml", "ops: [2, 3]\n")
    plan = build_plan(pipeline(tmp_path, """
        name: fan
        stages:
          base: {type: shell, command: "true"}
          rl:
            type: grpo
            recipe: grpo.yaml
            args: {model_name_or_path: "${base}", beta: 0.001}
            matrix:
              id: {args: {dataset_path: data/id}}
              edge: {args: {dataset_path: data/edge, beta: null}}
          eval:
            type: eval
            args: {data: eval_data.yaml, n: 4, k: [1, 2, 4]}
            matrix:
              base: {args: {model: "${base}"}}
              id: {args: {model: "${rl.id}"}}
              edge: {args: {model: "${rl.edge}"}}
          report:
            type: report
            args: {evals: "${eval}"}
        """), tmp_path / "runs")
    assert plan.names == ["base", "rl.id", "rl.edge", "eval.base", "eval.id", "eval.edge", "report"]
    assert plan.stage("rl.edge").inputs == ["base"]
    id_cmd, edge_cmd = plan.stage("rl.id").command, plan.stage("rl.edge").command
    assert id_cmd[id_cmd.index("--dataset_path") + 1] == "data/id"
    assert "--beta" in id_cmd and "--beta" not in edge_cmd  # null drops the flag
    assert edge_cmd[edge_cmd.index("--output_dir") + 1] == "runs/fan/rl.edge"
    report = plan.stage("report")
    assert report.inputs == ["eval.base", "eval.id", "eval.edge"]
    assert report.command[:5] == ["interplay-hf", "report", "runs/fan/eval.base", "runs/fan/eval.id",
                                  "runs/fan/eval.edge"]
    assert report.command[-2:] == ["--labels", "base,id,edge"]
    eval_cmd = plan.stage("eval.id").command
    assert eval_cmd[:5] == ["accelerate", "launch", "-m", "interplay_hf.evaluation.run", "--output-dir"]
    assert eval_cmd[eval_cmd.index("--model") + 1] == "runs/fan/rl.id"
    assert eval_cmd[eval_cmd.index("--k") + 1] == "1,2,4"  # our CLIs take comma lists
    assert select_stages(plan, only=["rl"]) == {"rl.id", "rl.edge"}


def test_training_commands_use_trl_flags_and_accelerate_settings(tmp_path):
    write(tmp_path / "sft.yaml", "learning_rate: 2.0e-4\n")
    write(tmp_path / "cpu.yaml", "distributed_type: NO\nnum_processes: 1\n")
    plan = build_plan(pipeline(tmp_path, """
        name: t
        defaults: {accelerate_config: cpu.yaml, env: {WANDB_MODE: offline}}
        stages:
          pretrain:
            type: sft
            recipe: sft.yaml
            num_processes: 2
            args: {bf16: false, packing: true, reward_funcs: [mixed, strict], reward_kwargs: {mixed: {alpha: 0.5}}}
        """), tmp_path / "runs")
    stage = plan.stage("pretrain")
    assert stage.command[:9] == ["accelerate", "launch", "--config_file", "cpu.yaml", "--multi_gpu",
                                 "--num_processes", "2", "-m", "interplay_hf.train.sft"]
    words = stage.command[9:]
    assert words[:4] == ["--config", "sft.yaml", "--output_dir", "runs/t/pretrain"]
    assert words[words.index("--bf16") + 1] == "false" and words[words.index("--packing") + 1] == "true"
    assert words[words.index("--reward_funcs") + 1: words.index("--reward_funcs") + 3] == ["mixed", "strict"]
    assert json.loads(words[words.index("--reward_kwargs") + 1]) == {"mixed": {"alpha": 0.5}}
    assert stage.env == {"WANDB_MODE": "offline"}


def test_budget_splits_become_stage_args(tmp_path):
    write(tmp_path / "sft.yaml", "learning_rate: 2.0e-4\n")
    plan = build_plan(pipeline(tmp_path, """
        name: b
        budget:
          total_samples: 122000
          splits:
            light: {mid.light: 0.8, rl.light: 0.2}
            full_rl: {rl.full: 1.0}
          to_args:
            mid: {arg: max_train_samples}
            rl: {arg: max_steps, samples_per_step: 1024}
        stages:
          mid:
            type: sft
            recipe: sft.yaml
            matrix: {light: {}}
          rl:
            type: grpo
            recipe: sft.yaml
            matrix: {light: {}, full: {}}
        """), tmp_path / "runs")
    mid = plan.stage("mid.light")
    assert mid.budget_samples == 97600 and mid.args["max_train_samples"] == 97600
    assert plan.stage("rl.light").args["max_steps"] == 24  # ceil(24400 / 1024)
    assert plan.stage("rl.full").args["max_steps"] == 120  # ceil(122000 / 1024)
    cmd = plan.stage("rl.full").command
    assert cmd[cmd.index("--max_steps") + 1] == "120"


def test_budget_per_sample_converts_a_share_into_another_unit(tmp_path):
    """The official mid-training vs RL budget: RL prompts, with mid-training paid in tokens per prompt."""
    write(tmp_path / "sft.yaml", "learning_rate: 2.0e-4\n")
    body = """
        name: b
        budget:
          total_samples: 102400
          splits: {s: {mid: 0.8, rl: 0.2}}
          to_args:
            mid: {arg: max_train_tokens, per_sample: PER}
            rl: {arg: max_train_samples}
        stages:
          mid: {type: sft, recipe: sft.yaml}
          rl: {type: grpo, recipe: sft.yaml}
        """
    plan = build_plan(pipeline(tmp_path, body.replace("PER", "19814.4")), tmp_path / "runs")
    assert plan.stage("mid").args["max_train_tokens"] == 1_623_195_648  # 81,920 x 19,814.4
    assert plan.stage("rl").args["max_train_samples"] == 20480
    assert "x 19814.4 -> max_train_tokens=1623195648" in plan.stage("mid").budget_note
    for bad in ("0", "-2", "true", "'many'"):
        with pytest.raises(ConfigError, match=r"budget\.to_args\.mid\.per_sample: a positive number"):
            build_plan(pipeline(tmp_path, body.replace("PER", bad)), tmp_path / "runs")


# --- hashes ---------------------------------------------------------------------------------------
def test_hash_changes_with_the_stage_recipe_and_propagates_downstream_only(tmp_path):
    recipe = write(tmp_path / "data.yaml", "ops: [2, 3]\n")
    path = pipeline(tmp_path, """
        name: h
        stages:
          data: {type: data, recipe: data.yaml}
          tok: {type: tokenizer, args: {dataset: "${data}"}}
          other: {type: shell, command: "true"}
        """)
    plan = build_plan(path, tmp_path / "runs")
    tok = plan.stage("tok").command  # data build swaps its folder: the dataset lives in <stage>/dataset
    assert tok[tok.index("--dataset") + 1] == "runs/h/data/dataset"
    before = {s.name: s.hash for s in plan.stages}
    assert build_plan(path, tmp_path / "elsewhere").stage("tok").hash == before["tok"]  # folder-independent
    recipe.write_text("ops: [2, 3, 4]\n")
    after = {s.name: s.hash for s in build_plan(path, tmp_path / "runs").stages}
    assert after["data"] != before["data"] and after["tok"] != before["tok"]
    assert after["other"] == before["other"]


def test_hash_changes_with_args_and_with_files_named_in_args(tmp_path):
    write(tmp_path / "eval.yaml", "ops: [2]\n")
    text = """
        name: h
        stages:
          m: {type: shell, command: "true"}
          ev: {type: eval, args: {model: "${m}", data: eval.yaml, n: N}}
        """
    h1 = build_plan(pipeline(tmp_path, text.replace("N", "4")), tmp_path / "runs").stage("ev").hash
    h2 = build_plan(pipeline(tmp_path, text.replace("N", "8")), tmp_path / "runs").stage("ev").hash
    write(tmp_path / "eval.yaml", "ops: [3]\n")
    h3 = build_plan(pipeline(tmp_path, text.replace("N", "8")), tmp_path / "runs").stage("ev").hash
    assert len({h1, h2, h3}) == 3


# --- running and resuming ---------------------------------------------------------------------------
def test_rerun_skips_finished_stages(tmp_path):
    path = pipeline(tmp_path, THREE_STAGES)
    code, _ = run(path, tmp_path)
    assert code == 0 and counts(tmp_path) == {"data": 1, "train": 1, "report": 1}
    assert (tmp_path / "runs/three/report/summary.txt").read_text() == "train\n"
    done = json.loads((tmp_path / "runs/three/train" / DONE_FILE).read_text())
    assert done["hash"] == build_plan(path, tmp_path / "runs").stage("train").hash
    code, out = run(path, tmp_path)
    assert code == 0 and counts(tmp_path) == {"data": 1, "train": 1, "report": 1}
    assert "train: done, skipped" in out


def test_a_failed_stage_stops_the_run_and_a_rerun_resumes_after_the_finished_stages(tmp_path):
    flag = tmp_path / "crashed-once"
    path = pipeline(tmp_path, f"""
        name: crash
        stages:
          one: {{type: shell, command: "{counting('one')}"}}
          two: {{type: shell, command: "cat ${{one}}/out.txt; {counting('two')}"}}
          three:
            type: shell
            command: "echo three >> ran.txt; if [ ! -f {flag} ]; then touch {flag}; echo boom; exit 3; fi; touch ${{output}}/ok"
          four: {{type: shell, command: "{counting('four')}", after: [three]}}
        """)
    code, out = run(path, tmp_path)
    log = tmp_path / "runs/crash/three/stage.log"
    assert code == 1
    assert "stage 'three' (shell) failed with exit code 3" in out and str(log) in out
    assert "boom" in log.read_text()
    assert counts(tmp_path) == {"one": 1, "two": 1, "three": 1}
    assert not (tmp_path / "runs/crash/three" / DONE_FILE).exists()

    code, out = run(path, tmp_path)
    assert code == 0
    assert counts(tmp_path) == {"one": 1, "two": 1, "three": 2, "four": 1}
    assert (tmp_path / "runs/crash/three/ok").exists()


def test_a_crashed_stage_keeps_its_folder_so_training_resumes_from_its_checkpoint(tmp_path):
    path = pipeline(tmp_path, """
        name: resume
        stages:
          train:
            type: shell
            command: "if [ -f ${output}/checkpoint-1 ]; then echo resumed > ${output}/result; else touch ${output}/checkpoint-1; exit 1; fi"
        """)
    assert run(path, tmp_path)[0] == 1
    code, out = run(path, tmp_path)
    assert code == 0 and "resumes unfinished run" in out
    assert (tmp_path / "runs/resume/train/result").read_text() == "resumed\n"


def test_a_changed_config_moves_the_old_output_aside_and_reruns_downstream(tmp_path):
    text = THREE_STAGES.replace("cat ${data}/out.txt;", "cat ${data}/out.txt; echo VERSION;")
    path = pipeline(tmp_path, text.replace("VERSION", "v1"))
    run(path, tmp_path)
    path = pipeline(tmp_path, text.replace("VERSION", "v2"))
    plan = build_plan(path, tmp_path / "runs")
    actions = {d.stage.name: (d.action, d.reason) for d in decide(plan, set(plan.names))}
    assert actions == {"data": ("skip", "done"), "train": ("run", "config changed"),
                       "report": ("run", "input train changed")}
    code, _ = run(path, tmp_path)
    assert code == 0 and counts(tmp_path) == {"data": 1, "train": 2, "report": 2}
    stale = list((tmp_path / "runs/three/.stale").iterdir())
    assert len(stale) == 2 and all((s / "out.txt").exists() for s in stale)


def test_files_named_in_a_shell_command_are_hashed(tmp_path):
    write(tmp_path / "input.txt", "a\n")
    path = pipeline(tmp_path, """
        name: f
        stages:
          copy: {type: shell, command: "echo copy >> ran.txt; cat input.txt > ${output}/copy.txt"}
        """)
    run(path, tmp_path)
    run(path, tmp_path)
    write(tmp_path / "input.txt", "b\n")
    run(path, tmp_path)
    assert counts(tmp_path) == {"copy": 2}
    assert (tmp_path / "runs/f/copy/copy.txt").read_text() == "b\n"


def test_only_from_and_force_select_what_runs(tmp_path):
    path = pipeline(tmp_path, THREE_STAGES + """
  push:
    type: shell
    manual: true
    command: "echo push >> ran.txt"
""")
    plan = build_plan(path, tmp_path / "runs")
    assert select_stages(plan) == {"data", "train", "report"}  # manual stages only via --only
    assert select_stages(plan, from_stage="train") == {"train", "report"}
    assert select_stages(plan, only=["push", "data"]) == {"push", "data"}
    with pytest.raises(ConfigError, match="needs 'data'"):
        decide(plan, select_stages(plan, only=["train"]))
    with pytest.raises(ConfigError, match="--only: no stage named 'trian'"):
        select_stages(plan, only=["trian"])

    run(path, tmp_path)
    code, _ = run(path, tmp_path, only=["train"], force=True)
    assert code == 0 and counts(tmp_path) == {"data": 1, "train": 2, "report": 1}
    code, _ = run(path, tmp_path)  # report read the old train output: it is redone
    assert counts(tmp_path) == {"data": 1, "train": 2, "report": 2}
    run(path, tmp_path, only=["push"])
    assert counts(tmp_path)["push"] == 1


def test_dry_run_prints_the_plan_and_runs_nothing(tmp_path, capsys):
    path = pipeline(tmp_path, THREE_STAGES)
    assert run_pipeline(path, runs_dir=tmp_path / "runs", dry_run=True) == 0
    out = capsys.readouterr().out
    assert "Pipeline 'three'" in out
    order = [out.index(f"  {name}  ") for name in ("data", "train", "report")]
    assert order == sorted(order)
    assert "run      new" in out and "cat runs/three/data/out.txt" in out
    assert not (tmp_path / "runs").exists() and not (tmp_path / "ran.txt").exists()


def test_dry_run_shows_budgets(tmp_path, capsys):
    write(tmp_path / "sft.yaml", "learning_rate: 2.0e-4\n")
    path = pipeline(tmp_path, """
        name: b
        budget: {total_samples: 1000, splits: {s: {mid: 0.75, rl: 0.25}}, to_args: {rl: {arg: max_train_samples}}}
        stages:
          mid: {type: sft, recipe: sft.yaml}
          rl: {type: grpo, recipe: sft.yaml, args: {model_name_or_path: "${mid}"}}
        """)
    run_pipeline(path, runs_dir=tmp_path / "runs", dry_run=True, check_fields=False)
    out = capsys.readouterr().out
    assert "budget: 750 samples (0.75 of 1000, split s)" in out
    assert "budget: 250 samples (0.25 of 1000, split s) -> max_train_samples=250" in out


# --- bad recipes fail at plan time, naming the field -------------------------------------------------
BAD_RECIPES = {
    "unknown input": ("stages:\n  a: {type: shell, command: 'cat ${nope}/x'}\n", r"stages\.a\.command: \$\{nope\} names no stage"),
    "cycle": ("stages:\n  a: {type: shell, command: 'true', after: [b]}\n  b: {type: shell, command: 'true', after: [a]}\n",
              r"stages: the inputs form a cycle: a -> b -> a"),
    "split not summing to the budget": (
        "budget: {total_samples: 100, splits: {light: {a: 0.8, b: 0.1}}}\n"
        "stages:\n  a: {type: shell, command: 'true'}\n  b: {type: shell, command: 'true'}\n",
        r"budget\.splits\.light: shares sum to 0\.9, not 1"),
    "budget names no stage": ("budget: {total_samples: 100, splits: {s: {zz: 1.0}}}\nstages:\n  a: {type: shell, command: 'true'}\n",
                              r"budget\.splits\.s\.zz: no stage named 'zz'"),
    "missing recipe file": ("stages:\n  pre: {type: sft, recipe: recipes/nope.yaml}\n",
                            r"stages\.pre\.recipe: file 'recipes/nope\.yaml' not found"),
    "missing accelerate config": ("stages:\n  pre: {type: sft, recipe: pipeline.yaml, accelerate_config: acc/nope.yaml}\n",
                                  r"stages\.pre\.accelerate_config: file 'acc/nope\.yaml' not found"),
    "unknown stage key": ("stages:\n  a: {type: shell, command: 'true', recipie: x}\n", r"stages\.a: unknown key 'recipie'\. Did you mean 'recipe'"),
    "unknown top-level key": ("stagse: {}\nstages:\n  a: {type: shell, command: 'true'}\n", r"pipeline: unknown key 'stagse'\. Did you mean 'stages'"),
    "unknown stage type": ("stages:\n  a: {type: train}\n", r"stages\.a\.type: 'train' is not a stage type"),
    "missing required arg": ("stages:\n  t: {type: tokenizer}\n", r"stages\.t\.args\.dataset: required"),
    "self reference": ("stages:\n  a: {type: shell, command: 'ls ${a}'}\n", r"stages\.a: the stage refers to itself"),
    "unknown after": ("stages:\n  a: {type: shell, command: 'true', after: [zz]}\n", r"stages\.a\.after: no stage named 'zz'"),
    "fan-out inside a string arg": (
        "stages:\n  a: {type: shell, command: 'true', matrix: {x: {}, y: {}}}\n"
        "  e: {type: eval, args: {model: '${a}/sub', data: d}}\n", r"stages\.e\.args\.model: \$\{a\} is a matrix stage"),
    "budget arg set twice": (
        "budget: {total_samples: 10, splits: {s: {a: 1.0}}, to_args: {a: {arg: max_steps}}}\n"
        "stages:\n  a: {type: sft, recipe: pipeline.yaml, args: {max_steps: 3}}\n",
        r"stages\.a\.args\.max_steps: also set by budget\.to_args"),
}


@pytest.mark.parametrize("case", sorted(BAD_RECIPES))
def test_bad_recipes_raise_config_error_naming_the_field_before_running(tmp_path, case):
    body, message = BAD_RECIPES[case]
    path = pipeline(tmp_path, "name: bad\n" + body)
    with pytest.raises(ConfigError, match=message):
        run_pipeline(path, runs_dir=tmp_path / "runs", echo=False, say=lambda _: None)
    assert not (tmp_path / "runs").exists()


def test_name_is_required(tmp_path):
    with pytest.raises(ConfigError, match="name: required"):
        build_plan(pipeline(tmp_path, "stages:\n  a: {type: shell, command: 'true'}\n"))


def test_the_cli_runs_and_reports_errors(tmp_path, capsys):
    from interplay_hf.cli import main

    path, runs = pipeline(tmp_path, THREE_STAGES), str(tmp_path / "runs")
    assert main(["pipeline", str(path), "--runs-dir", runs, "--dry-run", "--from", "train"]) == 2
    assert "stage 'train' needs 'data', which has not finished" in capsys.readouterr().err
    assert main(["pipeline", str(path), "--runs-dir", runs]) == 0
    assert main(["pipeline", str(path), "--runs-dir", runs, "--dry-run", "--from", "train", "--force"]) == 0
    out = capsys.readouterr().out
    assert "not selected, done" in out and "run      --force" in out
    assert main(["pipeline", str(path), "--runs-dir", runs, "--only", "zz"]) == 2
    assert "--only: no stage named 'zz'" in capsys.readouterr().err


@pytest.mark.slow  # imports TRL to know the training scripts' fields
def test_a_misspelt_training_or_eval_flag_fails_at_plan_time(tmp_path):
    write(tmp_path / "grpo.yaml", "learning_rate: 1.0e-6\n")
    text = """
        name: typo
        stages:
          rl: {type: grpo, recipe: grpo.yaml, args: {ARGS}}
          ev: {type: eval, args: {model: "${rl}", data: d, EVAL}}
        """
    ok = text.replace("ARGS", "learning_rate: 1.0e-6, max_train_samples: 10").replace("EVAL", "max_new_tokens: 64")
    assert run_pipeline(pipeline(tmp_path, ok), runs_dir=tmp_path / "runs", dry_run=True, say=lambda _: None) == 0
    bad = ok.replace("learning_rate", "learning_rat")
    with pytest.raises(ConfigError, match=r"stages\.rl\.args: unknown field 'learning_rat'\. Did you mean 'learning_rate'"):
        run_pipeline(pipeline(tmp_path, bad), runs_dir=tmp_path / "runs", dry_run=True, say=lambda _: None)
    bad = ok.replace("max_new_tokens", "max_tokens")
    with pytest.raises(ConfigError, match=r"stages\.ev\.args\.max_tokens: not a flag"):
        run_pipeline(pipeline(tmp_path, bad), runs_dir=tmp_path / "runs", dry_run=True, say=lambda _: None)


def test_a_recipe_written_by_an_input_stage_and_our_cli_booleans(tmp_path):
    plan = build_plan(pipeline(tmp_path, """
        name: edge
        stages:
          base: {type: shell, command: "true"}
          edge: {type: select_edge, args: {model: "${base}", data: eval.yaml, ops: 8-20, greedy: false}}
          rl_data: {type: data, recipe: "${edge}/rl_data.yaml"}
        """), tmp_path / "runs")
    assert plan.names == ["base", "edge", "rl_data"] and plan.stage("rl_data").inputs == ["edge"]
    assert plan.stage("rl_data").command == ["interplay-hf", "data", "build", "runs/edge/edge/rl_data.yaml",
                                             "--output-dir", "runs/edge/rl_data/dataset", "--overwrite"]
    edge = plan.stage("edge").command
    assert "--no-greedy" in edge and edge[edge.index("--ops") + 1] == "8-20"
    with pytest.raises(ConfigError, match=r"stages\.e\.args: a select_edge stage needs model and data"):
        build_plan(pipeline(tmp_path, "name: e\nstages:\n  e: {type: select_edge, args: {model: m}}\n"))


def test_a_run_folder_in_use_by_another_pipeline_is_refused(tmp_path):
    import fcntl

    path = pipeline(tmp_path, THREE_STAGES)
    run_dir = tmp_path / "runs" / "three"
    run_dir.mkdir(parents=True)
    with open(run_dir / ".lock", "w") as held:
        held.write("pid 12345\n")
        held.flush()
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(ConfigError, match=r"is in use by a running pipeline \(pid 12345\)"):
            run(path, tmp_path)
    assert run(path, tmp_path)[0] == 0
