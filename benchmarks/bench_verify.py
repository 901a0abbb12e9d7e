"""Verifier throughput and worst case, against the official regex approach measured in the same run.

    python benchmarks/bench_verify.py [--quick] [--testdata DIR] [--generated N] [--before-rev REV]

Rows: gold and perturbed completions at op 10 and op 20 (the official rows from the shared testdata,
plus ``--generated`` problems per op from ``interplay_hf.data`` when it is importable). For each set:
completions/s of ``verify`` (gold graph cached, as in GRPO where one prompt has many completions;
parser memo tables warm, and cold), and of the baseline — the official parser's regexes
(:mod:`interplay_hf.verify.naive`) + the same comparison. Then the worst time over repeated calls on
100 KB adversarial strings (the official ``DEFINE_RE`` needs minutes on the first one; the baseline is
timed on 2-4 KB versions to show its growth). Times are CPU time of this process (``time.process_time``):
on a shared machine the wall clock also counts other processes. Targets: ≥ 10,000 gold completions/s
at op 20 on one core; ≤ 5 ms on 100 KB. ``--before-rev HEAD`` also times the verifier as committed
at that git revision (read with ``git show`` into a temporary package), for before/after in one run.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TESTDATA = os.environ.get("INTERPLAY_TESTDATA", str(REPO_ROOT.parent / "shared" / "testdata"))


def load_rows(testdata: str, generated: int) -> dict[int, list[dict]]:
    rows: dict[int, list[dict]] = {10: [], 20: []}
    path = Path(testdata) / "official_rows.jsonl"
    if not path.is_file():
        path = REPO_ROOT / "tests" / "fixtures" / "official_rows.jsonl"
    with open(path, encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            if row["op"] in rows:
                rows[row["op"]].append({"solution": row["solution"], "answer": row["answer"]})
    if generated:
        try:
            from interplay_hf.data import generate_problem
        except ImportError:
            print("(interplay_hf.data not importable: official rows only)")
        else:
            for op in rows:
                for seed in range(generated):
                    context = ("zoo", "teacher", "movie")[seed % 3]
                    p = generate_problem(op=op, context=context, seed=1000 + seed)
                    rows[op].append({"solution": p.solution, "answer": str(p.answer)})
    return rows


def load_verify_at(rev: str, folder: str):
    """``interplay_hf.verify`` as committed at ``rev``, imported as a separate package (``verify_at_rev``)."""
    import importlib

    names = subprocess.run(
        ["git", "ls-tree", "--name-only", f"{rev}:interplay_hf/verify"],
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    package = Path(folder) / "verify_at_rev"
    package.mkdir()
    for name in names:
        if name.endswith(".py"):
            source = subprocess.run(
                ["git", "show", f"{rev}:interplay_hf/verify/{name}"],
                cwd=REPO_ROOT,
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            (package / name).write_text(source.replace("interplay_hf.verify", "verify_at_rev"), encoding="utf-8")
    sys.path.insert(0, folder)
    return importlib.import_module("verify_at_rev")


def memo_clearer(parser_module):
    """A function emptying the parser's memo tables (everything with ``cache_clear``): the 'cold' runs."""
    clears = [
        obj.cache_clear
        for obj in vars(parser_module).values()
        if hasattr(obj, "cache_clear") and not isinstance(obj, type)
    ]

    def clear() -> None:
        for cache_clear in clears:
            cache_clear()

    return clear


def gold_completion(solution: str) -> str:
    body, _, tail = solution.rpartition("Answer:")
    return f" {body.strip()} </solution> <answer> {tail.strip().rstrip('.')}"


def perturb(solution: str, rng: random.Random) -> str:
    """One of the error types of official_scored.jsonl, applied to the gold completion."""
    body, _, tail = solution.rpartition("Answer:")
    answer = tail.strip().rstrip(".")
    steps = [s.strip() for s in body.split("Define ") if s.strip()]
    kind = rng.choice(["wrong_answer", "drop", "swap", "value", "duplicate", "junk", "truncate"])
    if kind == "wrong_answer":
        answer = str(int(answer) + 1)
    elif kind == "drop" and len(steps) > 1:
        steps.pop(rng.randrange(len(steps) - 1))
    elif kind == "swap" and len(steps) > 1:
        i = rng.randrange(len(steps) - 1)
        steps[i], steps[i + 1] = steps[i + 1], steps[i]
    elif kind == "value":
        i = rng.randrange(len(steps))
        steps[i] = steps[i][::-1].replace(".", ".9", 1)[::-1] if steps[i].endswith(".") else steps[i] + "9"
    elif kind == "duplicate":
        i = rng.randrange(len(steps))
        steps.insert(i, steps[i])
    elif kind == "junk":
        steps.insert(rng.randrange(len(steps) + 1), "Hmm, 17 apples? Let me think.")
    body = " ".join(s if s.startswith("Hmm") else "Define " + s for s in steps)
    text = f" {body} </solution> <answer> {answer}"
    if kind == "truncate":
        text = text[: rng.randrange(len(text) // 2, len(text))]
    return text


def naive_verify(completion: str, gold_graph, gold_answer: str):
    """The baseline: official regex parsing + the same comparison and answer checks."""
    import re

    from interplay_hf.verify import compare_graphs
    from interplay_hf.verify.naive import naive_parse_graph

    match = re.search(r"<answer>(.*?)</answer>", completion, flags=re.DOTALL | re.IGNORECASE)
    if match:
        pred = match.group(1).strip()
    else:
        pos = completion.lower().rfind("<answer>")
        pred = re.search(r"(.*?)(<|\n|$)", completion[pos + 8 :], flags=re.DOTALL).group(1).strip() if pos != -1 else ""
    diff = compare_graphs(gold_graph, naive_parse_graph(completion))
    return pred.strip().rstrip(".") == gold_answer, diff


def throughput(fn, items: list, min_seconds: float) -> float:
    """Items per CPU-second, looping over ``items`` until at least ``min_seconds`` of CPU time."""
    done = 0
    start = time.process_time()
    while True:
        for item in items:
            fn(item)
        done += len(items)
        elapsed = time.process_time() - start
        if elapsed >= min_seconds:
            return done / elapsed


def worst_seconds(fn, text: str, repeats: int) -> float:
    worst = 0.0
    for _ in range(repeats):
        start = time.process_time()
        fn(text)
        worst = max(worst, time.process_time() - start)
    return worst


def calibration() -> float:
    """µs for sum(range(1000)) (an idle modern core: ~6-8 µs), to read the figures on a loaded machine."""
    start = time.process_time()
    for _ in range(2000):
        sum(range(1000))
    return (time.process_time() - start) / 2000 * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short measurements (CI smoke run)")
    parser.add_argument("--testdata", default=DEFAULT_TESTDATA, help="folder with official_rows.jsonl")
    parser.add_argument("--generated", type=int, default=30, help="generated problems per op (0: official rows only)")
    parser.add_argument("--before-rev", default=None, help="also time the verifier committed at this git revision")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO_ROOT))

    from interplay_hf.verify import clear_gold_cache, parse_solution, verify
    from interplay_hf.verify import parser as verify_parser

    min_seconds = 0.3 if args.quick else 2.0
    repeats = 5 if args.quick else 30
    rng = random.Random(0)
    rows = load_rows(args.testdata, 0 if args.quick else args.generated)
    before = None
    if args.before_rev:
        folder = tempfile.mkdtemp(prefix="bench_verify_")
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        before = load_verify_at(args.before_rev, folder)
    print(f"calibration: sum(range(1000)) = {calibration():.1f} µs CPU")
    header = f"{'set':<16}{'n':>5}{'verify/s':>12}{'cold memo/s':>13}"
    if before is not None:
        header += f"{args.before_rev + ' /s':>12}{'cold /s':>10}{'speed-up':>10}"
    print(header + f"{'baseline/s':>12}{'ratio':>8}")

    clear_memo = memo_clearer(verify_parser)
    clear_before = memo_clearer(before.parser) if before is not None else None

    for op, op_rows in rows.items():
        for label in ("gold", "perturbed"):
            items = []
            for row in op_rows:
                texts = (
                    [gold_completion(row["solution"])]
                    if label == "gold"
                    else [perturb(row["solution"], rng) for _ in range(5)]
                )
                graph = parse_solution(row["solution"]).to_graph()
                items += [(t, row["solution"], row["answer"], graph) for t in texts]
            ours = throughput(lambda it: verify(it[0], gold_solution=it[1], gold_answer=it[2]), items, min_seconds)
            cold = throughput(
                lambda it: (clear_memo(), verify(it[0], gold_solution=it[1], gold_answer=it[2])), items, min_seconds
            )
            line = f"{'op ' + str(op) + ' ' + label:<16}{len(items):>5}{ours:>12,.0f}{cold:>13,.0f}"
            if before is not None:
                old = throughput(
                    lambda it: before.verify(it[0], gold_solution=it[1], gold_answer=it[2]), items, min_seconds
                )
                old_cold = throughput(
                    lambda it: (
                        clear_before(),
                        before.verify(it[0], gold_solution=it[1], gold_answer=it[2]),
                    ),
                    items,
                    min_seconds,
                )
                line += f"{old:>12,.0f}{old_cold:>10,.0f}{ours / old:>9.2f}x"
            base = throughput(lambda it: naive_verify(it[0], it[3], it[2]), items, min_seconds)
            print(line + f"{base:>12,.0f}{ours / base:>7.1f}x")
    clear_gold_cache()

    print("\nworst CPU time per call over", repeats, "repeats (verify on the full string, no truncation):")
    adversarial = {
        "Define + 'a ' * 51200 (100 KB)": "Define " + "a " * 51_200,
        "… + 'b;' (a match at the end)": "Define " + "a " * 51_200 + "b;",
        "' a' runs, improper then proper ;": "Define " + " a" * 25_000 + " 1; " + " a" * 25_000 + " b;",
        "'<' * 100 KB": "<" * 100_000,
        "'<answer>' * 12,500": "<answer>" * 12_500,
        "'x =' + 100 KB spaces": "Define y as x; x =" + " " * 100_000,
        "random bytes 100 KB": bytes(random.Random(1).randrange(256) for _ in range(100_000)).decode("latin-1"),
    }
    gold = rows[20][0]["solution"]
    worst_all = 0.0
    for name, text in adversarial.items():
        seconds = worst_seconds(lambda t: verify(t, gold_solution=gold, max_chars=None), text, repeats)
        worst_all = max(worst_all, seconds)
        print(f"  {name:<36}{len(text):>8} chars {seconds * 1e3:8.2f} ms")
    print(f"  worst: {worst_all * 1e3:.2f} ms (target ≤ 5 ms)")
    if before is not None:
        worst_before = max(
            worst_seconds(lambda t: before.verify(t, gold_solution=gold, max_chars=None), text, repeats)
            for text in adversarial.values()
        )
        print(f"  worst at {args.before_rev}: {worst_before * 1e3:.2f} ms")

    from interplay_hf.verify.naive import naive_define_matches

    print("baseline (official DEFINE_RE) on short versions of the first string:")
    for n in (500, 1000, 2000):
        text = "Define " + "a " * n
        seconds = worst_seconds(naive_define_matches, text, 1)
        ours = worst_seconds(lambda t: verify(t, gold_solution=gold), text, 3)
        print(f"  {len(text):>6} chars: baseline {seconds * 1e3:9.1f} ms   verify {ours * 1e3:6.3f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
