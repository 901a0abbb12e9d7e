"""Pushing: the upload plan (what goes where, on which revision), dry runs, and clear errors without a Hub."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from conftest import make_results

from interplay_hf.cli import main
from interplay_hf.errors import ConfigError
from interplay_hf.hub import plan_push, plan_stage_upload, push, push_dataset, push_stage, sanitize_revision
from interplay_hf.hub.names import check_revision, normalize_subfolder
from interplay_hf.hub.push import execute_plan
from interplay_hf.hub.upload_plan import discover_stages

SENTINEL = "hf_SENTINELsentinelSENTINELsentinel0123"
MODEL_FILES = {"config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"}


def make_stage(root: Path, name: str, model_dir: Path, recipe: dict, *, training_leftovers: bool = True) -> Path:
    """A stage output_dir as the train scripts leave it, including files that must not be pushed."""
    stage = root / name
    shutil.copytree(model_dir, stage)
    (stage / "recipe.yaml").write_text(yaml.safe_dump(recipe, sort_keys=False))
    (stage / "train_results.json").write_text(json.dumps({"train_loss": 0.5}))
    (stage / "trainer_state.json").write_text(json.dumps({"global_step": 4}))
    if training_leftovers:
        (stage / "training_args.bin").write_bytes(b"pickle")
        (stage / "pytorch_model.bin").write_bytes(b"pickle")
        (stage / "README.md").write_text("TRL's auto-generated card")
        ckpt = stage / "checkpoint-4"
        ckpt.mkdir()
        for f in ("model.safetensors", "config.json"):
            shutil.copy(stage / f, ckpt / f)
        for f in ("optimizer.pt", "scheduler.pt", "rng_state.pth", "training_args.bin"):
            (ckpt / f).write_bytes(b"state")
        (ckpt / "trainer_state.json").write_text("{}")
    return stage


@pytest.fixture
def stage(tmp_path, tiny_model_dir) -> Path:
    return make_stage(tmp_path, "pretrain", tiny_model_dir, {"model_preset": "qwen2-1m", "max_train_tokens": 10000, "hub_token": SENTINEL})


@pytest.fixture
def run_dir(tmp_path, tiny_model_dir) -> Path:
    """runs/<name>/<stage>/ as the pipeline lays it out: data, three model stages, an eval dir."""
    run = tmp_path / "runs" / "mini"
    run.mkdir(parents=True)
    # written out of order on purpose: the order must come from model_name_or_path
    make_stage(run, "rl-edge", tiny_model_dir, {"model_name_or_path": "runs/mini/midtrain", "reward_funcs": ["strict"]}, training_leftovers=False)
    make_stage(run, "pretrain", tiny_model_dir, {"model_preset": "qwen2-1m"}, training_leftovers=False)
    make_stage(run, "midtrain", tiny_model_dir, {"model_name_or_path": "runs/mini/pretrain"}, training_leftovers=False)
    (run / "data-pretrain").mkdir()
    (run / "data-pretrain" / "dataset_dict.json").write_text('{"splits": ["train"]}')
    (run / "eval-rl-edge").mkdir()
    (run / "eval-rl-edge" / "results.json").write_text(json.dumps(make_results("runs/mini/rl-edge")))
    return run


def test_sanitize_revision_makes_valid_branch_names():
    assert sanitize_revision("rl-edge") == "rl-edge"
    assert sanitize_revision("RL edge (α=0.2)") == "RL-edge-0.2"
    assert sanitize_revision("a..b@{1}~^:?*[x]\\") == "a.b-1-x"
    assert sanitize_revision(".hidden/x.lock") == "hidden/x"
    assert sanitize_revision("mid//train/") == "mid/train"
    with pytest.raises(ConfigError):
        sanitize_revision("..//")
    with pytest.raises(ConfigError, match="'rl-edge'"):
        check_revision("rl edge")
    assert normalize_subfolder("/ctx//rl/./x/") == "ctx/rl/x"
    with pytest.raises(ConfigError, match=r"\.\."):
        normalize_subfolder("ctx/../../etc")


def test_stage_plan_has_model_files_card_and_recipe_only(stage):
    plan = plan_push(stage, "me/mini")
    assert set(plan.paths()) == MODEL_FILES | {"README.md", "recipe.yaml", "train_results.json"}
    assert plan.revisions() == [None]
    readme = next(i for i in plan.items if i.path_in_repo == "README.md")
    assert readme.local_path is None and b"TRL's auto-generated card" not in readme.content
    assert b"process-verified" in readme.content or b"No evaluation results" in readme.content


def test_optimizer_state_and_checkpoints_only_when_asked_and_never_pickled_weights(stage):
    paths = set(plan_push(stage, "me/mini", include_optimizer=True).paths())
    assert {"checkpoint-4/optimizer.pt", "checkpoint-4/scheduler.pt", "checkpoint-4/rng_state.pth", "checkpoint-4/model.safetensors"} <= paths
    assert "trainer_state.json" in paths
    assert not any(p.endswith(".bin") for p in paths)


def test_revision_and_subfolder_place_the_files(stage):
    plan = plan_push(stage, "me/mini", revision="pretrain", subfolder="my_setting/base")
    assert plan.revisions() == ["pretrain"]
    assert set(plan.paths()) == {f"my_setting/base/{p}" for p in MODEL_FILES | {"README.md", "recipe.yaml", "train_results.json"}}
    card = next(i for i in plan.items if i.path_in_repo.endswith("README.md")).content.decode()
    assert 'subfolder="my_setting/base"' in card and 'revision="pretrain"' in card


def test_no_token_in_the_plan(stage, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", SENTINEL)
    plan = plan_push(stage, "me/mini", include_optimizer=True)
    for item in plan.items:
        data = item.content if item.content is not None else item.local_path.read_bytes()
        assert SENTINEL.encode() not in data, item.path_in_repo
    assert SENTINEL not in plan.format()
    recipe = next(i for i in plan.items if i.path_in_repo == "recipe.yaml").content.decode()
    assert "hub_token: <redacted>" in recipe and "max_train_tokens: 10000" in recipe


def test_plan_stage_upload_is_pure_over_its_inputs(stage):
    items = plan_stage_upload(stage, revision="x", card="CARD", recipe_text="a: 1")
    by_path = {i.path_in_repo: i for i in items}
    assert by_path["README.md"].content == b"CARD" and by_path["recipe.yaml"].content == b"a: 1\n"
    assert all(i.revision == "x" for i in items)


def test_run_pushes_one_branch_per_stage_in_pipeline_order_and_the_last_on_main(run_dir):
    assert [p.name for p in discover_stages(run_dir)] == ["pretrain", "midtrain", "rl-edge"]
    plan = plan_push(run_dir, "me/mini")
    assert plan.revisions() == ["pretrain", "midtrain", "rl-edge", None]
    assert [(s.name, s.kind) for s in plan.stages] == [("pretrain", "pretrain"), ("midtrain", "midtrain"), ("rl-edge", "rl")]
    assert set(plan.paths("rl-edge")) == set(plan.paths(None))
    rl_card = next(i for i in plan.items if i.revision == "rl-edge" and i.path_in_repo == "README.md").content.decode()
    assert "| `midtrain` | midtrain | revision `midtrain` |" in rl_card  # stage table
    assert "**process-verified**" in rl_card  # eval dir matched by results.json `model`
    pre_card = next(i for i in plan.items if i.revision == "pretrain" and i.path_in_repo == "README.md").content.decode()
    assert "No evaluation results" in pre_card


def test_run_with_subfolder_mirrors_the_released_layout(run_dir):
    plan = plan_push(run_dir, "me/mini", subfolder="my_setting")
    assert plan.revisions() == [None]
    folders = {p.rsplit("/", 1)[0] for p in plan.paths()}
    assert folders == {"my_setting/base", "my_setting/midtrain/midtrain", "my_setting/rl/rl-edge"}


def test_run_rejects_a_single_revision_without_subfolder(run_dir):
    with pytest.raises(ConfigError, match="one branch per stage"):
        plan_push(run_dir, "me/mini", revision="main2")


def test_pushing_without_a_checkpoint_is_a_config_error(tmp_path, stage):
    empty = tmp_path / "runs" / "empty"
    empty.mkdir(parents=True)
    with pytest.raises(ConfigError, match="no checkpoint"):
        plan_push(empty, "me/mini")
    (stage / "model.safetensors").unlink()
    with pytest.raises(ConfigError, match="checkpoint-4"):  # unfinished: points at the checkpoint to push
        plan_push(stage, "me/mini")
    with pytest.raises(ConfigError, match="no checkpoint"):
        push_stage(stage, "me/mini", dry_run=True)
    with pytest.raises(ConfigError, match="does not exist"):
        plan_push(tmp_path / "missing", "me/mini")
    with pytest.raises(ConfigError, match="--repo-id"):
        plan_push(stage / "checkpoint-4", "not a repo id")


def test_push_dry_run_prints_the_plan_and_sends_nothing(stage, capsys):
    assert main(["push", str(stage), "--repo-id", "me/mini", "--revision", "pretrain", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "dry run" in out and "revision pretrain" in out and "model.safetensors" in out
    assert "optimizer.pt" not in out and ".bin" not in out
    assert main(["push", str(stage), "--repo-id", "me/mini", "--revision", "bad name", "--dry-run"]) == 2


def test_real_push_offline_is_a_clear_error(stage):
    # conftest sets HF_HUB_OFFLINE=1: the real HfApi call path runs and stops at the first request
    from huggingface_hub import constants

    assert constants.HF_HUB_OFFLINE
    with pytest.raises(ConfigError, match="HF_HUB_OFFLINE"):
        push_stage(stage, "me/mini", revision="pretrain")


def test_real_push_to_an_unreachable_endpoint_is_a_clear_error_without_the_token(stage, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")  # discard port: refused at once
    monkeypatch.setenv("HF_TOKEN", SENTINEL)
    # the network, not the user's input: the I/O policy (exit 1), not a ConfigError (exit 2)
    with pytest.raises(ConnectionError, match="cannot reach the Hub at http://127.0.0.1:9") as err:
        push(stage, "me/mini")
    assert SENTINEL not in str(err.value)
    plan = plan_push(stage, "me/mini")
    with pytest.raises(ConnectionError, match="cannot reach"):
        execute_plan(plan)


def test_dataset_push_dry_run_renders_its_card(tmp_path, capsys):
    import datasets

    path = tmp_path / "data"
    datasets.DatasetDict({"train": datasets.Dataset.from_dict({"op": [2, 3], "text": ["a", "b"]})}).save_to_disk(str(path))
    card = push_dataset(path, "me/mini-data", dry_run=True)
    assert 'load_dataset("me/mini-data")' in card
    assert "No `build_report.json`" in card and "So no problem" not in card  # no dedup claim without a report
    assert main(["push", str(path), "--repo-id", "me/mini-data", "--dry-run"]) == 0
    assert "would push dataset" in capsys.readouterr().out
    with pytest.raises(ConfigError, match="HF_HUB_OFFLINE"):
        push_dataset(path, "me/mini-data")
    with pytest.raises(ConfigError, match="save_to_disk"):
        push_dataset(tmp_path, "me/mini-data")
