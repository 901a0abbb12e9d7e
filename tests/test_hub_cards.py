"""Model and dataset cards: our templates, Hub-parsable metadata, numbers that match results.json, no secrets."""

from __future__ import annotations

import json
import shutil
from importlib import resources
from pathlib import Path

import pytest
import yaml
from conftest import make_results

from interplay_hf.cli import main
from interplay_hf.data.build import build_datasets
from interplay_hf.errors import ConfigError
from interplay_hf.hub import render_dataset_card, render_model_card
from interplay_hf.hub.card_inputs import mixture_rows
from interplay_hf.redact import redact

SENTINEL = "hf_SENTINELsentinelSENTINELsentinel0123"
REPO_ROOT = Path(__file__).parent.parent


RECIPE = {
    "model_preset": "qwen2-1m",
    "tokenizer_name_or_path": "runs/ctx/tokenizer",
    "dataset_path": "runs/ctx/data-rl",
    "max_train_samples": 512,
    "learning_rate": 1e-6,
    "num_generations": 4,
    "reward_funcs": ["mixed", "format"],
    "reward_kwargs": {"mixed": {"alpha": 0.2}},
    "reward_weights": [1.0, 0.1],
    "hub_token": SENTINEL,
    "report_to": ["none"],
}


@pytest.fixture
def stage_dir(tmp_path, tiny_model_dir) -> Path:
    """A finished GRPO stage: model + tokenizer, recipe.yaml (with a token in it!), train results, eval dir."""
    stage = tmp_path / "runs" / "ctx" / "rl"
    shutil.copytree(tiny_model_dir, stage)
    (stage / "recipe.yaml").write_text("# max_steps = 8 (from max_train_samples)\n" + yaml.safe_dump(RECIPE, sort_keys=False))
    (stage / "train_results.json").write_text(json.dumps({"train_loss": 0.123, "train_runtime": 4.5, "epoch": 2.0, "total_flos": 12345.0}))
    (stage / "trainer_state.json").write_text(json.dumps({"global_step": 8, "log_history": []}))
    eval_dir = tmp_path / "runs" / "ctx" / "eval-rl"
    (eval_dir / "plots").mkdir(parents=True)
    (eval_dir / "results.json").write_text(json.dumps(make_results(str(stage))))
    (eval_dir / "plots" / "pass_at_k_vs_op.png").write_bytes(b"\x89PNG fake")
    build_datasets({"name": "ctx-rl-data", "splits": {"train": {"size": 6, "ops": "11-14", "contexts": {"zoo": 0.5, "teacher": 0.5}}}},
                   tmp_path / "runs" / "ctx" / "data-rl", verbose=False)
    return stage


def test_card_metadata_parses_back_with_model_index(stage_dir, tmp_path):
    from huggingface_hub import ModelCard

    card = render_model_card(stage_dir, results=stage_dir.parent / "eval-rl", repo_id="me/ctx-rl")
    data = ModelCard(str(card)).data
    assert data.library_name == "transformers"
    assert data.pipeline_tag == "text-generation"
    assert data.license == "apache-2.0"
    assert "interplay-hf" in data.tags and "grpo" in data.tags
    assert data.base_model is None  # trained from scratch: no Hub base model
    assert data.model_name == "ctx-rl"
    # 4 blocks (3 regimes + overall) x 2 metrics x 2 k
    assert len(data.eval_results) == 16
    saved = tmp_path / "README.md"
    card.save(saved)
    loaded = ModelCard.load(saved)
    assert "model-index" in loaded.data.to_dict()
    by_key = {(r.dataset_config, r.metric_type): r.metric_value for r in loaded.data.eval_results}
    results = make_results()
    assert by_key[("OOD-edge", "process_pass@1")] == round(results["summary"]["per_regime"]["OOD-edge"]["process_pass@k"]["1"], 4)
    assert by_key[("overall", "outcome_pass@4")] == round(results["summary"]["overall"]["outcome_pass@k"]["4"], 4)


def test_results_table_matches_results_json(stage_dir):
    text = str(render_model_card(stage_dir, results=stage_dir.parent / "eval-rl"))
    results = make_results()
    for regime, block in results["summary"]["per_regime"].items():
        lo, hi = results["regimes"][regime]
        process = " | ".join(f"**{block['process_pass@k'][k]:.3f}**" for k in ("1", "4"))
        assert f"| {regime} | {lo}–{hi} | {block['num_problems']} | **process-verified** | {process} |" in text
        outcome = " | ".join(f"{block['outcome_pass@k'][k]:.3f}" for k in ("1", "4"))
        assert f"| | | | outcome | {outcome} |" in text
    assert "| | | | chance | 0.012 | 0.046 |" in text
    assert "| zoo | 15 | 0.412 / 0.600 | 0.500 / 0.700 |" in text
    assert "![pass at k vs op](plots/pass_at_k_vs_op.png)" in text


def test_card_describes_model_data_budget_rewards_and_cites_the_paper(stage_dir):
    text = str(render_model_card(stage_dir, results=make_results(str(stage_dir)), repo_id="me/ctx-rl", revision="rl", subfolder=None))
    assert "trained from scratch, preset `qwen2-1m`" in text
    assert "| Stage | `rl` (rl) |" in text
    assert "| train #1 | 11–14 | 1 | teacher 0.5, zoo 0.5 |" in text  # from the dataset's build_report.json
    assert "| sample budget | 512 |" in text and "| optimizer steps done | 8 |" in text
    assert "| `mixed` | 1 | α = 0.2 |" in text and "| `format` | 0.1 |" in text
    assert "| final train loss | 0.123 |" in text
    assert "# max_steps = 8 (from max_train_samples)" in text  # recipe comments kept
    assert 'revision="rl"' in text
    assert "eprint={2512.07783}" in text and "## Limitations" in text and "## Intended use" in text


def test_no_token_anywhere_in_the_card(stage_dir, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", SENTINEL)
    text = str(render_model_card(stage_dir, results=stage_dir.parent / "eval-rl"))
    assert SENTINEL not in text
    assert "hub_token: <redacted>" in text


def test_redact_hides_secret_keys_but_keeps_token_counts():
    clean = redact({"hub_token": "abc", "max_new_tokens": 5, "pad_token": "[PAD]", "nested": {"wandb_api_key": "k", "note": SENTINEL}})
    assert clean == {"hub_token": "<redacted>", "max_new_tokens": 5, "pad_token": "[PAD]", "nested": {"wandb_api_key": "<redacted>", "note": "<redacted>"}}


def test_card_without_results_says_how_to_add_them(stage_dir):
    text = str(render_model_card(stage_dir))
    assert "No evaluation results were attached" in text
    from huggingface_hub import ModelCard

    assert ModelCard(text).data.eval_results is None


def test_template_with_a_missing_field_is_a_config_error_naming_it(stage_dir, tmp_path):
    template = tmp_path / "mine.md.jinja"
    template.write_text("---\n{{ card_data }}\n---\n# {{ title }} by {{ author_name }}\n")
    with pytest.raises(ConfigError, match="author_name"):
        render_model_card(stage_dir, template=template)
    assert "by Ada" in str(render_model_card(stage_dir, template=template, extra={"author_name": "Ada"}))
    template.write_text("{{ stage.nonexistent_field }}")
    with pytest.raises(ConfigError, match="nonexistent_field"):
        render_model_card(stage_dir, template=template)
    template.write_text("{% if %}")
    with pytest.raises(ConfigError, match="line 1"):
        render_model_card(stage_dir, template=template)


def test_bad_inputs_are_config_errors(tmp_path, stage_dir):
    with pytest.raises(ConfigError, match="does not exist"):
        render_model_card(tmp_path / "nope")
    with pytest.raises(ConfigError, match="--results"):
        render_model_card(stage_dir, results=tmp_path / "no-eval-here")
    (stage_dir / "recipe.yaml").write_text("- a list\n- not a mapping\n")
    with pytest.raises(ConfigError, match="mapping"):
        render_model_card(stage_dir)


def test_mixture_rows_read_the_build_report_shape():
    assert mixture_rows({"train": [{"ops": [2, 10], "weight": 0.2, "contexts": {"zoo": 1.0}, "modes": {}},
                                   {"ops": {"11": 0.5, "14": 0.5}, "weight": 0.8, "contexts": {"teacher": 1.0}, "modes": {}}]}) == [
        {"component": "train #1", "ops": "2–10", "weight": "0.2", "contexts": "zoo 1"},
        {"component": "train #2", "ops": "11: 0.5, 14: 0.5", "weight": "0.8", "contexts": "teacher 1"},
    ]


def test_cards_fail_on_a_report_of_another_shape(stage_dir, tmp_path):
    report = tmp_path / "runs" / "ctx" / "data-rl" / "build_report.json"
    report.write_text(json.dumps({"name": "old", "splits": {"train": {"num_rows": 4}}}))
    with pytest.raises(ConfigError, match="not a build report of this version"):
        render_model_card(stage_dir)


def test_templates_are_package_data_and_model_cards_readme_points_there():
    templates = resources.files("interplay_hf") / "templates"
    assert (templates / "model_card.md.jinja").is_file() and (templates / "dataset_card.md.jinja").is_file()
    readme = (REPO_ROOT / "model_cards" / "README.md").read_text()
    assert "interplay_hf/templates/model_card.md.jinja" in readme


@pytest.fixture
def dataset_dir(tmp_path) -> Path:
    """A real build: a 99/1 context mixture over ops 2-10, and an eval split the training split is deduplicated
    against."""
    recipe = {
        "name": "ctx-mix",
        "seed": 7,
        "eval": {"ops": 2, "contexts": ["zoo"], "size": 30},
        "splits": {"train": {"size": 60, "mixture": [{"weight": 1.0, "ops": "2-10", "contexts": {"zoo": 0.99, "teacher": 0.01}}]}},
    }
    build_datasets(recipe, tmp_path / "data", verbose=False)
    return tmp_path / "data"


def test_dataset_card_has_generator_mixture_sizes_dedup_and_schema(dataset_dir, monkeypatch):
    from huggingface_hub import DatasetCard

    monkeypatch.setenv("HF_TOKEN", SENTINEL)
    report = json.loads((dataset_dir / "build_report.json").read_text())
    card = render_dataset_card(dataset_dir, repo_id="me/ctx-mix")
    text = str(card)
    data = DatasetCard(text).data
    assert data.license == "apache-2.0" and data.size_categories == ["n<1K"] and data.pretty_name == "ctx-mix"
    train, held = report["splits"]["train"], report["splits"]["eval_op2_zoo"]
    contexts = ", ".join(f"{k} {v}" for k, v in train["contexts"].items())
    dropped = train["duplicates_dropped"]
    assert f"| train | {train['rows']} | 2–10 | {contexts} | {sum(dropped.values())}" in text
    assert f"| eval_op2_zoo | {held['rows']} | 2 | zoo {held['rows']} | 0 |" in text
    assert "| train #1 | 2–10 | 1 | teacher 0.01, zoo 0.99 |" in text
    assert "So no problem\nappears in two splits." in text and "No `build_report.json`" not in text
    assert "| `op` | int64 | number of operations" in text
    assert "| seed | 7 |" in text
    assert 'load_dataset("me/ctx-mix")' in text and "name: ctx-mix" in text  # the recipe, as built
    assert "| – |" not in text.split("## Splits and sizes")[1].split("## Schema")[0]  # every cell read from the report
    assert SENTINEL not in text


def test_cli_card_writes_a_model_or_dataset_card(stage_dir, dataset_dir, tmp_path, capsys):
    out = tmp_path / "card.md"
    assert main(["card", str(stage_dir), "--results", str(stage_dir.parent / "eval-rl"), "--output", str(out), "--repo-id", "me/x"]) == 0
    assert "process-verified" in out.read_text()
    assert main(["card", str(dataset_dir)]) == 0
    assert "## Schema" in capsys.readouterr().out
    assert main(["card", str(tmp_path / "missing")]) == 2
