"""The inspector (docs/inspector.md): per-step verdicts that agree with the verifier, the JSON the page embeds,
bad eval folders refused in one line, the files eval and report write, and the page itself in headless Chromium.

Eval folders are written by the evaluation's own scorer (``score_problem``) from crafted completions of the
official rows: gold, a step whose expression uses a letter the gold step does not (a wrong dependency), an
extra step, an answer alone, junk holding ``<script>``; or by ``evaluate`` itself with the scripted sampler of
tests/test_eval_run.py.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from conftest import FIXTURES, read_jsonl, results_from_records

from interplay_hf.atomic_io import write_json, write_jsonl
from interplay_hf.data.text import make_completion
from interplay_hf.errors import ConfigError
from interplay_hf.evaluation.inspector import (
    build_payload,
    decode_payload,
    load_eval_folder,
    problem_row,
    write_inspector,
)
from interplay_hf.evaluation.passk import DEFAULT_REGIMES, regime_of
from interplay_hf.evaluation.problems import to_problems
from interplay_hf.evaluation.scoring import score_problem
from interplay_hf.evaluation.stats import BootstrapSpec
from interplay_hf.rewards import REWARD_FUNCS
from interplay_hf.verify import step_verdicts, verify

SCRIPT = "<script>alert('x')</script>"
FAKE_TOKEN = "hf_" + "Zq7" * 10


def official_problems():
    return to_problems(read_jsonl(FIXTURES / "official_rows.jsonl"))


def wrong_dependency(problem) -> str | None:
    """The gold completion with its last step also using an earlier letter the gold step does not use."""
    gold = make_completion(problem.solution)
    steps = step_verdicts(gold, problem.solution).steps
    last = steps[-1]
    other = next((s for s in steps[:-1] if s.name not in last.dependencies), None)
    if other is None:
        return None
    head = f"so {last.variable} = "
    cut = gold.index(head, last.start) + len(head)
    return gold[:cut] + f"{other.variable} - {other.variable} + " + gold[cut:]


def crafted_completions(problem, n: int, shift: int) -> list[str]:
    gold = make_completion(problem.solution)
    kinds = [
        gold,
        wrong_dependency(problem) or gold,
        f" </solution> <answer> {problem.answer} </answer>",
        f" {SCRIPT} Define junk as Z; so Z = 99. </solution> <answer> 99",
        gold.replace("Define", "Define extra thing as q; so q = 3. Define", 1),
    ]
    return [kinds[(j + problem.index + shift) % len(kinds)] for j in range(n)]


def write_eval_folder(path: Path, problems, n: int = 6, shift: int = 0, model: str = "runs/x/model") -> Path:
    """results.json, samples.jsonl and problems.jsonl as `interplay-hf eval` writes them, from crafted completions."""
    path.mkdir(parents=True, exist_ok=True)
    records, samples = [], []
    for p in problems:
        record, rows = score_problem(p, crafted_completions(p, n, shift), greedy=make_completion(p.solution))
        record.update(regime=regime_of(p.op, DEFAULT_REGIMES), generated_tokens=0, chance_p=0.25)
        records.append(record)
        samples += rows
    results = results_from_records(records, model=model, n=n, ks=(1, 2, n), intervals=BootstrapSpec(resamples=50))
    write_json(path / "results.json", results)
    write_jsonl(path / "samples.jsonl", samples)
    write_jsonl(path / "problems.jsonl", [problem_row(p) for p in problems])
    return path


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("inspect")
    problems = official_problems()
    return (write_eval_folder(root / "base", problems, shift=0, model="/home/someone/private/base"),
            write_eval_folder(root / "rl", problems, shift=2))


# ------------------------------------------------------------------------------ per-step verdicts (verify layer)


def assert_agrees_with_verify(completion: str, solution: str) -> None:
    report = step_verdicts(completion, solution)
    result = verify(completion, gold_solution=solution)
    assert report.result == result
    compared = [s for s in report.steps if "superseded" not in s.marks]
    assert {s.name for s in compared if "wrong_value" in s.marks} == set(result.value_mismatch)
    assert {s.name for s in compared if "wrong_dependency" in s.marks} == set(result.dependency_mismatch)
    assert {s.name for s in compared if "extra" in s.marks} == set(result.extra)
    assert sorted(g.name for g in report.missing) == result.missing
    for step in report.steps:
        assert report.text[step.start : step.end].lower().startswith("define"), (completion, step)


def test_step_verdicts_agree_with_verify_on_the_official_scored_completions(official_scored):
    for row in official_scored:
        assert_agrees_with_verify(row["completion"], row["solution"])


def test_step_verdicts_mark_each_kind_of_step():
    problem = next(p for p in official_problems() if p.op >= 4 and wrong_dependency(p))
    gold = make_completion(problem.solution)
    marks = [s.marks for s in step_verdicts(wrong_dependency(problem), problem.solution).steps]
    assert marks[-1] == ("wrong_dependency",) and all(m == ("verified",) for m in marks[:-1])
    first = step_verdicts(gold, problem.solution).steps[0]
    wrong_value = gold[: first.end].replace(f"= {int(first.gold.value)}.", f"= {int(first.gold.value) + 1}.") + gold[first.end:]
    assert step_verdicts(wrong_value, problem.solution).steps[0].marks == ("wrong_value",)
    twice = gold[: first.end] + " " + gold[first.start :]  # the first step written twice: the first copy is not compared
    report = step_verdicts(twice, problem.solution)
    assert report.steps[0].marks == ("superseded",) and report.steps[1].marks == ("verified",)
    dropped = step_verdicts(gold[: first.start] + gold[first.end :], problem.solution)
    assert [g.name for g in dropped.missing] == [first.name]
    extra = step_verdicts(" Define spare as Q; so Q = 1. " + gold, problem.solution)
    assert extra.steps[0].marks == ("extra",) and extra.steps[0].gold is None
    assert step_verdicts(gold).steps[0].marks == ("unchecked",)  # no gold graph to compare with
    for text in (wrong_value, twice, " <b>" + gold, "", "Define a as"):
        assert_agrees_with_verify(text, problem.solution)


def step_text(report, step) -> str:
    return report.text[step.start : step.end]


def test_offsets_index_the_text_with_its_tags_and_javascript_offsets_count_utf16():
    from interplay_hf.evaluation.inspector.data import sample_view

    problem = official_problems()[0]
    gold = make_completion(problem.solution)
    text = "😀 <i>x</i> " + gold
    report = step_verdicts(text, problem.solution)
    assert [text[s.start : s.end] for s in report.steps] == [
        s_text for s_text in re.findall(r"Define .*?(?= Define|\s*</solution>)", gold)]
    view, changed = sample_view(problem, {"sample": 0, "completion": text, "verdict": report.result.to_dict()}, [])
    units = text.encode("utf-16-le")
    for (start, end, marks, node, *_), step in zip(view["steps"], report.steps, strict=True):
        assert units[2 * start : 2 * end].decode("utf-16-le") == step_text(report, step)  # JavaScript's slice(start, end)
        assert marks == "verified" and node == [g.name for g in report.gold_steps].index(step.name)
    assert not changed


# ------------------------------------------------------------------------------ the payload (pure)


def test_payload_copies_the_overview_and_marks_every_shown_sample(two_runs):
    base, rl = two_runs
    folders = [load_eval_folder(base, max_samples=2), load_eval_folder(rl, max_samples=2)]
    payload = build_payload(folders, ["base", "rl"])
    results = json.loads((base / "results.json").read_text())
    run = payload["runs"][0]
    assert run["overview"]["per_op"]["4"]["process_pass@k"] == results["summary"]["per_op"]["4"]["process_pass@k"]
    assert run["overview"]["overall"]["outcome_pass@k_ci"] == results["summary"]["overall"]["outcome_pass@k_ci"]
    assert run["model"] == "…/private/base"  # never the absolute path
    assert payload["compare_note"] is None and len(payload["problems"]) == 57
    samples = read_jsonl(base / "samples.jsonl")
    for record, shown in zip(results["problems"], run["problems"]):
        rows = [r for r in samples if r["index"] == record["index"] and r["sample"] != "greedy"]
        assert shown["process_correct"] == record["process_correct"]
        assert shown["status"]["verified"] == sum(r["verdict"]["process_verified"] for r in rows)
        assert [s["sample"] for s in shown["samples"]] == [0, 1, "greedy"]
        for sample in shown["samples"]:
            row = next(r for r in samples if r["index"] == record["index"] and r["sample"] == sample["sample"])
            gold = {"solution": [folders[0].gold[record["id"]].solution], "answer": [record["answer"]]}
            assert sample["rewards"] == [round(fn([row["completion"]], **gold)[0], 4) for fn in REWARD_FUNCS.values()]
            assert sample["status"] == ("verified" if row["verdict"]["process_verified"] else
                                        "right_unverified" if row["verdict"]["outcome"] else "wrong")
    marks = {m for p in run["problems"] for s in p["samples"] for st in s["steps"] for m in st[2].split()}
    assert {"verified", "wrong_dependency", "extra"} <= marks
    assert payload["rewards"] == list(REWARD_FUNCS)
    problem = payload["problems"][results["problems"][0]["id"]]  # the gold steps, each at its place in the solution
    assert [problem["solution"][s:e] for s, e, _ in problem["steps"]] == re.findall(r"Define .*?\.(?= Define| Answer)",
                                                                                   problem["solution"])
    everything = build_payload([load_eval_folder(base, max_samples=None)], ["base"])["runs"][0]
    assert everything["samples_shown"] == everything["samples_saved"] == 57 * 7
    assert "one run" in build_payload(folders[:1], ["base"])["compare_note"]


def test_runs_on_other_problems_turn_the_compare_view_off(two_runs, tmp_path):
    other = write_eval_folder(tmp_path / "other", official_problems()[:20])
    payload = build_payload([load_eval_folder(two_runs[0], 1), load_eval_folder(other, 1)], ["base", "other"])
    assert payload["compare_note"].startswith("compare is off: base and other were evaluated on different problems")


def test_the_page_is_deterministic_escaped_and_free_of_paths_and_tokens(two_runs, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", FAKE_TOKEN)
    folder = tmp_path / "leaky"
    shutil.copytree(two_runs[0], folder)
    rows = read_jsonl(folder / "samples.jsonl")
    rows[0]["completion"] += f" my token is {FAKE_TOKEN}"
    write_jsonl(folder / "samples.jsonl", rows)
    first = write_inspector([folder], tmp_path / "a.html").read_bytes()
    assert write_inspector([folder], tmp_path / "b.html").read_bytes() == first  # same folders, same bytes
    page = first.decode("utf-8")
    assert page.count("<script") == 2  # the payload and the page's own code: the completions' tags are data
    payload = decode_payload(page)
    texts = [s["text"] for p in payload["runs"][0]["problems"] for s in p["samples"]]
    assert any(SCRIPT in t for t in texts)
    assert FAKE_TOKEN not in json.dumps(payload) and "<redacted>" in texts[0]
    assert "/home/someone" not in json.dumps(payload) and str(tmp_path) not in json.dumps(payload)


# ------------------------------------------------------------------------------ bad input: one line naming the file


def test_bad_eval_folders_are_refused_naming_the_file(two_runs, tmp_path):
    base, rl = two_runs
    no_samples = tmp_path / "no_samples"
    no_samples.mkdir()
    shutil.copy(base / "results.json", no_samples)
    with pytest.raises(ConfigError, match=r"no_samples/samples\.jsonl: missing"):
        load_eval_folder(no_samples)
    mixed = tmp_path / "mixed"  # rl's samples beside base's results: the counts give them away
    shutil.copytree(base, mixed)
    shutil.copy(rl / "samples.jsonl", mixed / "samples.jsonl")
    with pytest.raises(ConfigError, match=r"mixed/samples\.jsonl: its samples belong to another run"):
        load_eval_folder(mixed)
    few = tmp_path / "few"
    write_eval_folder(few, official_problems()[:5])
    shutil.copy(few / "results.json", mixed / "results.json")
    with pytest.raises(ConfigError, match=r"samples\.jsonl: its samples belong to another run .*is not problem"):
        load_eval_folder(mixed)
    no_gold = tmp_path / "no_gold"
    shutil.copytree(few, no_gold)
    (no_gold / "problems.jsonl").unlink()
    with pytest.raises(ConfigError, match=r"no_gold/problems\.jsonl: missing, and the eval set"):
        load_eval_folder(no_gold)
    torn = tmp_path / "torn"
    shutil.copytree(few, torn)
    with open(torn / "samples.jsonl", "a") as f:
        f.write("{not json\n")
    with pytest.raises(ConfigError, match=r"torn/samples\.jsonl: line \d+ is not JSON"):
        load_eval_folder(torn)


def test_inspect_command_writes_the_page_and_refuses_bad_input_in_one_line(two_runs, tmp_path, capsys):
    from interplay_hf.cli import main

    out = tmp_path / "page" / "inspect.html"
    code = main(["inspect", str(two_runs[0]), str(two_runs[1]), "--output", str(out), "--labels", "base,rl",
                 "--max-samples", "1"])
    assert code == 0 and "inspected 2 run(s)" in capsys.readouterr().out
    payload = decode_payload(out.read_text(encoding="utf-8"))
    assert [r["label"] for r in payload["runs"]] == ["base", "rl"]
    assert all(len(p["samples"]) == 2 for p in payload["runs"][1]["problems"])  # sample 0 and the greedy decode
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["inspect", str(empty), "--output", str(tmp_path / "x.html")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "results.json" in err and "Traceback" not in err
    with pytest.raises(SystemExit) as exit_info:  # argparse's one line: the two caps exclude each other
        main(["inspect", str(two_runs[0]), "--output", str(out), "--all-samples", "--max-samples", "2"])
    assert exit_info.value.code == 2 and "not allowed with argument" in capsys.readouterr().err


# ------------------------------------------------------------------------------ eval and report write and link it


def test_eval_writes_problems_and_the_page_beside_results_md(tiny_model_dir, tmp_path, monkeypatch):
    from test_eval_run import cfg_for, scripted

    from interplay_hf.evaluation.runner import evaluate

    scripted(monkeypatch)
    evaluate(cfg_for(tiny_model_dir, tmp_path / "eval", ops="2-3", n=3, k="1,3"))
    folder = tmp_path / "eval"
    assert "[inspect.html](inspect.html)" in (folder / "results.md").read_text()
    payload = decode_payload((folder / "inspect.html").read_text(encoding="utf-8"))
    assert payload["runs"][0]["label"] == "eval" and len(payload["runs"][0]["problems"]) == 6
    assert [r["id"] for r in read_jsonl(folder / "problems.jsonl")] == list(payload["problems"])
    scripted(monkeypatch)
    evaluate(cfg_for(tiny_model_dir, tmp_path / "quiet", ops="2", n=2, k="1", inspect=False))
    assert not (tmp_path / "quiet" / "inspect.html").exists()
    assert "inspect.html" not in (tmp_path / "quiet" / "results.md").read_text()


def test_report_writes_the_page_of_the_compared_runs_and_says_when_it_cannot(two_runs, tmp_path):
    from interplay_hf.evaluation.compare import compare_runs

    spec = BootstrapSpec(resamples=20)
    compare_runs([str(d) for d in two_runs], ["base", "rl"], tmp_path / "report", intervals=spec)
    assert "[inspect.html](inspect.html)" in (tmp_path / "report" / "report.md").read_text()
    assert [r["label"] for r in decode_payload((tmp_path / "report" / "inspect.html").read_text())["runs"]] == ["base", "rl"]
    counts_only = tmp_path / "counts_only"
    counts_only.mkdir()
    shutil.copy(two_runs[1] / "results.json", counts_only)
    compare_runs([str(two_runs[0]), str(counts_only)], ["base", "rl"], tmp_path / "report2", intervals=spec)
    assert "No inspector page: " in (tmp_path / "report2" / "report.md").read_text()
    assert not (tmp_path / "report2" / "inspect.html").exists()


# ------------------------------------------------------------------------------ the page in a real browser


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium(page: Path, fragment: str, *args: str) -> str:
    """The DOM (or nothing, for a screenshot) of ``page#fragment`` after its script ran, in headless Chromium."""
    with tempfile.TemporaryDirectory(prefix="inspect-chromium-") as profile:
        proc = subprocess.run([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--virtual-time-budget=10000",
                               *args, f"{page.resolve().as_uri()}#{fragment}"],
                              capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium; .ci/run does it)")
def test_the_page_in_headless_chromium(two_runs, tmp_path):
    page = write_inspector(list(two_runs), tmp_path / "inspect.html", ["base", "rl"])
    dom = chromium(page, "view=overview", "--dump-dom")
    assert 'data-ready="1"' in dom
    overall = re.search(r'<tr data-row="all:all">(.*?)</tr>', dom).group(1)  # base's table comes first
    assert '<td data-col="problems">57</td>' in overall
    results = json.loads((two_runs[0] / "results.json").read_text())
    assert f"{100 * results['summary']['overall']['process_pass@k']['1']:.1f}" in overall

    every = re.search(r'id="problem-count" data-count="(\d+)" data-total="(\d+)"', chromium(page, "view=problems", "--dump-dom"))
    op4 = re.search(r'id="problem-count" data-count="(\d+)"', chromium(page, "view=problems&op=4", "--dump-dom"))
    assert int(every.group(1)) == int(every.group(2)) == 57 and int(op4.group(1)) == 3  # the filter narrows the list

    problem = next(p for p in official_problems() if wrong_dependency(p))
    fragment = f"view=problem&problem={problem.id}"
    dom = chromium(page, fragment, "--dump-dom")
    assert re.search(r'<span class="step mark-wrong_dependency" data-marks="wrong_dependency"', dom)
    assert "&lt;script&gt;alert('x')&lt;/script&gt;" in dom and dom.count("<script") == 2  # shown as text
    shot = Path(tempfile.mkdtemp(prefix="inspect-screenshot-")) / "inspector.png"
    chromium(page, fragment, f"--screenshot={shot}", "--window-size=1280,1100")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    print(f"inspector screenshot: {shot}")

    dom = chromium(page, "view=compare&sort=change_desc", "--dump-dom")
    assert 'id="compare-list"' in dom and "process pass rate rl − base" in dom
