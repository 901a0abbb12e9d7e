"""Inputs a user or an adversary hands the tool, through the real command line (a subprocess per case).

Families: non-finite numbers, malformed files (JSON depth, NaN, typed fields, counts in results.json, corrupt arrow,
safetensors, configs and trainer state), pipes read once, secrets (nothing secret-shaped on screen or on disk),
recipe mistakes caught at plan time, and the network's failures told apart from the user's. Each case asserts the
exit code, one line, no traceback; the secret cases grep every file the run wrote. No timing asserts.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import REPO_ROOT, assert_one_line_error, cli, make_results

SECRETS = {  # what must never appear on screen or on disk
    "ghp_abcdefghijklmnopqrstuvwxyz0123456789": "a GitHub token in a shell command",
    "hunter2pw": "a password in a URL",
    "patsecretvalue123": "GITHUB_PAT",
    "XXXXsecretXXXX": "SLACK_WEBHOOK",
    "dbpassw0rd": "the password inside DATABASE_URL",
    "credsecret99": "a *_CREDENTIAL variable",
}


def secrets_in(root: Path, *texts: str) -> list[str]:
    """Secrets found in ``texts`` or in any file under ``root``."""
    found = [s for s in SECRETS if any(s in t for t in texts)]
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            found += [f"{s} in {path}" for s in SECRETS if s.encode() in data]
    return found


# --- finite numbers, checked before any work ---------------------------------------------------------


@pytest.mark.parametrize("args, needle", [
    (["eval", "--model", "m", "--data", "d", "--output-dir", "o", "--temperature", "nan"], "--temperature"),
    (["eval", "--model", "m", "--data", "d", "--output-dir", "o", "--temperature", "inf"], "not a finite number"),
    (["eval", "--model", "m", "--data", "d", "--output-dir", "o", "--top-p", "1e999"], "--top-p"),
    (["select-edge", "--results", "r", "--output-dir", "o", "--chance-margin", "nan"], "--chance-margin"),
    (["report", "a", "--output-dir", "o", "--confidence", "nan"], "--confidence"),
    (["verify", "--in", "x.jsonl", "--alpha", "-inf"], "--alpha"),
    (["tokenizer", "--dataset", "nowhere", "--output-dir", "t", "--vocab-size", "1000000000"], "at most 1,000,000"),
])
def test_non_finite_and_absurd_numbers_are_one_line(tmp_path, args, needle):
    assert_one_line_error(cli(*args, cwd=tmp_path), 2, needle)
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("override, needle", [
    ("temperature: .nan", "temperature: must be a finite number"),
    ("beta: .inf", "beta: must be a finite number"),
    ("learning_rate: .nan", "learning_rate: must be a finite number"),
    ("adam_beta2: 1.5", "adam_beta2: must be in [0, 1)"),
    ("hub_token: hf_AbCdEfGhIjKlMnOpQrStUvWxYz", "hub_token: tokens are not taken as settings"),
])
def test_train_dry_run_refuses_non_finite_settings_and_tokens(tmp_path, tiny_model_dir, override, needle):
    (tmp_path / "data").mkdir()  # exists; the numbers are checked before the dataset is read
    recipe = tmp_path / "grpo.yaml"
    recipe.write_text(f"model_name_or_path: {tiny_model_dir}\ndataset_path: {tmp_path / 'data'}\nuse_cpu: true\n"
                      f"num_generations: 2\nper_device_train_batch_size: 2\nmax_steps: 1\n{override}\n")
    result = cli("train", "grpo", "--config", str(recipe), "--dry-run", cwd=tmp_path)
    assert "AbCdEfGhIjKlMnOp" not in result.stdout + result.stderr
    assert_one_line_error(result, 2, needle)


# --- results.json read by report / select-edge: counts are integers in 0..n --------------------------


def _results_with(problem_update: dict | None = None, **top) -> dict:
    record = {"index": 0, "id": "p0", "op": 2, "context": "zoo", "regime": "ID", "answer": "3", "n": 4,
              "outcome_correct": 1, "process_correct": 1, "first_process_rank": 0, "greedy_outcome": None,
              "greedy_process": None, "mean_process_score": 0.5, "error_counts": {"missing": 1}, "truncated": 0,
              "generated_tokens": 10, "chance_p": 0.25}
    results = make_results()
    results["problems"] = [{**record, **(problem_update or {})}]
    results.update(top)
    return results


@pytest.mark.parametrize("results, needle", [
    (_results_with({"outcome_correct": -1}), "problems[0].outcome_correct = -1"),
    (_results_with({"process_correct": 5}), "problems[0].process_correct = 5"),
    (_results_with({"process_correct": 2.5}), "problems[0].process_correct = 2.5"),
    (_results_with({"outcome_correct": "3"}), "problems[0].outcome_correct = '3'"),
    (_results_with({"n": 0}), "problems[0].n = 0"),
    (_results_with({"op": "two"}), "problems[0].op = 'two'"),
    (_results_with(n=0), "n = 0"),
    (_results_with(problems=[]), "holds no problems"),
])
def test_results_counts_are_checked_on_read(tmp_path, results, needle):
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "results.json").write_text(json.dumps(results))
    err = assert_one_line_error(cli("report", "bad", "--output-dir", "rep", cwd=tmp_path), 2, needle)
    assert "bad/results.json" in err
    if results["problems"]:
        assert_one_line_error(cli("select-edge", "--results", "bad", "--k", "1", "--output-dir", "edge",
                                  cwd=tmp_path), 2, needle)


def test_a_nan_in_results_json_names_the_file(tmp_path):
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "results.json").write_text(json.dumps(_results_with()).replace('"chance_p": 0.25',
                                                                                       '"chance_p": NaN'))
    assert_one_line_error(cli("report", "r", "--output-dir", "rep", cwd=tmp_path), 2, "r/results.json", "NaN")


# --- JSON lines: bounded depth, no NaN, typed fields, pipes ------------------------------------------


def _row(**update) -> dict:
    from interplay_hf.data import generate_problem

    p = generate_problem(op=2, context="zoo", seed=0)
    return {"op": 2, "context": "zoo", "id": "0123456789abcdef", "prompt": p.prompt, "solution": p.completion,
            "answer": p.answer, **update}


def test_verify_skips_deep_nan_and_mistyped_rows_and_never_scores_a_nan_gold(tmp_path):
    lines = [
        json.dumps({"completion": "<answer>3</answer>", "answer": "3"}),
        '{"completion": "x", "answer": "1", "d": ' + "[" * 100_000 + "]" * 100_000 + "}",
        '{"completion": "<answer>nan</answer>", "answer": NaN}',
        json.dumps({"completion": "<answer>NaN</answer>", "answer": "NaN"}),
        json.dumps({"completion": "<answer>inf</answer>", "answer": "inf"}),
        json.dumps({"completion": "<answer>1</answer>", "answer": True}),
    ]
    (tmp_path / "in.jsonl").write_text("\n".join(lines) + "\n")
    result = cli("verify", "--in", "in.jsonl", "--out", "out.jsonl", cwd=tmp_path)
    assert result.returncode == 0 and "Traceback" not in result.stderr
    assert "line 2: invalid JSON (nested deeper than 64 levels)" in result.stderr
    assert "line 3: invalid JSON (NaN is not valid JSON" in result.stderr
    assert "line 6: 'answer' must be a string or number, got bool" in result.stderr
    scored = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [row["outcome"] for row in scored] == [True, False, False]  # "NaN" and "inf" golds are never correct
    assert [row["outcome_reward"] for row in scored] == [True, False, False]


def test_verify_reads_stdin_and_process_substitution(tmp_path):
    row = json.dumps({"completion": "<answer>3</answer>", "answer": "3"}) + "\n"
    (tmp_path / "in.jsonl").write_text(row)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO_ROOT)}
    for how in ("--in /dev/stdin < in.jsonl", "--in <(cat in.jsonl)"):
        result = subprocess.run(["bash", "-c", f"{sys.executable} -m interplay_hf.cli verify {how}"], cwd=tmp_path,
                                env=env, capture_output=True, text=True, timeout=900)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["outcome"] is True
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to("real")
    assert_one_line_error(cli("verify", "--in", "link", cwd=tmp_path), 2, "is a folder (through a symbolic link)")


@pytest.mark.parametrize("line, needle", [
    ("{\"op\": 2, \"x\": " + "[" * 50_000 + "]" * 50_000 + "}", "line 2 is not valid JSON (nested deeper"),
    (json.dumps(_row(op="two")), "line 2: 'op' = 'two' must be a non-negative integer"),
    (json.dumps(_row(answer=float("nan"))), "line 2 is not valid JSON (NaN"),
    (json.dumps(_row(answer=[1])), "line 2: 'answer' = [1] must be a string or a finite number"),
    ("[1, 2]", "line 2: expected a JSON object per line"),
])
def test_eval_data_rows_are_checked_before_the_model_loads(tmp_path, tiny_model_dir, line, needle):
    (tmp_path / "d.jsonl").write_text(json.dumps(_row()) + "\n" + line + "\n")
    result = cli("eval", "--model", str(tiny_model_dir), "--data", "d.jsonl", "--n", "2", "--k", "1",
                 "--output-dir", "out", cwd=tmp_path)
    assert_one_line_error(result, 2, "--data d.jsonl", needle)


# --- corrupt files from a crash or a bad copy: one line with the path --------------------------------


@pytest.fixture
def saved_text_dataset(tmp_path) -> Path:
    from datasets import Dataset, DatasetDict

    path = tmp_path / "ds"
    DatasetDict({"train": Dataset.from_dict({"text": ["a b c"] * 20})}).save_to_disk(str(path))
    return path


@pytest.mark.parametrize("size", [0, 200])
def test_a_zero_length_or_truncated_arrow_file_is_one_line(tmp_path, saved_text_dataset, size):
    arrow = next((saved_text_dataset / "train").glob("*.arrow"))
    with open(arrow, "r+b") as f:
        f.truncate(size)
    result = cli("tokenizer", "--dataset", str(saved_text_dataset), "--output-dir", "tok", cwd=tmp_path)
    assert_one_line_error(result, 2, str(saved_text_dataset), "corrupt or truncated")


def test_half_written_weights_and_a_bad_config_are_one_line(tmp_path, tiny_model_dir):
    half = tmp_path / "half"
    shutil.copytree(tiny_model_dir, half)
    with open(half / "model.safetensors", "r+b") as f:
        f.truncate(3000)
    bad = tmp_path / "bad"
    shutil.copytree(tiny_model_dir, bad)
    config = json.loads((bad / "config.json").read_text())
    (bad / "config.json").write_text(json.dumps({**config, "hidden_size": -5}))
    (tmp_path / "d.jsonl").write_text(json.dumps(_row()) + "\n")
    for model, needle in ((half, "half/model.safetensors is not a readable safetensors file"),
                          (bad, "has hidden_size = -5")):
        for command in (["eval", "--n", "2", "--k", "1"], ["select-edge", "--n", "2", "--k", "1", "--ops", "2"]):
            result = cli(*command, "--model", str(model), "--data", "d.jsonl", "--output-dir", "o", cwd=tmp_path)
            assert_one_line_error(result, 2, needle)
            assert not (tmp_path / "o" / "results.json").exists()  # the lock may make the folder; nothing else


@pytest.mark.parametrize("state, needle", [
    ({"global_step": 3, "log_history": [{"num_tokens": -1e9}]}, "num_tokens = -1000000000"),
    ({"global_step": 3, "log_history": [{"num_tokens": "abc"}]}, "num_tokens = 'abc'"),
    ({"global_step": 3, "log_history": 5}, "log_history is not a list"),
    ([1], "expected a JSON object"),
])
def test_compute_refuses_a_corrupt_trainer_state(tmp_path, tiny_model_dir, state, needle):
    stage = tmp_path / "stage"
    shutil.copytree(tiny_model_dir, stage)
    (stage / "recipe.yaml").write_text("learning_rate: 0.001\n")
    (stage / "trainer_state.json").write_text(json.dumps(state))
    assert_one_line_error(cli("compute", "stage", cwd=tmp_path), 2, "stage/trainer_state.json", needle)


# --- secrets: never on screen, never on disk ---------------------------------------------------------


def test_pipeline_secrets_stay_off_screen_and_disk(tmp_path):
    pipeline = {"name": "sec", "stages": {"s": {
        "type": "shell",
        "command": "echo start; true 'Authorization: Bearer ghp_abcdefghijklmnopqrstuvwxyz0123456789' "
                   "https://bob:hunter2pw@example.com/x; echo done",
        "env": {"GITHUB_PAT": "patsecretvalue123", "SLACK_WEBHOOK": "https://hooks.slack.com/services/T0/B0/XXXXsecretXXXX",
                "DATABASE_URL": "postgres://admin:dbpassw0rd@db:5432/x", "MY_CREDENTIAL": "credsecret99",
                "PLAIN": "visible"},
    }}}
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(pipeline))
    dry = cli("pipeline", "p.yaml", "--dry-run", cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert "PLAIN=visible" in dry.stdout and "postgres://admin:<redacted>@db" in dry.stdout
    ran = cli("pipeline", "p.yaml", cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert (tmp_path / "runs" / "sec" / "s" / ".done").is_file()
    assert secrets_in(tmp_path / "runs", dry.stdout, dry.stderr, ran.stdout, ran.stderr) == []


def test_an_endpoint_password_is_never_echoed_and_the_network_is_named(tmp_path, tiny_model_dir):
    env = {"HF_HUB_OFFLINE": "0", "HF_ENDPOINT": "http://bob:hunter2pw@127.0.0.1:9", "HF_HOME": str(tmp_path / "hf"),
           "HF_TOKEN": "hf_" + "Q" * 30}
    stage = tmp_path / "stage"
    shutil.copytree(tiny_model_dir, stage)
    (tmp_path / "d.jsonl").write_text(json.dumps(_row()) + "\n")
    push = cli("push", "stage", "--repo-id", "me/x", cwd=tmp_path, env=env)
    assert_one_line_error(push, 1, "cannot reach the Hub", "a network problem, not the repo id")
    released = cli("eval", "--released", "ctx-0.01-rl-strict", "--data", "d.jsonl", "--n", "2", "--k", "1",
                   "--output-dir", "o", cwd=tmp_path, env={**env, "HF_TOKEN": ""})
    assert_one_line_error(released, 1, "cannot reach the Hub", "not the repo id")
    assert secrets_in(tmp_path, push.stderr, released.stderr) == []


# --- recipes: duplicate keys, env values, later stages' checks at plan time ---------------------------


QUICKSTART = REPO_ROOT / "recipes" / "quickstart" / "pipeline.yaml"


def _quickstart_variant(tmp_path: Path, change) -> Path:
    from interplay_hf.yaml_io import read_yaml

    pipeline = read_yaml(QUICKSTART)
    change(pipeline["stages"])
    for name in ("recipes", "accelerate_configs"):
        (tmp_path / name).symlink_to(REPO_ROOT / name)
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(pipeline, sort_keys=False))
    return path


@pytest.mark.parametrize("change, needle", [
    (lambda s: s["eval"]["args"].update(n=0), "stages.eval.matrix.base: --n must be a positive number"),
    (lambda s: s["eval"]["args"].update(k=[1, 16]), "--k 16 exceeds --n 8"),
    (lambda s: s["grpo"]["args"].update(temperature=math.nan), "stages.grpo: temperature: must be a finite number"),
    (lambda s: s["grpo"]["args"].update(reward_kwargs={"mixed": {"alpha": 3}}), "reward_kwargs.mixed.alpha"),
    (lambda s: s["grpo"]["args"].update(hub_token="hf_AbCdEfGhIjKlMnOpQrStUvWxYz"), "hub_token: tokens are not"),
    (lambda s: s["grpo"].update(env={"Z": None}), "stages.grpo.env.Z: null is not an environment value"),
    (lambda s: s["grpo"].update(env={"X": [1, 2]}), "stages.grpo.env.X: list is not an environment value"),
])
def test_pipeline_dry_run_runs_the_checks_of_later_stages(tmp_path, change, needle):
    path = _quickstart_variant(tmp_path, change)
    result = cli("pipeline", str(path), "--dry-run", cwd=tmp_path)
    assert "AbCdEfGhIjKlMnOp" not in result.stdout + result.stderr
    assert_one_line_error(result, 2, needle)


def test_duplicate_yaml_keys_name_the_file_line_and_key(tmp_path):
    (tmp_path / "r.yaml").write_text("model_preset: qwen2-1m\nlearning_rate: 1.0e-3\nseed: 0\nlearning_rate: 2.0e-3\n")
    assert_one_line_error(cli("train", "sft", "--config", "r.yaml", "--dry-run", cwd=tmp_path), 2,
                          "r.yaml", "line 4: key 'learning_rate' is already set on line 2")
    text = QUICKSTART.read_text() + "  report:\n    type: report\n    args: {evals: \"${eval}\"}\n"
    (tmp_path / "p.yaml").write_text(text)
    assert_one_line_error(cli("pipeline", "p.yaml", "--dry-run", cwd=tmp_path), 2, "p.yaml", "key 'report'")


# --- a trainer that produces a non-finite loss stops and keeps the last good checkpoint ----------------


def test_a_non_finite_loss_stops_training_and_keeps_the_last_good_checkpoint(tmp_path, tiny_model_dir,
                                                                               saved_text_dataset):
    from datasets import Dataset, DatasetDict

    from interplay_hf.data import generate_problem

    texts = [generate_problem(op=2, context="zoo", seed=i).text for i in range(16)]
    DatasetDict({"train": Dataset.from_dict({"text": texts})}).save_to_disk(str(tmp_path / "data"))
    recipe = {"model_name_or_path": str(tiny_model_dir), "dataset_path": str(tmp_path / "data"), "max_length": 64,
              "per_device_train_batch_size": 2, "max_steps": 4, "learning_rate": 1.0e30, "max_grad_norm": 0,
              "lr_scheduler_type": "constant", "use_cpu": True, "bf16": False, "logging_steps": 2, "save_steps": 1,
              "heldout_split": "none", "disable_tqdm": True, "report_to": "none", "seed": 0,
              "output_dir": str(tmp_path / "out")}
    (tmp_path / "nan.yaml").write_text(yaml.safe_dump(recipe))
    result = cli("train", "sft", "--config", "nan.yaml", cwd=tmp_path)
    err = [line for line in result.stderr.splitlines() if "error:" in line]
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert len(err) == 1 and "training stopped at step 2" in err[0] and "checkpoint-1" in err[0], err
    out = tmp_path / "out"
    assert sorted(p.name for p in out.glob("checkpoint-*")) == ["checkpoint-1"]
    assert not (out / "model.safetensors").exists()  # the NaN weights were never saved as the stage's model
    from safetensors.numpy import load_file

    weights = load_file(str(out / "checkpoint-1" / "model.safetensors"))
    assert all(bool((abs(w) < float("inf")).all()) for w in weights.values())
