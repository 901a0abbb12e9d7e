"""Data recipes and dataset building: validation, columns, determinism, shards, dedup, mixtures, sizes, Hub, release."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import pytest
from conftest import FIXTURES, read_jsonl

from interplay_hf.data import build as build_mod
from interplay_hf.data import generate_problem
from interplay_hf.data.build import build_datasets, load_built, problem_key, row_plan
from interplay_hf.data.generator import ROW_COLUMNS, content_id
from interplay_hf.data.gold import gold_graph_from_solution
from interplay_hf.data.recipe import COLUMN_PRESETS, load_data_recipe, recipe_from_dict
from interplay_hf.errors import ConfigError


def official_rows() -> list[dict]:
    return read_jsonl(FIXTURES / "official_rows.jsonl")

RECIPES = sorted((Path(__file__).resolve().parents[1] / "recipes" / "data").glob("*.yaml"))


def small_recipe(**overrides) -> dict:
    recipe = {
        "name": "small",
        "seed": 3,
        "eval": {"ops": "2-3", "contexts": ["zoo", "teacher"], "size": 4},
        "splits": {
            "rl": {"size": 30, "ops": "5-6", "contexts": {"zoo": 0.5, "teacher": 0.5}, "columns": "rl"},
            "train": {"size": 1200, "ops": "2-4", "contexts": "zoo", "columns": "pretrain"},
        },
    }
    recipe.update(overrides)
    return recipe


def dir_files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# ---- recipes ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", RECIPES, ids=[p.name for p in RECIPES])
def test_every_shipped_recipe_validates(path):
    recipe = load_data_recipe(path)
    assert recipe.splits and all(s.mixture for s in recipe.splits)


BAD = [
    ({"splits": {"t": {"size": 10, "ops": "1-5"}}}, r"splits\.t\.ops: op range '1-5' is outside the supported range 2\.\.20"),
    ({"splits": {"t": {"size": 10, "ops": 25}}}, "outside the supported range"),
    ({"splits": {"t": {"size": 10, "ops": "2-5", "contexts": {"zoo": 0.9, "teacher": 0.2}}}},
     r"splits\.t\.contexts proportions must sum to 1, got 1\.1"),
    ({"splits": {"t": {"size": 10, "ops": {"2-4": 0.5, "5": 0.4}}}}, r"splits\.t\.ops proportions must sum to 1"),
    ({"splits": {"t": {"size": 10, "mixture": [{"weight": 0.5, "ops": 2}, {"weight": 0.4, "ops": 3}]}}},
     "mixture weights must sum to 1"),
    ({"splits": {"t": {"size": 10, "ops": 2, "contexts": ["zoo", "school"]}}},
     r"splits\.t\.contexts: unknown context 'school'; allowed: movie, teacher, zoo"),
    ({"splits": {"t": {"size": -5, "ops": 2}}}, r"splits\.t\.size: must be a positive whole number"),
    ({"splits": {"t": {"size": {"tokens": -1}, "ops": 2}}}, r"splits\.t\.size\.tokens: must be a positive"),
    ({"splits": {"t": {"size": 10, "ops": 2, "modes": "reverse"}}},
     r"unknown mode 'reverse'; allowed: normalforward, forwardreverse"),
    ({"splits": {"t": {"size": 10, "ops": 2, "colums": "rl"}}}, r"splits\.t: unknown key 'colums'\. Did you mean 'columns'"),
    ({"splitz": {}}, r"recipe: unknown key 'splitz'\. Did you mean 'splits'"),
    ({"generator": {"depth": 3}}, r"generator: unknown key 'depth'"),
    ({"eval": {"ops": "2-4", "sizes": 3}}, r"eval: unknown key 'sizes'\. Did you mean 'size'"),
    ({"splits": {"t": {"size": 10, "ops": 2, "columns": "chat"}}}, r"splits\.t\.columns: unknown preset 'chat'"),
    ({"splits": {"t": {"size": 10, "ops": 2, "columns": ["text", "label"]}}}, r"unknown column\(s\) \['label'\]"),
    ({"splits": {"bad-name": {"size": 10, "ops": 2}}}, "split names must match"),
    ({"splits": {}}, "define at least one split"),
]


@pytest.mark.parametrize("recipe, match", BAD, ids=[m[:40] for _, m in BAD])
def test_bad_recipes_fail_before_any_generation(recipe, match, monkeypatch, tmp_path):
    def boom(*a, **k):
        raise AssertionError("generation started before validation")

    monkeypatch.setattr(build_mod, "generate_problem", boom)
    with pytest.raises(ConfigError, match=match):
        build_datasets({"name": "bad", **recipe}, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_malformed_yaml_and_missing_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("splits:\n  train: {size: 10, ops: [2, 3\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_data_recipe(bad)
    bad.write_text("- just\n- a list\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_data_recipe(bad)
    with pytest.raises(ConfigError, match="does not exist"):
        load_data_recipe(tmp_path / "nope.yaml")


def test_mixture_proportions_are_respected_per_row():
    recipe = recipe_from_dict({
        "name": "mix",
        "splits": {"train": {"size": 100, "mixture": [
            {"weight": 0.9, "ops": {"2-4": 0.25, "5-10": 0.75}, "contexts": "zoo"},
            {"weight": 0.1, "ops": [2], "contexts": "teacher"},
        ]}},
    })
    mixture = recipe.split("train").mixture
    n = 20_000
    plans = [row_plan(recipe.seed, "train", i, mixture) for i in range(n)]
    ctx = Counter(p[1] for p in plans)
    ops_zoo = Counter(p[0] for p in plans if p[1] == "zoo")
    tol = lambda p, m: 4 * math.sqrt(p * (1 - p) * m)  # noqa: E731  (4 standard deviations)
    assert abs(ctx["teacher"] - 0.1 * n) < tol(0.1, n)
    assert {p[0] for p in plans if p[1] == "teacher"} == {2}  # the op-2-only teacher variant
    easy = sum(ops_zoo[o] for o in (2, 3, 4))
    assert abs(easy - 0.25 * ctx["zoo"]) < tol(0.25, ctx["zoo"])
    assert abs(ops_zoo[7] - 0.125 * ctx["zoo"]) < tol(0.125, ctx["zoo"])  # uniform inside the range
    assert row_plan(recipe.seed, "train", 17, mixture) == plans[17]  # a pure function of the index


# ---- building -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("build")
    dd = build_datasets(small_recipe(), root / "single", num_proc=1, verbose=False)
    return root, dd


def test_build_writes_the_documented_splits_and_columns(built):
    root, dd = built
    assert list(dd) == ["eval_op2_zoo", "eval_op3_zoo", "eval_op2_teacher", "eval_op3_teacher", "rl", "train"]
    assert dd["eval_op3_teacher"].column_names == list(ROW_COLUMNS)
    assert dd["rl"].column_names == list(COLUMN_PRESETS["rl"])
    assert dd["train"].column_names == list(COLUMN_PRESETS["pretrain"])
    assert len(dd["train"]) == 1200 and set(dd["train"]["op"]) == {2, 3, 4}
    row = dd["eval_op3_teacher"][0]
    assert row["op"] == 3 and row["context"] == "teacher" and row["template"] == "teachers_in_school"
    assert row["text"] == row["prompt"] + row["completion"]
    assert json.loads(row["gold_graph"]) == gold_graph_from_solution(row["solution"])
    rl = dd["rl"][0]
    assert rl["prompt"].endswith("</question> <solution>") and json.loads(rl["gold_graph"])["answer"] == int(rl["answer"])
    report = json.loads((root / "single" / "build_report.json").read_text())
    assert report["splits"]["train"]["rows"] == 1200 and report["duplicates_dropped_total"] == 0
    assert (root / "single" / "recipe.yaml").exists()
    assert not (root / "single" / "README.md").exists()  # the card is the Hub layer's, written by `data build`
    assert not list(root.glob(".tmp-*")), "the staging directory is removed"


def test_rows_equal_the_generator_output(built):
    _, dd = built
    mixture = recipe_from_dict(small_recipe()).split("eval_op2_zoo").mixture
    op, ctx, mode, seed = row_plan(3, "eval_op2_zoo", 1, mixture)
    assert dd["eval_op2_zoo"][1]["solution"] == generate_problem(op, ctx, mode, seed=seed).solution


@pytest.mark.slow
def test_output_is_byte_identical_for_any_num_proc_and_shards_concatenate(built, tmp_path):
    root, dd = built
    build_datasets(small_recipe(), tmp_path / "two", num_proc=2, verbose=False)
    assert dir_files(root / "single") == dir_files(tmp_path / "two")
    for k in range(3):
        build_datasets(small_recipe(), tmp_path / "sharded", num_proc=1, num_shards=3, shard_index=k, verbose=False)
    joined = load_built(tmp_path / "sharded")
    assert list(joined) == list(dd)
    for name in dd:
        assert joined[name].to_list() == dd[name].to_list(), name


def test_no_problem_occurs_in_two_splits(built):
    _, dd = built
    seen: dict[str, str] = {}
    for name, ds in dd.items():
        prompts = ds["prompt"] if "prompt" in ds.column_names else [t.split("<solution>")[0] + "<solution>" for t in ds["text"]]
        for p in prompts:
            assert seen.setdefault(problem_key(p), name) == name or seen[problem_key(p)] == name


def test_duplicates_across_splits_are_dropped_and_reported(monkeypatch, tmp_path, capsys):
    # make every split draw the same rows, so the later split duplicates the earlier one
    real = build_mod.row_plan
    monkeypatch.setattr(build_mod, "row_plan", lambda seed, split, i, mixture: real(seed, "same", i, mixture))
    recipe = {"name": "dups", "splits": {
        "first": {"size": 40, "ops": "2-3", "columns": "sft"},
        "second": {"size": 60, "ops": "2-3", "columns": "sft"},
    }}
    dd = build_datasets(recipe, tmp_path / "out", verbose=True)
    assert len(dd["first"]) == 40 and len(dd["second"]) == 20
    report = json.loads((tmp_path / "out" / "build_report.json").read_text())
    assert report["splits"]["second"]["duplicates_dropped"] == {"first": 40}
    assert report["duplicates_dropped_total"] == 40
    assert "dropped 40 duplicate(s)" in capsys.readouterr().err


def test_dedup_within_splits_keeps_the_first_occurrence_and_shards_agree(monkeypatch, tmp_path):
    real = build_mod.row_plan  # rows repeat every 25 positions: 60 rows hold 25 distinct problems
    monkeypatch.setattr(build_mod, "row_plan", lambda seed, split, i, mixture: real(seed, split, i % 25, mixture))
    recipe = {"name": "pool", "splits": {"train": {"size": 60, "ops": "2-3", "columns": "sft"}}}
    assert len(build_datasets(recipe, tmp_path / "kept", verbose=False)["train"]) == 60  # off by default
    dd = build_datasets({**recipe, "dedup_within_splits": True}, tmp_path / "dedup", verbose=False)
    assert len(dd["train"]) == 25 and len(set(dd["train"]["prompt"])) == 25
    report = json.loads((tmp_path / "dedup" / "build_report.json").read_text())
    assert report["splits"]["train"]["duplicates_dropped"] == {"within_split": 35} and report["dedup_within_splits"]
    for k in range(3):  # a sharded build drops a row that an earlier shard holds: the shards concatenate to the same
        build_datasets({**recipe, "dedup_within_splits": True}, tmp_path / "sharded", num_shards=3, shard_index=k,
                       verbose=False)
    assert load_built(tmp_path / "sharded")["train"].to_list() == dd["train"].to_list()
    with pytest.raises(ConfigError, match="dedup_within_splits"):
        recipe_from_dict({**recipe, "dedup_within_splits": "yes"})


def test_dedup_against_a_built_dataset(built, tmp_path):
    root, _ = built
    recipe = small_recipe(eval=None, dedup_against=[str(root / "single")])
    recipe["splits"] = {"train": {"size": 1300, "ops": "2-4", "contexts": "zoo", "columns": "pretrain"}}
    dd = build_datasets(recipe, tmp_path / "again", verbose=False)  # same seed and split name: first 1200 rows repeat
    assert len(dd["train"]) == 100
    report = json.loads((tmp_path / "again" / "build_report.json").read_text())
    assert report["splits"]["train"]["duplicates_dropped"] == {"dedup_against": 1200}


def test_build_cli_dedup_against_flag_adds_to_the_recipe(built, tmp_path, capsys):
    """The pipeline passes the main build this way (a second build that must keep the first one's eval problems out)."""
    import yaml

    from interplay_hf.cli import main

    root, _ = built
    recipe = small_recipe(eval=None)
    recipe["splits"] = {"train": {"size": 1300, "ops": "2-4", "contexts": "zoo", "columns": "pretrain"}}
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(recipe))
    out = tmp_path / "cli"
    assert main(["data", "build", str(tmp_path / "r.yaml"), "--output-dir", str(out),
                 "--dedup-against", str(root / "single")]) == 0
    report = json.loads((out / "build_report.json").read_text())
    assert report["splits"]["train"]["duplicates_dropped"] == {"dedup_against": 1200}
    assert report["dedup_against"] == [str(root / "single")]
    assert main(["data", "build", str(tmp_path / "r.yaml"), "--output-dir", str(tmp_path / "x"),
                 "--dedup-against", str(tmp_path / "missing")]) == 2
    assert "dedup_against" in capsys.readouterr().err and not (tmp_path / "x").exists()


def test_token_budgets_use_a_pilot_sample(tmp_path):
    recipe = {"name": "tok", "splits": {"train": {"size": {"tokens": 60_000, "chars_per_token": 3.0, "pilot": 256},
                                                  "ops": "2-6", "columns": "pretrain"}}}
    dd = build_datasets(recipe, tmp_path / "tok", verbose=False)
    tokens = sum(len(t) / 3.0 + 1 for t in dd["train"]["text"])
    assert abs(tokens / 60_000 - 1) < 0.1  # the pilot mean has a ~2.5% standard error at 256 rows
    report = json.loads((tmp_path / "tok" / "build_report.json").read_text())["splits"]["train"]
    assert report["tokens_requested"] == 60_000 and report["token_estimate"] == "chars / 3.0 + 1 (EOS)"


@pytest.mark.slow
def test_token_budget_with_a_tokenizer(tmp_path):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel(vocab={"[UNK]": 0}, unk_token="[UNK]"))  # one token per word
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]").save_pretrained(tmp_path / "tok")
    recipe = {"name": "tok", "splits": {"train": {"size": {"tokens": 5_000, "tokenizer": str(tmp_path / "tok"),
                                                           "pilot": 32}, "ops": 3, "columns": "pretrain"}}}
    n, per_row = build_mod.estimate_rows(recipe_from_dict(recipe), recipe_from_dict(recipe).split("train"))
    plan = build_mod._plan(recipe_from_dict(recipe), recipe_from_dict(recipe).split("train"), ("text",))
    words = [len(build_mod.make_row(plan, i)["text"].replace(".", " . ").split()) for i in range(32)]
    assert per_row > 10 and n == math.ceil(5_000 / per_row)
    assert abs(per_row - (sum(words) / 32 + 1)) < 0.15 * per_row  # whitespace+punctuation words, plus EOS


def test_existing_output_needs_overwrite_and_failed_builds_leave_nothing(built, monkeypatch, tmp_path):
    root, _ = built
    with pytest.raises(ConfigError, match="already exists; pass --overwrite"):
        build_datasets(small_recipe(), root / "single", verbose=False)

    recipe = {"name": "boom", "splits": {"train": {"size": 5, "ops": 2}}}
    build_datasets(recipe, tmp_path / "out", verbose=False)
    before = dir_files(tmp_path / "out")

    def explode(plan, index):
        raise RuntimeError("disk full")

    monkeypatch.setattr(build_mod, "make_row", explode)
    with pytest.raises(Exception) as failure:  # datasets wraps it in DatasetGenerationError
        build_datasets({**recipe, "seed": 9}, tmp_path / "out", overwrite=True, verbose=False)
    assert "disk full" in repr(failure.value) + repr(failure.value.__cause__)
    assert dir_files(tmp_path / "out") == before, "the old build is untouched"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "no staging left behind"


def test_bad_shard_arguments(tmp_path):
    with pytest.raises(ConfigError, match="--shard-index: expected 0..1"):
        build_datasets(small_recipe(), tmp_path / "x", num_shards=2, shard_index=2)
    with pytest.raises(ConfigError, match="--num-shards"):
        build_datasets(small_recipe(), tmp_path / "x", num_shards=0)
    with pytest.raises(ConfigError, match="output_dir"):
        build_datasets(small_recipe(), None)


# ---- the released dataset -------------------------------------------------------------------------------
def _write_release(root: Path) -> list[dict]:
    rows = official_rows()
    for k, row in enumerate(rows):
        released = {c: row[c] for c in ("problem", "question", "solution", "op", "template", "mode", "length", "d")}
        released["id"] = f"{k % 23}_p0"
        path = root / "train" / str(row["op"]) / f"op{row['op']}_shard0_1B.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as f:
            f.write(json.dumps(released, ensure_ascii=False) + "\n")
    return rows


def test_load_released_from_a_local_copy(tmp_path):
    from interplay_hf.data.released import load_released

    rows = _write_release(tmp_path / "release")
    ds = load_released(data_dir=tmp_path / "release", ops=[2, 3], cache_dir=str(tmp_path / "cache"))
    assert ds.column_names == list(ROW_COLUMNS) and len(ds) == 6 and set(ds["op"]) == {2, 3}
    by_solution = {r["solution"]: r for r in rows}
    for row in ds:
        src = by_solution[row["solution"]]
        assert row["answer"] == src["answer"]
        assert row["context"] == {"crazy_zootopia": "zoo", "teachers_in_school": "teacher",
                                  "movie_festival_awards": "movie"}[row["template"]]
        assert row["id"] == content_id(row["problem"], row["question"], row["solution"])
        assert row["text"] == row["prompt"] + row["completion"]
        assert json.loads(row["gold_graph"])["answer"] == int(src["answer"])
    assert len(load_released(data_dir=tmp_path / "release", cache_dir=str(tmp_path / "cache"))) == 57


def test_load_released_offline_without_cache_is_a_config_error(monkeypatch, tmp_path):
    import datasets
    import huggingface_hub.constants

    from interplay_hf.data.released import load_released

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    with pytest.raises(ConfigError, match="HF_HUB_OFFLINE=1 and it is not in the local cache"):
        load_released("interplay-hf-test/not-cached-anywhere", ops=[2], cache_dir=str(tmp_path / "cache"))
    with pytest.raises(ConfigError, match="ops: 30 is outside"):
        load_released(ops=[30])
    with pytest.raises(ConfigError, match="data_dir"):
        load_released(data_dir=tmp_path / "missing")


def test_token_shares_give_each_op_its_share_of_tokens_not_of_rows(tmp_path):
    """``shares: tokens`` reads weights as the official op_prob does: equal weights, equal tokens per op."""
    split = {"size": 600, "ops": {2: 0.5, 12: 0.5}, "contexts": "zoo", "columns": "pretrain"}
    rows_dd = build_datasets({"name": "r", "splits": {"train": split}}, tmp_path / "rows", verbose=False)
    tokens_dd = build_datasets({"name": "t", "splits": {"train": {**split, "shares": "tokens"}}}, tmp_path / "tok",
                               verbose=False)

    def share_of_op2(ds, by_tokens: bool) -> float:
        weight = [len(t) if by_tokens else 1 for t in ds["text"]]
        return sum(w for w, op in zip(weight, ds["op"]) if op == 2) / sum(weight)

    assert abs(share_of_op2(rows_dd["train"], by_tokens=False) - 0.5) < 0.06  # rows: half the documents
    assert share_of_op2(rows_dd["train"], by_tokens=True) < 0.4  # ... but clearly fewer than half the tokens
    assert abs(share_of_op2(tokens_dd["train"], by_tokens=True) - 0.5) < 0.06  # tokens: half the tokens
    report = json.loads((tmp_path / "tok" / "build_report.json").read_text())
    op_rows = report["token_share_row_mixture"]["train"][0]["ops"]
    assert op_rows["2"] > 0.6 and report["mixture"]["train"][0]["ops"] == {"2": 0.5, "12": 0.5}
    again = build_datasets({"name": "t", "splits": {"train": {**split, "shares": "tokens"}}}, tmp_path / "tok2",
                           verbose=False)
    assert again["train"].to_list() == tokens_dd["train"].to_list()  # the pilot is seeded: deterministic
    with pytest.raises(ConfigError, match="shares"):
        recipe_from_dict({"name": "x", "splits": {"train": {**split, "shares": "bytes"}}})


def test_a_trained_tokenizer_measures_the_token_shares_of_a_split_sized_in_rows(tmp_path, tiny_tokenizer):
    """The paper pipelines write their tokenizer first, then measure shares and budgets in its tokens."""
    tiny_tokenizer.save_pretrained(tmp_path / "tok")
    split = {"ops": {2: 0.5, 12: 0.5}, "contexts": "zoo", "columns": "pretrain", "shares": "tokens"}
    chars = build_datasets({"name": "c", "splits": {"train": {**split, "size": 300}}}, tmp_path / "c", verbose=False)
    sized = {"examples": 300, "tokenizer": str(tmp_path / "tok")}
    assert recipe_from_dict({"name": "t", "splits": {"train": {**split, "size": sized}}}).splits[0].size.tokenizer
    tokens = build_datasets({"name": "t", "splits": {"train": {**split, "size": sized}}}, tmp_path / "t", verbose=False)

    def row_weight_of_op2(folder: str) -> float:
        report = json.loads((tmp_path / folder / "build_report.json").read_text())
        return report["token_share_row_mixture"]["train"][0]["ops"]["2"]

    assert row_weight_of_op2("t") != row_weight_of_op2("c")  # the tokenizer's lengths, not chars / 4
    assert len(tokens["train"]) == len(chars["train"]) == 300
    bad = {"name": "b", "splits": {"train": {**split, "size": {"examples": 3, "tokenizer": str(tmp_path / "none")}}}}
    with pytest.raises(ConfigError, match="size.tokenizer"):
        build_datasets(bad, tmp_path / "b", verbose=False)
