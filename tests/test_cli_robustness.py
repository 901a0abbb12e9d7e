"""The CLI error policy, through the real command line (a subprocess per case, as a user runs it).

Each bad input must end in: the documented exit code, one line on stderr that names the field or file,
no Python traceback, and nothing outside the output touched. Kept lean: the cases that need no model
import only the CLI, and the training ones share one tiny model and one small dataset.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO_ROOT, assert_one_line_error, cli, snapshot

from interplay_hf.errors import ConfigError

TOKEN = "hf_" + "Secret" * 5  # looks like a Hub token; must never be printed


# --- data: --overwrite never deletes what we did not write ------------------------------------------


def test_overwrite_refuses_a_folder_of_user_files_and_a_regular_file(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("years of work")
    (tmp_path / "notes.txt").write_text("keep me")
    before = snapshot(tmp_path)
    recipe = str(REPO_ROOT / "recipes" / "data" / "tiny.yaml")
    assert_one_line_error(cli("data", "build", recipe, "--output-dir", "mine", "--overwrite", cwd=tmp_path), 2,
                          "'mine'", "not a dataset built by interplay-hf")
    assert_one_line_error(cli("data", "build", recipe, "--output-dir", "notes.txt", "--overwrite", cwd=tmp_path), 2,
                          "notes.txt", "is a file")
    assert_one_line_error(cli("data", "build", recipe, "--output-dir", "notes.txt/sub", cwd=tmp_path), 1,
                          "notes.txt", "not a folder")
    assert snapshot(tmp_path) == before


def test_sigterm_during_a_build_removes_its_staging_folder(tmp_path):
    recipe = str(REPO_ROOT / "recipes" / "data" / "tiny.yaml")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "interplay_hf.cli", "data", "build", recipe, "--output-dir",
                             str(tmp_path / "out")], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, env=env,
                            text=True)
    assert proc.stderr is not None
    for line in proc.stderr:  # the first finished split: generation is under way, staging exists
        if line.startswith("[data build] eval_op2_zoo"):
            break
    assert any(p.name.startswith(".tmp-") for p in tmp_path.iterdir())
    proc.send_signal(signal.SIGTERM)
    rest = proc.stderr.read()
    assert proc.wait(timeout=60) == 128 + signal.SIGTERM
    assert "interrupted; re-run the same command to resume" in rest and "Traceback" not in rest
    assert list(tmp_path.iterdir()) == [], "no staging folder and no half-written output"


# --- interrupts, pipes, --debug ---------------------------------------------------------------------


def _first_line_then(signal_or_close: str) -> tuple[int, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    # A terminal's Ctrl-C: SIGINT handled as usual even where the suite itself runs as a background job (a shell
    # starts those with SIGINT ignored, and the child would inherit that and run to the end)
    proc = subprocess.Popen([sys.executable, "-m", "interplay_hf.cli", "data", "sample", "--op", "20", "--n", "100000"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert proc.stdout is not None and proc.stderr is not None
    assert json.loads(proc.stdout.readline())["op"] == 20
    if signal_or_close == "close":
        proc.stdout.close()  # what `| head -1` does
        err = proc.stderr.read()
        return proc.wait(timeout=300), err.decode()
    proc.send_signal(getattr(signal, signal_or_close))
    # Drain stdout to its end: a child stopped by the signal still flushes its buffered rows on exit, and would
    # block forever on a full pipe nobody reads (the test then timed out under load).
    _, err = proc.communicate(timeout=300)
    return proc.returncode, err.decode()


def test_ctrl_c_sigterm_and_a_closed_pipe():
    code, err = _first_line_then("SIGINT")
    assert code == 130 and err.strip() == "interplay-hf: interrupted; re-run the same command to resume"
    code, err = _first_line_then("SIGTERM")
    assert code == 143 and "interrupted" in err and "Traceback" not in err
    code, err = _first_line_then("close")
    assert code == 141 and err == ""


def test_debug_flag_and_environment_variable_show_the_traceback(tmp_path):
    assert_one_line_error(cli("data", "validate", "missing.yaml", cwd=tmp_path), 2, "missing.yaml")
    assert_one_line_error(cli("data", "sample", "--op", "x", cwd=tmp_path), 2, "--op", "--help")  # argparse too
    for result in (cli("--debug", "data", "validate", "missing.yaml", cwd=tmp_path),
                   cli("data", "validate", "missing.yaml", cwd=tmp_path, env={"INTERPLAY_DEBUG": "1"})):
        assert result.returncode != 0 and "Traceback" in result.stderr and "ConfigError" in result.stderr


# --- bounded YAML -----------------------------------------------------------------------------------

ALIAS_BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(10)
)


@pytest.mark.parametrize(("content", "needle"), [
    (ALIAS_BOMB, "expands to more than"),
    ("a: &a [*a]\n", "recursive anchor"),
    (b"\x00\x01\x89PNG\xff", "not a text YAML file"),
    ("[" * 3000 + "]" * 3000, "nested too deeply"),
    ("name: x\nsplits: {train: {size: 5, ops: 2\n", "not valid YAML"),
])
def test_bad_recipe_files_get_one_line_and_no_hang(tmp_path, content, needle):
    path = tmp_path / "r.yaml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    started = time.monotonic()
    for command in (("data", "validate", str(path)), ("pipeline", str(path), "--dry-run")):
        assert_one_line_error(cli(*command, cwd=tmp_path, timeout=60), 2, "r.yaml", needle)
    assert time.monotonic() - started < 60


# --- pipelines: empty selections, secrets in plans, flags of interplay-hf stages, a failing child ----


def write_pipeline(tmp_path: Path, stages: dict) -> Path:
    path = tmp_path / "pipe.yaml"
    path.write_text(json.dumps({"name": "probe", "stages": stages}))  # JSON is YAML
    return path


def test_pipeline_selection_secrets_and_stage_flags(tmp_path):
    shell = {"type": "shell", "command": "true", "env": {"HF_TOKEN": TOKEN, "OMP_NUM_THREADS": "1"}}
    path = write_pipeline(tmp_path, {"s": shell})
    assert_one_line_error(cli("pipeline", str(path), "--only", "", cwd=tmp_path), 2, "--only", "names no stage")
    plan = cli("pipeline", str(path), "--dry-run", "--runs-dir", "runs", cwd=tmp_path, env={"HF_TOKEN": TOKEN})
    assert plan.returncode == 0 and "HF_TOKEN=<redacted>" in plan.stdout and "OMP_NUM_THREADS=1" in plan.stdout
    assert TOKEN not in plan.stdout + plan.stderr

    bad = write_pipeline(tmp_path, {"tok": {"type": "tokenizer", "args": {"dataset": "d", "vocab_sise": 100}}})
    assert_one_line_error(cli("pipeline", str(bad), "--dry-run", cwd=tmp_path), 2,
                          "stages.tok.args.vocab_sise", "interplay-hf tokenizer")


def test_a_failing_stage_reports_its_child_error_once(tmp_path):
    path = write_pipeline(tmp_path, {"v": {"type": "shell", "command": "interplay-hf data validate nope.yaml"}})
    result = cli("pipeline", str(path), "--runs-dir", "runs", cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stdout + result.stderr
    last = result.stdout.strip().splitlines()[-1]
    assert "stage 'v' (shell) failed with exit code 2 (interplay-hf: error: recipe file 'nope.yaml'" in last
    assert result.stdout.count("nope.yaml' does not exist") == 1
    assert "does not exist" in (tmp_path / "runs" / "probe" / "v" / "stage.log").read_text()


# --- verify: nothing silently wrong -----------------------------------------------------------------


def test_verify_flags_gold_without_steps_and_truncated_completions(tmp_path):
    gold = ("Define adult parrot in Mayer Aquarium as a; so a = 4. Define total number of adult animals in Mayer "
            "Aquarium as A; so A = a = 4. Answer: 4.")
    guess = " <answer> 4"  # no steps at all, yet "process-perfect" against a gold without steps
    rows = [
        {"completion": guess, "answer": "4"},  # answer-only gold
        {"completion": guess, "answer": "4", "gold": gold},  # the steps are under another key
        {"completion": " " + gold + " " + "x" * 200, "solution": gold},  # long: cut at --max-chars
    ]
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = cli("verify", "--in", str(src), "--out", str(tmp_path / "out.jsonl"), "--max-chars", "200", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    scored = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [r["gold_without_steps"] for r in scored] == [True, True, False]
    assert [r["truncated"] for r in scored] == [False, False, True]
    assert scored[0]["process_score"] == 1.0  # the compat numbers are unchanged: the flag is what tells
    assert "2 row(s) have a gold without steps" in result.stderr
    assert "1 completion(s) longer than --max-chars" in result.stderr


# --- evaluation outputs -----------------------------------------------------------------------------


def test_report_and_eval_refuse_foreign_results(tmp_path):
    (tmp_path / "ev").mkdir()
    (tmp_path / "ev" / "results.json").write_text("{torn")
    before = snapshot(tmp_path)
    assert_one_line_error(cli("report", "ev", "--output-dir", "rep", cwd=tmp_path), 2, "ev/results.json", "re-run")
    other = {"model": "someone/else", "data": "d.jsonl", "n": 4, "problems": []}
    (tmp_path / "ev" / "results.json").write_text(json.dumps(other))
    (tmp_path / "d.jsonl").write_text("")
    before = snapshot(tmp_path)
    assert_one_line_error(cli("eval", "--model", "mine", "--data", "d.jsonl", "--n", "4", "--output-dir", "ev",
                              cwd=tmp_path), 2, "--output-dir ev", "'someone/else'", "--overwrite")
    assert snapshot(tmp_path) == before


# --- training: checked before launch, a child's error once ------------------------------------------


@pytest.fixture(scope="module")
def prompts_without_gold(tmp_path_factory) -> Path:
    from datasets import Dataset, DatasetDict

    path = tmp_path_factory.mktemp("no_gold") / "data"
    rows = [{"prompt": f"Question {i}.", "text": f"Question {i}. Answer {i}."} for i in range(8)]
    DatasetDict({"train": Dataset.from_list(rows)}).save_to_disk(str(path))
    return path


def test_train_dry_run_catches_what_would_fail_after_launch(tmp_path, tiny_model_dir, prompts_without_gold):
    grpo = tmp_path / "grpo.yaml"
    grpo.write_text(json.dumps({"model_name_or_path": str(tiny_model_dir), "dataset_path": str(prompts_without_gold),
                                "output_dir": str(tmp_path / "out"), "reward_funcs": ["mixed"],
                                "per_device_train_batch_size": 6, "use_cpu": True, "report_to": "none"}))
    run = ("train", "grpo", "--config", str(grpo), "--dry-run")
    assert_one_line_error(cli(*run, cwd=tmp_path), 2, "'mixed' needs a gold column", "solution", "prompt")
    assert_one_line_error(cli(*run, "--", "--reward_funcs", "format", "--learning_rate", "-1", cwd=tmp_path), 2,
                          "learning_rate: must be > 0")
    assert_one_line_error(cli(*run, "--num-processes", "0", cwd=tmp_path), 2, "--num-processes")
    (tmp_path / "weightless").mkdir()
    (tmp_path / "weightless" / "config.json").write_text((tiny_model_dir / "config.json").read_text())
    assert_one_line_error(cli(*run, "--", "--reward_funcs", "format", "--model_name_or_path", "weightless",
                              cwd=tmp_path), 2, "model_name_or_path: weightless has no *.safetensors")
    (tmp_path / "weightless" / "model.safetensors").write_bytes(os.urandom(1000))  # corrupt weights
    assert_one_line_error(cli(*run, "--", "--reward_funcs", "format", "--model_name_or_path", "weightless",
                              cwd=tmp_path), 2, "model.safetensors is not a readable safetensors file")
    assert_one_line_error(cli(*run, "--", "--reward_funcs", "format", "--dataset_train_split", "rl",
                              cwd=tmp_path), 2, "dataset_train_split", "'rl'")
    push = ("--", "--reward_funcs", "format", "--push_to_hub", "true")
    assert_one_line_error(cli(*run, *push, "--hub_model_id", "tiny", cwd=tmp_path), 2, "hub_model_id 'tiny'")
    assert_one_line_error(cli(*run, *push, "--hub_model_id", "me/tiny", cwd=tmp_path), 2, "HF_HUB_OFFLINE=1")
    assert not (tmp_path / "out").exists()


def test_rewards_check_gold_columns_and_do_not_swallow_our_bugs(monkeypatch):
    from interplay_hf import rewards

    rewards.check_reward_columns(["format"], ["prompt"])  # format needs no gold
    rewards.check_reward_columns(["outcome"], ["prompt", "answer"])
    with pytest.raises(ConfigError, match="'strict' needs a gold column"):
        rewards.check_reward_columns(["format", "strict"], ["prompt", "answer"])

    def broken(*args, **kwargs):
        raise KeyError("a bug in our code")

    monkeypatch.setattr(rewards, "verify", broken)
    rewards._verify_cached.cache_clear()
    with pytest.raises(KeyError):
        rewards.process_reward([" Define a as 3."], solution=["Define a as 3. <answer> 3"])


def test_chance_baseline_refuses_an_unknown_context():
    from interplay_hf.evaluation.chance import chance_distribution

    with pytest.raises(ConfigError, match="unknown context 'cooking'.*--chance-samples 0"):
        chance_distribution([(2, "3")], ["zoo", "cooking"], samples_per_op=10)
    dist = chance_distribution([(2, "3"), (2, "3"), (2, "4")], ["cooking"], samples_per_op=0)
    assert dist.hit_prob(2, "3") == 0.5  # leave-one-out over the eval set's own answers


def test_eval_refuses_gold_without_steps_before_loading_a_model(tmp_path):
    rows = [{"prompt": "How many? Solution:", "op": 2, "context": "zoo", "answer": "4"}]
    (tmp_path / "answers_only.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert_one_line_error(cli("eval", "--model", "not-loaded", "--data", "answers_only.jsonl", "--n", "2",
                              "--output-dir", "ev", cwd=tmp_path), 2, "no gold solution steps")


def test_tokens_are_redacted_from_every_source(monkeypatch):
    from interplay_hf.redact import REDACTED, redact_argv, redact_env, scrub

    monkeypatch.setenv("MY_SERVICE_TOKEN", "s3cr3t-value-123")
    assert redact_argv(["--hub_token", TOKEN, "--hub-token=abc", "--seed", "1"]) == [
        "--hub_token", REDACTED, f"--hub-token={REDACTED}", "--seed", "1"]
    assert redact_env({"HF_TOKEN": "x" * 10, "WANDB_API_KEY": "k" * 10, "OMP_NUM_THREADS": "1"}) == {
        "HF_TOKEN": REDACTED, "WANDB_API_KEY": REDACTED, "OMP_NUM_THREADS": "1"}
    assert scrub(f"failed with {TOKEN} and s3cr3t-value-123") == f"failed with {REDACTED} and {REDACTED}"


ELASTIC_FAILURE = b"""W1204 13:08:13.506000 24374 torch/distributed/elastic/multiprocessing/api.py:1028] Sending process 24379 closing signal SIGTERM
E1204 13:08:13.624000 24374 torch/distributed/elastic/multiprocessing/api.py:1002] failed (exitcode: 2) local_rank: 1 (pid: 24380) of binary: python3
============================================================
interplay_hf.train.grpo FAILED
------------------------------------------------------------
Failures:
[1]:
  time      : 2026-12-04_13:08:13
  exitcode  : -15 (pid: 24379)  (SIGTERM)
------------------------------------------------------------
Root Cause (first observed failure):
[0]:
  exitcode  : 2 (pid: 24380)
  traceback : To enable traceback see: https://pytorch.org/docs/stable/elastic/errors.html
============================================================
"""


@pytest.mark.parametrize("chunk", [1, 7, 4096])
def test_launcher_noise_filter_drops_the_elastic_block_and_keeps_the_rest(chunk):
    from interplay_hf.guard.elastic_log import LauncherNoiseFilter

    kept = b"step 1 loss 2.0\n\rTraining:  50%|#####     | 5/10\n" + b"=" * 30 + b"\na table rule, not a failure\n"
    stream = kept + ELASTIC_FAILURE + b"Warning: the last line\n"
    filt = LauncherNoiseFilter()
    out = b"".join(filt.feed(stream[i:i + chunk]) for i in range(0, len(stream), chunk)) + filt.flush()
    assert out == kept + b"Warning: the last line\n"
    progress = LauncherNoiseFilter().feed(b"\rTraining:  60%|######")
    assert progress == b"\rTraining:  60%|######"  # a progress bar is not held back until a newline


@pytest.mark.slow
def test_a_child_failing_after_launch_prints_one_line_without_the_launcher_block(tmp_path, tiny_model_dir,
                                                                                 prompts_without_gold):
    """Two ranks, a tokenizer.json that only the loading child finds corrupt: one line, the child's status."""
    import shutil

    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    (model / "tokenizer.json").write_text("{not json")
    grpo = tmp_path / "grpo.yaml"
    grpo.write_text(json.dumps({"model_name_or_path": str(model), "dataset_path": str(prompts_without_gold),
                                "output_dir": str(tmp_path / "out"), "reward_funcs": ["format"],
                                "num_generations": 2, "per_device_train_batch_size": 2, "max_train_samples": 2,
                                "use_cpu": True, "report_to": "none"}))
    result = cli("train", "grpo", "--config", str(grpo), "--num-processes", "2", cwd=tmp_path, timeout=300)
    assert result.returncode == 2 and "Traceback" not in result.stdout + result.stderr, result.stderr[-2000:]
    assert "FAILED" not in result.stderr and "Root Cause" not in result.stderr and "elastic" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("interplay-hf train grpo: error:") and "not valid JSON" in lines[-1]
    assert sum("error:" in line for line in lines) == 1  # once, not once per rank
