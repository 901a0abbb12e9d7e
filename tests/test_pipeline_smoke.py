"""``interplay-hf pipeline R --smoke``: the paper pipelines' own stage graphs, end to end on a CPU at toy scale."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from interplay_hf.pipeline.decide import DONE_FILE, decide, select_stages
from interplay_hf.pipeline.plan import build_plan
from interplay_hf.pipeline.run import run_pipeline
from interplay_hf.pipeline.smoke import CPU_CONFIG, TEST_ROWS, TINY_PRESET, TRAIN_ROWS

REPO = Path(__file__).resolve().parent.parent
PAPER = {p.parent.name: p for p in sorted((REPO / "recipes" / "paper").glob("*/pipeline.yaml"))}


def _flag(command: list[str], flag: str) -> str | None:
    values = [command[i + 1] for i, word in enumerate(command) if word == flag]
    return values[-1] if values else None


@pytest.mark.parametrize("name", sorted(PAPER))
def test_a_smoke_plan_keeps_the_stage_graph_and_runs_everything_small_on_the_cpu(name, tmp_path):
    full = build_plan(PAPER[name], tmp_path)
    smoke = build_plan(PAPER[name], tmp_path, smoke=True)
    assert smoke.run_dir.name == f"{full.name}-smoke"
    assert [(s.name, s.type, s.inputs, s.recipe) for s in smoke.stages] == [
        (s.name, s.type, s.inputs, s.recipe) for s in full.stages]
    for stage in [*full.stages, *smoke.stages]:  # the released checkpoints' tokenizer, trained nowhere
        if stage.type == "tokenizer":
            assert _flag(stage.command, "--numbers") == "released" and "--dataset" not in stage.command
    for stage in smoke.stages:
        if stage.type in ("sft", "grpo", "eval"):
            assert _flag(stage.command, "--config_file") == CPU_CONFIG, stage.name
        if stage.type in ("sft", "grpo"):
            assert _flag(stage.command, "--use_cpu") == "true" and _flag(stage.command, "--bf16") == "false"
            if "--model_preset" in stage.command or "model_preset" in yaml.safe_load((REPO / stage.recipe).read_text()):
                assert _flag(stage.command, "--model_preset") == TINY_PRESET
        if stage.type == "data":
            sizes = stage.recipe_overrides
            assert sizes["num_proc"] == 1 and sizes.get("eval", {"size": TEST_ROWS}) in (None, {"size": TEST_ROWS})
            rows = {split["size"]["examples"] if isinstance(split["size"], dict) else split["size"]
                    for split in sizes["splits"].values() if split}
            assert rows == {TRAIN_ROWS}
            for split in sizes["splits"].values():  # the tokenizer stage still measures the token shares
                if isinstance(split and split["size"], dict):
                    assert split["size"]["tokenizer"] == str(smoke.stage("tokenizer").output_dir)
                    assert split["size"]["tokens"] is None  # a kept null: deletes the recipe's key at run time
        if stage.type == "eval":
            assert _flag(stage.command, "--n") == "2"


def _run_smoke(name: str, runs: Path) -> Path:
    lines: list[str] = []
    code = run_pipeline(PAPER[name], runs, smoke=True, echo=False, say=lines.append)
    assert code == 0, "\n".join(lines)
    plan = build_plan(PAPER[name], runs, smoke=True)
    for stage in plan.stages:
        assert stage.manual or (stage.output_dir / DONE_FILE).is_file(), stage.name
    for stage in plan.stages:
        if stage.type == "eval":
            results = json.loads((stage.output_dir / "results.json").read_text(encoding="utf-8"))
            assert results  # every test set was sampled and scored
    assert (plan.run_dir / "report" / "report.md").is_file()
    return plan.run_dir


def test_the_extrapolation_pipeline_runs_end_to_end_as_a_smoke_run(tmp_path):
    run_dir = _run_smoke("extrapolation", tmp_path)
    assert (run_dir / "edge" / "edge.json").is_file()
    # Resuming is free: planned again, every stage is finished (the manual push stays off).
    plan = build_plan(PAPER["extrapolation"], tmp_path, smoke=True)
    assert {d.action for d in decide(plan, select_stages(plan))} == {"skip", "off"}


@pytest.mark.slow
@pytest.mark.paper_smoke  # minutes each: `make test-smoke`, not in CI
@pytest.mark.parametrize("name", ["context", "midtrain_vs_rl", "process_reward"])
def test_the_other_paper_pipelines_run_end_to_end_as_smoke_runs(name, tmp_path):
    _run_smoke(name, tmp_path)
