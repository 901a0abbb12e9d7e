"""Property-based tests of recipe loading: whatever the YAML, a recipe loads or fails with ConfigError.

Any other exception (KeyError, TypeError, RecursionError, ...) would reach the user as a traceback; a
hang would be worse. Three sources of documents: arbitrary text, arbitrary YAML values, and mutations of
the real recipe schema (real keys, wrong types and ranges), which is where validation code lives.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from interplay_hf.data.recipe import load_data_recipe, recipe_from_dict
from interplay_hf.errors import ConfigError
from interplay_hf.pipeline.plan import build_plan
from interplay_hf.train.config import read_recipe
from interplay_hf.yaml_io import parse_yaml_text

_COMMON = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.register_profile("recipe-fuzz-ci", max_examples=300, **_COMMON)
settings.register_profile("recipe-fuzz-dev", max_examples=3_000, **_COMMON)
PROFILE = settings.get_profile("recipe-fuzz-" + ("dev" if os.environ.get("HYPOTHESIS_PROFILE") == "dev" else "ci"))

DATA_KEYS = ["name", "seed", "output_dir", "num_proc", "generator", "eval", "splits", "size", "ops", "contexts",
             "mixture", "weight", "columns", "modes", "prompt_format", "dedup_against", "number_range", "mod", "d",
             "hub_repo_id", "description", "tokens", "examples"]
PIPELINE_KEYS = ["name", "stages", "defaults", "type", "recipe", "args", "env", "matrix", "inputs", "command",
                 "accelerate_config", "num_processes", "budget", "manual", "description"]
STAGE_TYPES = ["data", "tokenizer", "sft", "grpo", "eval", "report", "shell", "push", "select_edge"]

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(allow_nan=True),
                    st.text(max_size=12), st.sampled_from(["2-8", "zoo", "teacher", "1e9", "-1", "${data}", "full"]))


def documents(keys: list[str]):
    """Nested YAML values whose mapping keys are mostly the schema's own."""
    key = st.one_of(st.sampled_from(keys), st.text(max_size=6), st.integers(-3, 3))
    return st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                         st.dictionaries(key, inner, max_size=5)), max_leaves=30)


def must_load_or_config_error(load, *args) -> None:
    try:
        load(*args)
    except ConfigError as err:
        assert str(err).strip(), "an error message says what is wrong"


@settings(PROFILE)
@given(st.text(max_size=300))
def test_any_text_parses_or_fails_with_config_error(text):
    must_load_or_config_error(parse_yaml_text, text, "fuzz.yaml")


@settings(PROFILE)
@given(st.dictionaries(st.sampled_from(DATA_KEYS), documents(DATA_KEYS), max_size=6))
def test_any_data_recipe_document_loads_or_fails_with_config_error(doc):
    must_load_or_config_error(recipe_from_dict, doc)


@settings(PROFILE)
@given(st.fixed_dictionaries({"name": st.text(min_size=1, max_size=8), "seed": scalars,
                              "splits": st.dictionaries(st.sampled_from(["train", "rl", "eval_x", ""]),
                                                        documents(DATA_KEYS), min_size=1, max_size=3)},
                             optional={"eval": documents(DATA_KEYS), "generator": documents(DATA_KEYS)}))
def test_schema_shaped_data_recipes_load_or_fail_with_config_error(doc):
    must_load_or_config_error(recipe_from_dict, doc)


@settings(PROFILE)
@given(st.dictionaries(st.sampled_from(STAGE_TYPES + ["s", "t"]),
                       st.fixed_dictionaries({"type": st.sampled_from(STAGE_TYPES)},
                                             optional={k: documents(PIPELINE_KEYS) for k in ("args", "env", "matrix",
                                                                                             "inputs", "recipe")}),
                       max_size=3),
       documents(PIPELINE_KEYS))
def test_pipeline_recipes_plan_or_fail_with_config_error(tmp_path_factory, stages, extra):
    root = tmp_path_factory.mktemp("pipe")
    doc = {"name": "fuzz", "stages": stages}
    if isinstance(extra, dict):
        doc = {**extra, **doc}
    path = root / "pipeline.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    must_load_or_config_error(build_plan, path, root / "runs")


@settings(PROFILE)
@given(st.binary(max_size=200))
def test_any_bytes_as_a_recipe_file_fail_cleanly(tmp_path_factory, raw):
    path: Path = tmp_path_factory.mktemp("raw") / "r.yaml"
    path.write_bytes(raw)
    must_load_or_config_error(load_data_recipe, path)
    must_load_or_config_error(read_recipe, path)
