"""`interplay-hf eval` end to end: sampling determinism, scoring, sharding, resume, Hub-style subfolders, bad input.

Real generation uses the ~100k-parameter random tiny model (its completions are junk, so counts are
zero); exact counts are checked with a scripted sampler that writes gold / answer-only / junk
completions in a known pattern.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import assert_schema

from interplay_hf.decoding.draw import CounterSampler, counter_uniform, sample_seed, uniform_reference
from interplay_hf.errors import ConfigError
from interplay_hf.evaluation import runner
from interplay_hf.evaluation.aggregate import summarize
from interplay_hf.evaluation.config import EvalConfig
from interplay_hf.evaluation.results_schema import Block, ProblemRecord, Results, Summary
from interplay_hf.evaluation.runner import evaluate
from interplay_hf.evaluation.sampling import (
    HFSampler,
    Request,
    build_requests,
    cut_completion,
    decode_completion,
    stop_config,
)
from interplay_hf.evaluation.stats import BootstrapSpec
from interplay_hf.versions import library_versions

REPO_ROOT = Path(__file__).parent.parent
ROWS = REPO_ROOT / "tests" / "fixtures" / "official_rows.jsonl"  # ops 2-20 x 3 contexts, one problem each



def cfg_for(model, out, **kw) -> EvalConfig:
    base = dict(model=str(model), data=str(ROWS), output_dir=str(out), ops="2-4", n=4, k="1,2,4", max_new_tokens=8,
                chance_samples=50, plots=False)
    base.update(kw)
    return EvalConfig(**base)


def read_jsonl(path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1024, path


# ------------------------------------------------------------------------------------- sampling


def test_counter_uniform_matches_reference_and_sampler_follows_softmax():
    import torch

    seeds = [sample_seed(0, "p", j) for j in range(4)] + [0, 2**63 - 1]
    for step in (0, 5, 1023):
        assert counter_uniform(torch.tensor(seeds), step).tolist() == [uniform_reference(s, step) for s in seeds]
    n = 4000
    row_seeds = torch.tensor([sample_seed(1, "x", j) for j in range(n)])
    logits = torch.log(torch.tensor([0.6, 0.3, 0.1, 0.0])).repeat(n, 1)
    drawn = CounterSampler(row_seeds, 0, temperature=1.0)(torch.zeros(n, 1, dtype=torch.long), logits).argmax(-1)
    freq = torch.bincount(drawn, minlength=4) / n
    assert freq[3] == 0 and abs(freq[0] - 0.6) < 0.03 and abs(freq[2] - 0.1) < 0.02
    drawn = CounterSampler(row_seeds, 0, temperature=1.0, top_p=0.5)(torch.zeros(n, 1, dtype=torch.long), logits).argmax(-1)
    assert set(drawn.tolist()) == {0}  # the top token alone reaches top-p 0.5


def test_samples_do_not_depend_on_batch_size(tiny_model_dir):
    from interplay_hf.evaluation.loading import load_model, load_tokenizer

    tok = load_tokenizer(str(tiny_model_dir))
    model = load_model(str(tiny_model_dir))
    stop = stop_config(tok, model.config, "</answer>")
    assert stop.keep_token_ids == [tok.convert_tokens_to_ids("</answer>")] and stop.stop_string is None
    prompts = [tok(f"<question> {q} </question> <solution>")["input_ids"] for q in ("a b c", "x")]
    requests = build_requests(prompts, ["p0", "p1"], 3, seed=7) + [Request(prompts[0], None)]
    outs = []
    for batch_size in (1, 3, 8):
        sampler = HFSampler(model, tok, stop, max_new_tokens=6, temperature=0.7, top_p=1.0, batch_size=batch_size)
        generated = sampler.generate(requests)  # the greedy row shares batches with samples
        outs.append([cut_completion(ids, stop)[0] for ids in generated])  # rows end at different steps
    assert outs[0] == outs[1] == outs[2]
    assert outs[0][-1] == cut_completion(sampler.generate(requests[-1:])[0], stop)[0]  # greedy alone: the same
    assert len({tuple(o) for o in outs[0][:3]}) > 1  # different seeds, different samples
    text, count, stopped = decode_completion([tok.convert_tokens_to_ids("<answer>"), 30, stop.keep_token_ids[0], 5], tok, stop)
    assert text.endswith("</answer>") and count == 3 and stopped


def test_decode_loop_draws_the_samples_model_generate_draws(tiny_model_dir):
    """In fp32 our decode loop (finished rows dropped, the draw taken from the last logits) and ``model.generate``
    with the counter sampler as a logits processor give the same completions, greedy rows included."""
    from interplay_hf.evaluation.loading import load_model, load_tokenizer

    tok = load_tokenizer(str(tiny_model_dir))
    model = load_model(str(tiny_model_dir))
    stop = stop_config(tok, model.config, "</answer>")
    prompts = [tok(f"<question> {q} </question> <solution>")["input_ids"] for q in ("a b c", "x", "Define p")]
    requests = build_requests(prompts, ["p0", "p1", "p2"], 6, seed=3) + [Request(prompts[1], None)]
    completions = {}
    for decode_loop in (True, False):
        for top_p in (1.0, 0.9):
            sampler = HFSampler(model, tok, stop, max_new_tokens=24, temperature=0.7, top_p=top_p, batch_size=8,
                                decode_loop=decode_loop)
            completions[decode_loop, top_p] = [cut_completion(ids, stop) for ids in sampler.generate(requests)]
    assert completions[True, 1.0] == completions[False, 1.0] and completions[True, 0.9] == completions[False, 0.9]
    stopped = [done for _, done in completions[True, 1.0]]
    assert any(stopped) and not all(stopped)  # rows left the batch while others went on


# ------------------------------------------------------------------------------ scripted sampler


class ScriptedSampler:
    """Sample j of the i-th problem: gold if j < i % (n+1), answer-only if j == that, else junk."""

    backend = "hf"

    def __init__(self, problems, tokenizer, cfg, fail_after: int | None = None):
        from interplay_hf.data.text import make_completion

        self.tokenizer, self.batch_size, self.calls, self.fail_after = tokenizer, 1, 0, fail_after
        self.stop = stop_config(tokenizer, None, "</answer>")
        self.by_seed, self.by_prompt = {}, {}
        for p in problems:
            good = p.index % (cfg.n + 1)
            gold = make_completion(p.solution)
            answer_only = f" </solution> <answer> {p.answer} </answer>"
            for j in range(cfg.n):
                text = gold if j < good else answer_only if j == good else " Define junk as Z; so Z = 99."
                self.by_seed[sample_seed(cfg.seed, p.id, j)] = text
            self.by_prompt[tuple(runner.encode_prompt(tokenizer, p.prompt, cfg.chat))] = gold
        self.prompts_seen = []

    def generate(self, requests):
        self.calls += 1
        if self.fail_after is not None and self.calls > self.fail_after:
            raise RuntimeError("simulated crash")
        self.prompts_seen.extend(tuple(r.prompt_ids) for r in requests)
        texts = [self.by_seed[r.seed] if r.seed is not None else self.by_prompt[tuple(r.prompt_ids)] for r in requests]
        return [self.tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]


def scripted(monkeypatch, fail_after=None):
    from interplay_hf.evaluation.problems import load_problems

    made = []

    def make(cfg, state, tokenizer):
        problems = load_problems(cfg.data, cfg.split, cfg.ops, cfg.contexts, cfg.max_problems_per_op, cfg.output_dir)
        made.append(ScriptedSampler(problems, tokenizer, cfg, fail_after))
        return made[-1]

    monkeypatch.setattr(runner, "make_sampler", make)
    return made


def test_counts_and_summary_follow_the_verifier(tiny_model_dir, tmp_path, monkeypatch):
    scripted(monkeypatch)
    cfg = cfg_for(tiny_model_dir, tmp_path, ops="2-20", n=4, k="1,2,4")
    results = evaluate(cfg)
    assert results["versions"] == library_versions()  # torch, transformers, trl, ... of this run
    problems = results["problems"]
    assert len(problems) == 57 and [p["index"] for p in problems] == list(range(57))
    for p in problems:
        good = p["index"] % 5
        assert_schema(p, ProblemRecord)
        assert p["process_correct"] == good, p
        assert p["outcome_correct"] == good + (good < 4)  # + the answer-only sample
        assert p["first_process_rank"] == (0 if good else None)
        assert p["greedy_outcome"] is True and p["greedy_process"] is True
        assert p["error_counts"]["missing"] == 4 - good
    on_disk = json.loads((tmp_path / "results.json").read_text())
    spec = BootstrapSpec.from_record(on_disk["intervals"])
    assert on_disk["summary"] == summarize(on_disk["problems"], on_disk["k"], on_disk["regimes"], spec)  # recomputes
    assert set(on_disk["summary"]["per_regime"]) == {"ID", "OOD-edge", "OOD-hard"}
    assert_schema(on_disk, Results)
    assert_schema(on_disk["summary"], Summary)
    for blocks in [{"overall": on_disk["summary"]["overall"]}, *list(on_disk["summary"].values())[1:]]:
        for block in blocks.values():
            assert_schema(block, Block)
    assert on_disk["summary"]["overall"]["greedy_process_pass@1"] == 1.0
    samples = read_jsonl(tmp_path / "samples.jsonl")
    assert len(samples) == 57 * 5 and samples[0]["verdict"]["process_verified"] is False  # index 0: no gold
    assert "| OOD-edge | 11–14 |" in (tmp_path / "results.md").read_text()
    assert not (tmp_path / "plots").exists()  # --no-plots


def test_resume_after_a_crash_gives_the_same_results(tiny_model_dir, tmp_path, monkeypatch):
    scripted(monkeypatch)
    reference = evaluate(cfg_for(tiny_model_dir, tmp_path / "ref", ops="2-5", greedy=False))
    scripted(monkeypatch, fail_after=3)  # dies after 3 problems (one problem per chunk with batch size 1)
    with pytest.raises(RuntimeError, match="simulated crash"):
        evaluate(cfg_for(tiny_model_dir, tmp_path / "run", ops="2-5", greedy=False))
    assert len(read_jsonl(tmp_path / "run" / ".partial" / "records-rank0.jsonl")) == 3
    made = scripted(monkeypatch)
    resumed = evaluate(cfg_for(tiny_model_dir, tmp_path / "run", ops="2-5", greedy=False))
    assert resumed["run"]["resumed_problems"] == 3 and made[0].calls == 12 - 3
    assert resumed["problems"] == reference["problems"] and resumed["summary"] == reference["summary"]
    assert not (tmp_path / "run" / ".partial").exists()
    assert len(read_jsonl(tmp_path / "run" / "samples.jsonl")) == 12 * 4


# ------------------------------------------------------------------------------- real generation


@pytest.mark.slow
def test_tiny_model_end_to_end_and_two_processes_agree(tiny_model_dir, tmp_path):
    one = evaluate(cfg_for(tiny_model_dir, tmp_path / "one", plots=True))
    assert one["n"] == 4 and one["k"] == [1, 2, 4] and len(one["problems"]) == 9
    assert one["summary"] == summarize(one["problems"], one["k"], one["regimes"], BootstrapSpec.from_record(one["intervals"]))
    assert all(p["n"] == 4 and p["generated_tokens"] <= 4 * 8 for p in one["problems"])
    for name in ("pass_at_k_vs_op.png", "pass_at_k_vs_k.png", "pass_at_k_vs_op_zoo.png"):
        assert_png(tmp_path / "one" / "plots" / name)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2"]
    if (REPO_ROOT / "accelerate_configs" / "cpu.yaml").exists():
        cmd += ["--config_file", str(REPO_ROOT / "accelerate_configs" / "cpu.yaml")]
    else:
        cmd += ["--cpu", "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
    cmd += ["--main_process_port", str(free_port()), "-m", "interplay_hf.evaluation.run", "--model", str(tiny_model_dir),
            "--data", str(ROWS), "--ops", "2-4", "--n", "4", "--k", "1,2,4", "--max-new-tokens", "8", "--chance-samples", "50", "--no-plots",
            "--output-dir", str(tmp_path / "two")]
    proc = subprocess.run(cmd, env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    two = json.loads((tmp_path / "two" / "results.json").read_text())
    assert two["run"]["num_processes"] == 2
    assert two["problems"] == one["problems"] and two["summary"] == one["summary"]
    assert read_jsonl(tmp_path / "two" / "samples.jsonl") == read_jsonl(tmp_path / "one" / "samples.jsonl")


def test_hub_subfolder_layout_and_chat_template(tiny_model_dir, tmp_path):
    """A repo laid out as repo/<setting>/base/ loads with --subfolder; --chat prompts through the template."""
    from transformers import AutoTokenizer

    target = tmp_path / "repo" / "ctx_setting" / "base"
    shutil.copytree(tiny_model_dir, target)
    tok = AutoTokenizer.from_pretrained(target)
    tok.chat_template = "{% for m in messages %}<question> {{ m['content'] }} </question>{% endfor %} <solution>"
    tok.save_pretrained(target)
    cfg = cfg_for(tmp_path / "repo", tmp_path / "out", subfolder="ctx_setting/base", ops="2", n=2, k="1,2",
                  max_new_tokens=4, chat=True, greedy=False)
    results = evaluate(cfg)
    assert results["subfolder"] == "ctx_setting/base" and results["sampling"]["chat"] is True
    assert len(read_jsonl(tmp_path / "out" / "samples.jsonl")) == 3 * 2
    ids = runner.encode_prompt(tok, "What is 2?", chat=True)
    assert tok.decode(ids) == "<question> What is 2? </question> <solution>"


@pytest.mark.slow
def test_repo_id_with_subfolder_from_the_hub_cache(tiny_model_dir, tmp_path):
    """`--model owner/name --subfolder setting/base` resolves through the Hub cache (offline) like a download."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--interplay-test--tiny"
    shutil.copytree(tiny_model_dir, repo / "snapshots" / commit / "ctx_setting" / "base")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    env = {**os.environ, "HF_HUB_CACHE": str(tmp_path / "hub"), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "interplay_hf.evaluation.run", "--model", "interplay-test/tiny", "--subfolder",
           "ctx_setting/base", "--data", str(ROWS), "--ops", "2", "--n", "2", "--k", "1,2", "--max-new-tokens", "4",
           "--chance-samples", "10", "--no-plots", "--output-dir", str(tmp_path / "out")]
    proc = subprocess.run(cmd, env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["model"] == "interplay-test/tiny" and results["subfolder"] == "ctx_setting/base"
    assert len(results["problems"]) == 3


# ----------------------------------------------------------------------------------- bad input


def test_bad_input_is_a_config_error_before_sampling(tiny_model_dir, tmp_path, monkeypatch):
    def no_sampling(*a, **k):
        raise AssertionError("sampling must not start on bad input")

    monkeypatch.setattr(runner, "make_sampler", no_sampling)
    with pytest.raises(ConfigError, match="--k 8 exceeds --n 4"):
        cfg_for(tiny_model_dir, tmp_path, k="1,8")
    with pytest.raises(ConfigError, match="--n"):
        cfg_for(tiny_model_dir, tmp_path, n=0, k="1")
    with pytest.raises(ConfigError, match="--backend 'tgi'"):
        cfg_for(tiny_model_dir, tmp_path, backend="tgi")
    with pytest.raises(ConfigError, match="no problems left"):
        evaluate(cfg_for(tiny_model_dir, tmp_path, ops="30-40"))
    with pytest.raises(ConfigError, match="--data"):
        evaluate(cfg_for(tiny_model_dir, tmp_path, data=str(tmp_path / "missing.jsonl")))
    no_tok = tmp_path / "no_tokenizer"
    no_tok.mkdir()
    shutil.copy(tiny_model_dir / "config.json", no_tok / "config.json")
    with pytest.raises(ConfigError, match="no tokenizer files"):
        evaluate(cfg_for(no_tok, tmp_path / "out"))
    with pytest.raises(ConfigError, match="--output-dir .*: holds the input --model"):  # never written into
        evaluate(cfg_for(no_tok, tmp_path))
    with pytest.raises(ConfigError, match="--subfolder"):
        evaluate(cfg_for(tiny_model_dir, tmp_path, subfolder="nope/base"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ConfigError, match="HF_HUB_OFFLINE=1"):
        evaluate(cfg_for("interplay-nobody/not-a-cached-model", tmp_path, subfolder="x/base"))
    try:
        import vllm  # noqa: F401
    except ImportError:
        with pytest.raises(ConfigError, match="vLLM is not installed"):
            evaluate(cfg_for(tiny_model_dir, tmp_path, backend="vllm"))


def test_cli_reports_config_errors_without_traceback(tiny_model_dir, tmp_path, capsys):
    from interplay_hf.cli import main

    code = main(["eval", "--model", str(tiny_model_dir), "--data", str(ROWS), "--n", "4", "--k", "1,8",
                 "--output-dir", str(tmp_path)])
    assert code == 2 and "--k 8 exceeds --n 4" in capsys.readouterr().err


# ----------------------------------------------------------------------------------- eval sets


def test_eval_set_from_jsonl_filters_by_op_and_context(tmp_path):
    from interplay_hf.evaluation.problems import load_problems

    jsonl = load_problems(str(ROWS), None, [2, 3], ["zoo", "teachers_in_school"], None, tmp_path)
    assert [(p.op, p.context) for p in jsonl] == [(2, "zoo"), (2, "teacher"), (3, "zoo"), (3, "teacher")]
    assert jsonl[0].prompt.startswith("<question> ") and jsonl[0].prompt.endswith("</question> <solution>")
    assert len({p.id for p in jsonl}) == 4  # content hashes (the official id collides)
    assert jsonl[0].answer == read_jsonl(ROWS)[0]["answer"]


def test_eval_set_from_a_recipe_builds_only_its_eval_splits(tmp_path):
    from datasets import Dataset, DatasetDict

    from interplay_hf.evaluation.problems import load_problems

    recipe = tmp_path / "eval.yaml"
    recipe.write_text("name: t\nseed: 3\neval: {ops: 2-3, contexts: [zoo, teacher], size: 3}\n"
                      "splits: {train: {size: 50, ops: 2-4, columns: pretrain}}\n")
    problems = load_problems(str(recipe), None, None, None, 2, tmp_path / "run")
    assert len(problems) == 8 and {p.context for p in problems} == {"zoo", "teacher"}  # 2 per (context, op)
    assert problems[0].gold_graph and problems[0].solution and problems[0].id
    built = tmp_path / "run" / "eval_data"
    assert "train" not in json.loads((built / "dataset_dict.json").read_text())["splits"]
    again = load_problems(str(built), None, [3], None, None, tmp_path)  # eval splits found via build_report.json
    assert [p.id for p in again] == [p.id for p in load_problems(str(recipe), None, [3], None, None, tmp_path / "r2")]
    rows = read_jsonl(ROWS)
    DatasetDict({"train": Dataset.from_list(rows[:3]), "test": Dataset.from_list(rows[3:9])}).save_to_disk(tmp_path / "ds")
    assert len(load_problems(str(tmp_path / "ds"), None, None, None, None, tmp_path)) == 6  # 'test', not 'train'
    assert len(load_problems(str(tmp_path / "ds"), "tr*", None, None, None, tmp_path)) == 3
    with pytest.raises(ConfigError, match="--split"):
        load_problems(str(tmp_path / "ds"), "validation", None, None, None, tmp_path)


def test_select_edge_evaluates_the_base_model(tiny_model_dir, tmp_path, monkeypatch):
    from interplay_hf.cli import main

    scripted(monkeypatch)
    code = main(["select-edge", "--model", str(tiny_model_dir), "--data", str(ROWS), "--ops", "2-20", "--n", "4",
                 "--k", "4", "--pass1-max", "0.5", "--passk-min", "0.5", "--chance-samples", "20", "--no-greedy", "--no-plots",
                 "--output-dir", str(tmp_path)])
    assert code == 0
    base = json.loads((tmp_path / "base_eval" / "results.json").read_text())
    assert base["k"] == [1, 4] and base["n"] == 4
    edge = json.loads((tmp_path / "edge.json").read_text())
    for op, stats in edge["per_op"].items():
        assert stats["selected"] == (op in map(str, edge["selected_ops"]))
        assert stats["selected"] == (stats["pass@1"] <= 0.5 and stats["pass@4"] >= max(0.5, stats["chance@4"] + 0.05))
    assert edge["selected_ops"] and (tmp_path / "rl_data.yaml").exists()


def test_unsupported_answer_flags_answers_their_own_steps_do_not_compute(official_rows):
    from interplay_hf.data.text import make_completion
    from interplay_hf.evaluation.scoring import unsupported_answer

    for row in official_rows:  # the official gold solutions: the answer is always the last step's value
        assert not unsupported_answer(make_completion(row["solution"])), row["id"]
    guess = " Define adult fox in Cedar Valley as h; so h = 2. Define total number of adult animals in Cedar " \
            "Valley as q; so q = h = 2. </solution> <answer> 4 </answer>"
    assert unsupported_answer(guess)
    assert not unsupported_answer(guess.replace("<answer> 4", "<answer> 2"))
    for junk in ("", "<answer> 3 </answer>", "Define x as y; so y = . <answer> 1 </answer>", "\x00" * 50):
        assert unsupported_answer(junk) is False  # no step value or no answer: nothing to contradict


def test_shortcut_counts_each_sample_once_whatever_its_shortcut_errors(official_rows):
    """``shortcut``: a sample with a missing step, a wrong dependency or an unsupported answer, counted once."""
    from interplay_hf.data.text import answer_from_solution, make_completion
    from interplay_hf.evaluation.scoring import EvalProblem, score_problem

    row = next(r for r in official_rows if r["op"] >= 3)
    gold = make_completion(row["solution"])
    problem = EvalProblem(0, "p0", row["op"], "zoo", "p", row["solution"], answer_from_solution(row["solution"])[1])
    answer_only = f"<answer> {problem.answer} </answer>"  # every gold step missing
    record, _ = score_problem(problem, [gold, answer_only, answer_only, gold])
    errors = record["error_counts"]
    assert errors["shortcut"] == 2 and errors["missing"] == 2
    assert errors["shortcut"] <= errors["missing"] + errors["dependency_mismatch"] + errors["unsupported_answer"]
