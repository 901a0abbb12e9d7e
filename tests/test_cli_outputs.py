"""The output policy (interplay_hf/guard/outputs.py) through the real command line, a subprocess per case.

Outputs never meet inputs, special files are written through or refused, a second writer of an output folder stops
with one line naming the holder, torn or stale state left by a kill is repaired by the next run, and no command
writes beside its inputs. Each refusal: exit 2, one line, no traceback, inputs byte-identical.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml
from conftest import REPO_ROOT, assert_one_line_error, cli, make_results, snapshot

TINY = str(REPO_ROOT / "recipes" / "data" / "tiny.yaml")
ROWS = REPO_ROOT / "tests" / "fixtures" / "official_rows.jsonl"
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO_ROOT)}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """A dataset built by `data build` from the tiny recipe (read-only for the tests below)."""
    root = tmp_path_factory.mktemp("built")
    result = cli("data", "build", TINY, "--output-dir", "data", cwd=root)
    assert result.returncode == 0, result.stderr[-2000:]
    return root / "data"


class Holder:
    """Another process holding the lock of an output folder, as a running command does."""

    def __init__(self, output: Path):
        code = ("import sys; from interplay_hf.guard.outputs import output_lock\n"
                "with output_lock(sys.argv[1]):\n    print('held', flush=True); sys.stdin.read()")
        self.proc = subprocess.Popen([sys.executable, "-c", code, str(output)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, env=ENV)
        assert self.proc.stdout is not None and self.proc.stdout.readline() == "held\n"

    def __enter__(self) -> int:
        return self.proc.pid

    def __exit__(self, *exc) -> None:
        self.proc.communicate(input="", timeout=300)


def start_build(output: Path, cwd: Path) -> subprocess.Popen:
    """A build of the tiny recipe, returned once its first split is generated (its staging folder exists)."""
    proc = subprocess.Popen([sys.executable, "-m", "interplay_hf.cli", "data", "build", TINY, "--output-dir",
                             str(output)], cwd=cwd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, env=ENV,
                            text=True)
    assert proc.stderr is not None
    for line in proc.stderr:
        if line.startswith("[data build] eval_op2_zoo"):
            return proc
    raise AssertionError(f"the build ended before its first split: {proc.wait()}")


# --- outputs never meet inputs --------------------------------------------------------------------------------


def test_a_build_never_writes_over_its_recipe_or_the_datasets_it_dedups_against(built, tmp_path):
    before = snapshot(built.parent)
    assert_one_line_error(cli("data", "build", TINY, "--dedup-against", str(built), "--output-dir", str(built),
                              "--overwrite", cwd=tmp_path), 2, "is the input dedup_against")
    assert_one_line_error(cli("data", "build", TINY, "--dedup-against", str(built), "--output-dir",
                              str(built / "inner"), cwd=tmp_path), 2, "is inside the input dedup_against")
    (tmp_path / "link").symlink_to(built)
    assert_one_line_error(cli("data", "build", TINY, "--dedup-against", "link", "--output-dir", str(built),
                              "--overwrite", cwd=tmp_path), 2, "is the input dedup_against link")
    assert snapshot(built.parent) == before
    (tmp_path / "r.yaml").write_text(Path(TINY).read_text())
    mine = snapshot(tmp_path)
    assert_one_line_error(cli("data", "build", "r.yaml", "--output-dir", ".", "--overwrite", cwd=tmp_path), 2,
                          "holds the input recipe r.yaml")
    assert snapshot(tmp_path) == mine


def test_overwrite_replaces_only_what_a_build_wrote(built, tmp_path):
    import shutil

    shutil.copytree(built, tmp_path / "d")
    (tmp_path / "d" / "results.json").write_text("{}")  # e.g. an eval someone ran into the dataset folder
    before = snapshot(tmp_path)
    assert_one_line_error(cli("data", "build", TINY, "--output-dir", "d", "--overwrite", cwd=tmp_path), 2,
                          "holds files a build did not write (results.json)")
    assert snapshot(tmp_path) == before


def test_commands_refuse_an_output_that_is_or_holds_their_input(built, tmp_path, tiny_model_dir):
    before = snapshot(built.parent)
    assert_one_line_error(cli("eval", "--model", "m", "--data", str(built), "--n", "2", "--k", "1",
                              "--output-dir", str(built), cwd=tmp_path), 2, "is the input --data")
    assert_one_line_error(cli("tokenizer", "--dataset", str(built), "--output-dir", str(built), cwd=tmp_path), 2,
                          "is the input --dataset")
    assert_one_line_error(cli("tokenizer", "--dataset", str(built), "--output-dir", str(tiny_model_dir),
                              cwd=tmp_path), 2, "holds a model (config.json, model.safetensors)")
    assert snapshot(built.parent) == before
    model = snapshot(tiny_model_dir)
    assert_one_line_error(cli("eval", "--model", str(tiny_model_dir), "--data", str(ROWS), "--n", "2", "--k", "1",
                              "--output-dir", str(tiny_model_dir / "eval"), cwd=tmp_path), 2,
                          "is inside the input --model")
    assert_one_line_error(cli("card", str(tiny_model_dir), "--output", str(tiny_model_dir / "model.safetensors"),
                              cwd=tmp_path), 2, "is inside the input PATH")
    (tmp_path / "sft.yaml").write_text(yaml.safe_dump({
        "model_name_or_path": str(tiny_model_dir), "dataset_path": str(built), "output_dir": str(tiny_model_dir),
        "use_cpu": True, "report_to": "none", "max_steps": 1}))
    assert_one_line_error(cli("train", "sft", "--config", "sft.yaml", "--dry-run", cwd=tmp_path), 2,
                          "output_dir", "is the input model_name_or_path")
    assert snapshot(tiny_model_dir) == model
    # findings and report: their result files are inputs too
    for run in ("a", "b"):
        (tmp_path / run).mkdir()
        (tmp_path / run / "results.json").write_text(json.dumps(make_results()))
    (tmp_path / "f.yaml").write_text(yaml.safe_dump({"findings": [
        {"name": "x", "claim": "c", "a": "a", "b": "b", "metric": "process_pass@1", "regime": "ID",
         "direction": "increase"}]}))
    runs = snapshot(tmp_path)
    assert_one_line_error(cli("findings", "f.yaml", "--output", "a/results.json", cwd=tmp_path), 2,
                          "--output a/results.json", "is inside the input x.a")
    assert_one_line_error(cli("findings", "f.yaml", "--output", "f.yaml", cwd=tmp_path), 2, "is the input spec")
    assert_one_line_error(cli("report", "a", "b", "--output-dir", "b", cwd=tmp_path), 2, "is the input eval dir b")
    assert snapshot(tmp_path) == runs


# --- special files ------------------------------------------------------------------------------------------


def test_a_fifo_or_a_device_is_written_through_never_replaced(tmp_path):
    rows = [{"completion": "<answer>3</answer>", "answer": "3"}]
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text()))
    reader.start()
    result = cli("verify", "--in", "in.jsonl", "--out", "pipe", cwd=tmp_path)
    reader.join(timeout=300)
    assert result.returncode == 0, result.stderr
    assert stat.S_ISFIFO(os.stat(fifo).st_mode) and json.loads(got[0])["answer"] == "3"
    assert cli("verify", "--in", "in.jsonl", "--out", os.devnull, cwd=tmp_path).returncode == 0
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)
    assert_one_line_error(cli("data", "build", TINY, "--output-dir", "pipe", cwd=tmp_path), 2, "is a FIFO")
    (tmp_path / "out.jsonl").symlink_to("in.jsonl")  # --out a link to --in: the same file
    assert_one_line_error(cli("verify", "--in", "in.jsonl", "--out", "out.jsonl", cwd=tmp_path), 2,
                          "is the input --in")
    assert json.loads((tmp_path / "in.jsonl").read_text()) == rows[0]


# --- locks --------------------------------------------------------------------------------------------------


def test_a_second_writer_of_an_output_folder_stops_naming_the_holder(built, tmp_path, tiny_model_dir):
    (tmp_path / "sft.yaml").write_text(yaml.safe_dump({
        "model_name_or_path": str(tiny_model_dir), "dataset_path": str(built), "output_dir": "busy",
        "dataset_text_field": "text", "use_cpu": True, "report_to": "none", "max_steps": 1}))
    with Holder(tmp_path / "busy") as pid:
        for command in (("data", "build", TINY, "--output-dir", "busy"),
                        ("eval", "--model", str(tiny_model_dir), "--data", str(ROWS), "--ops", "2", "--n", "2",
                         "--k", "1", "--output-dir", "busy"),
                        ("tokenizer", "--dataset", str(built), "--output-dir", "busy"),
                        ("train", "sft", "--config", "sft.yaml")):
            assert_one_line_error(cli(*command, cwd=tmp_path), 2, "busy", "in use by a running command",
                                  f"(pid {pid}: ")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sft.yaml"]  # nothing written, the lock file gone


# --- torn and stale state -----------------------------------------------------------------------------------


def test_a_folder_made_during_a_build_is_kept_and_a_killed_builds_staging_is_swept(tmp_path):
    proc = start_build(tmp_path / "out", tmp_path)
    (tmp_path / "out").mkdir()  # the user makes the folder while the build runs (empty: rename would take it)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 2 and "appeared while the build ran" in err and "Traceback" not in err
    assert (tmp_path / "out").is_dir() and not any((tmp_path / "out").iterdir())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]

    proc = start_build(tmp_path / "second", tmp_path)
    proc.kill()  # SIGKILL: no clean-up runs
    proc.communicate(timeout=300)
    stale = [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]
    assert len(stale) == 1
    (tmp_path / ".tmp-not-ours").mkdir()  # no owner file: not a staging folder of ours, left alone
    assert cli("data", "build", TINY, "--output-dir", "second", cwd=tmp_path).returncode == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [".tmp-not-ours", "out", "second"]


def test_a_torn_partial_record_is_dropped_and_its_problem_sampled_again(tmp_path, tiny_model_dir):
    args = ("eval", "--model", str(tiny_model_dir), "--data", str(ROWS), "--ops", "2-3", "--n", "2", "--k", "1,2",
            "--max-new-tokens", "4", "--chance-samples", "20", "--no-plots")
    (tmp_path / "clean").mkdir()
    (tmp_path / "victim.txt").write_text("not yours")
    (tmp_path / "clean" / "results.md").symlink_to("../victim.txt")  # a link planted where an output goes
    clean = cli(*args, "--output-dir", "clean", cwd=tmp_path)
    assert clean.returncode == 0, clean.stderr[-2000:]
    assert (tmp_path / "victim.txt").read_text() == "not yours" and not (tmp_path / "clean" / "results.md").is_symlink()
    records = json.loads((tmp_path / "clean" / "results.json").read_text())["problems"]
    from interplay_hf.evaluation.config import EvalConfig
    from interplay_hf.evaluation.runner import fingerprint

    cfg = EvalConfig(model=str(tiny_model_dir), data=str(ROWS), ops=[2, 3], n=2, k=[1, 2], max_new_tokens=4,
                     chance_samples=20, plots=False, output_dir=str(tmp_path / "torn"))
    partial = tmp_path / "torn" / ".partial"
    partial.mkdir(parents=True)
    (partial / "config.json").write_text(json.dumps({"fingerprint": fingerprint(cfg), "config": cfg.to_dict()}))
    done = {k: v for k, v in records[0].items() if k != "chance_p"}
    torn = json.dumps({k: v for k, v in records[1].items() if k != "chance_p"})[:40]  # a kill mid-append
    (partial / "records-rank0.jsonl").write_text(json.dumps(done) + "\n" + torn)
    result = cli(*args, "--output-dir", "torn", cwd=tmp_path)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert f"{len(records)} problems (1 already done)" in result.stderr
    resumed = json.loads((tmp_path / "torn" / "results.json").read_text())["problems"]
    assert resumed == records


def test_pipeline_sigterm_exits_143(tmp_path):
    (tmp_path / "p.yaml").write_text(yaml.safe_dump({"name": "t", "stages": {
        "wait": {"type": "shell", "command": "echo started; sleep 300"}}}))
    proc = subprocess.Popen([sys.executable, "-m", "interplay_hf.cli", "pipeline", "p.yaml", "--runs-dir", "runs"],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=ENV, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        if "started" in line:
            break
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 143 and "interrupted" in out and "Traceback" not in out


# --- side effects -------------------------------------------------------------------------------------------


def test_a_card_template_renders_in_a_sandbox(built, tmp_path):
    import shutil

    (tmp_path / "evil.jinja").write_text("{{ ''.__class__.__mro__[1].__subclasses__() }}")
    assert_one_line_error(cli("card", str(built), "--template", "evil.jinja", cwd=tmp_path), 2,
                          "card template", "may only read the card's fields")
    (tmp_path / "ok.jinja").write_text("# {{ title }}\n")
    result = cli("card", str(built), "--template", "ok.jinja", "--output", "card.md", cwd=tmp_path)
    assert result.returncode == 0 and "tiny" in (tmp_path / "card.md").read_text()
    shutil.copytree(built, tmp_path / "d")  # a card may go to README.md inside what it describes, nowhere else there
    assert cli("card", "d", "--output", "d/README.md", cwd=tmp_path).returncode == 0
    assert_one_line_error(cli("card", "d", "--output", "d/dataset_dict.json", cwd=tmp_path), 2, "is inside the input")


@pytest.mark.slow
def test_sft_resume_with_other_settings_refuses_and_overwrite_starts_fresh(built, tmp_path, tiny_tokenizer):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(built, data)
    tiny_tokenizer.save_pretrained(tmp_path / "tok")
    recipe = {"model_preset": "qwen2-300k", "tokenizer_name_or_path": "tok", "dataset_path": "data",
              "dataset_train_split": "train", "output_dir": "out", "max_length": 64, "per_device_train_batch_size": 2,
              "save_strategy": "steps", "save_steps": 1, "heldout_split": "none", "use_cpu": True, "bf16": False,
              "report_to": "none", "disable_tqdm": True, "max_steps": 2}
    (tmp_path / "sft.yaml").write_text(yaml.safe_dump(recipe))
    before = snapshot(data)
    stage = [sys.executable, "-m", "interplay_hf.train.sft", "--config", "sft.yaml"]

    def train(*extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([*stage, *extra], cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=600)

    assert train().returncode == 0
    assert snapshot(data) == before, "no cache-*.arrow or anything else written into the input dataset"
    assert_one_line_error(train("--max_steps", "3"), 2, "output_dir out: checkpoint-2 was trained with other "
                          "settings (max_steps 2 -> 3)", "--overwrite")
    result = train("--max_steps", "3", "--overwrite_output_dir", "true")
    assert result.returncode == 0, result.stderr[-2000:]
    state = json.loads((tmp_path / "out" / "trainer_state.json").read_text())
    assert state["global_step"] == 3 and state["max_steps"] == 3
    assert "overwrite_output_dir" not in (tmp_path / "out" / "recipe.yaml").read_text()
    assert snapshot(data) == before
