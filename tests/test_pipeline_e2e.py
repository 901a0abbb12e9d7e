"""One tiny pipeline through every stage type, as users run it: data → tokenizer → sft → grpo → eval → report.

A ~0.3M Qwen2 and a handful of steps: this checks the wiring between the real commands (paths, flags,
accelerate launches, resumability), not what the model learns.
"""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import pytest

from interplay_hf.pipeline.decide import DONE_FILE
from interplay_hf.pipeline.run import run_pipeline

REPO = Path(__file__).resolve().parent.parent

DATA_RECIPE = """
name: e2e
seed: 0
num_proc: 1
generator: {ip_max: 5}
eval: {ops: 2-3, contexts: zoo, size: 2, columns: full}
splits:
  rl: {size: 24, ops: 2-3, contexts: zoo, columns: rl}
  train: {size: 120, ops: 2-3, contexts: zoo, columns: full}
"""

PIPELINE = """
name: e2e
root: {root}
defaults:
  accelerate_config: accelerate_configs/cpu.yaml
stages:
  data:
    type: data
    recipe: {data_recipe}
  tokenizer:
    type: tokenizer
    args: {{dataset: "${{data}}", vocab_size: 400}}
  pretrain:
    type: sft
    recipe: {recipes}/pretrain.yaml
    args:
      dataset_path: "${{data}}"
      tokenizer_name_or_path: "${{tokenizer}}"
      model_preset: qwen2-300k
      max_length: 256
      per_device_train_batch_size: 4
      max_train_tokens: 3072            # 3 steps
      save_steps: 100
      heldout_size: 4
      heldout_sample_prompts: 0
      heldout_batch_size: 4
  grpo:
    type: grpo
    recipe: {recipes}/grpo.yaml
    args:
      model_name_or_path: "${{pretrain}}"
      dataset_path: "${{data}}"
      dataset_train_split: rl
      per_device_train_batch_size: 8    # 2 prompts x 4 completions
      max_train_samples: 4              # 2 steps
      max_completion_length: 24
      save_steps: 100
      heldout_size: 4
      heldout_sample_prompts: 0
  eval:
    type: eval
    args: {{model: "${{grpo}}", data: "${{data}}", split: "eval_*", n: 2, k: [1, 2], max_new_tokens: 24, plots: false}}
  report:
    type: report
    args: {{evals: ["${{eval}}"], labels: [rl]}}
"""


@pytest.mark.slow
def test_a_tiny_pipeline_runs_every_stage_type_and_a_rerun_skips_them_all(tmp_path):
    data_recipe = tmp_path / "data.yaml"
    data_recipe.write_text(textwrap.dedent(DATA_RECIPE))
    recipes = tmp_path / "recipes"  # a snapshot: an edit of the repo's recipes mid-test must not re-run stages
    shutil.copytree(REPO / "recipes" / "quickstart", recipes)
    path = tmp_path / "pipeline.yaml"
    path.write_text(PIPELINE.format(root=REPO, data_recipe=data_recipe, recipes=recipes))
    runs = tmp_path / "runs"
    lines: list[str] = []

    code = run_pipeline(path, runs_dir=runs, echo=False, say=lines.append)
    out = "\n".join(lines)
    run_dir = runs / "e2e"
    logs = {d.name: (d / "stage.log").read_text()[-3000:] for d in run_dir.iterdir() if (d / "stage.log").exists()}
    assert code == 0, out + "\n" + "\n".join(f"--- {k}\n{v}" for k, v in logs.items())

    stages = ["data", "tokenizer", "pretrain", "grpo", "eval", "report"]
    assert all((run_dir / s / DONE_FILE).exists() for s in stages)
    assert (run_dir / "data/dataset/dataset_dict.json").exists()
    assert (run_dir / "tokenizer/tokenizer.json").exists()
    assert (run_dir / "pretrain/model.safetensors").exists() and (run_dir / "grpo/model.safetensors").exists()
    results = json.loads((run_dir / "eval/results.json").read_text())
    assert results["n"] == 2 and results["summary"]["overall"]["num_problems"] == 4
    assert (run_dir / "report/report.md").exists()
    assert "Report: " in out and "proc@1" in out  # the summary ends with the headline table
    assert "1. **rl** writes a fully correct solution" in out  # after the plain-language summary
    assert out.rstrip().endswith((run_dir / "report" / "inspect.html").resolve().as_uri())  # the last line: the page

    lines.clear()
    assert run_pipeline(path, runs_dir=runs, echo=False, say=lines.append, check_fields=False) == 0
    assert sum("done, skipped" in line for line in lines) == len(stages)
