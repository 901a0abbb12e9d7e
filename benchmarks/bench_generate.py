"""Generator throughput and build memory.

    python benchmarks/bench_generate.py            # 1,000 problems per op, a 1M-row build (minutes)
    python benchmarks/bench_generate.py --quick    # seconds
    python benchmarks/bench_generate.py --quick --skip-build --baseline /path/to/other/checkout
        # CPU-time rates of this checkout and another one (e.g. a copy from before a change), in alternation

Prints problems/s at op 2, 10 and 20 in one process and with num_proc=2 through ``datasets``, next to the
official generator's ~150 problems/s (the figure the data issue quotes for the official code; it cannot run
here, so it is not re-measured), and the peak memory of a streaming build at two sizes (flat in N: rows go
to Arrow files in blocks of 1,000; what stays in memory is a keep-mask of one byte per row and, for splits
that later splits deduplicate against, their 16-hex-digit problem keys).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

OFFICIAL_PER_SEC = 150.0  # official generator, op 20, one process (issue figure)
TARGET_PER_SEC = 2000.0  # our target at op 20, one core


def single_process(op: int, n: int) -> tuple[float, float]:
    from interplay_hf.data import generate_problem

    wall, cpu = time.perf_counter(), time.process_time()
    for seed in range(n):
        generate_problem(op, "zoo", seed=seed).to_row()
    return n / (time.perf_counter() - wall), n / (time.process_time() - cpu)


def cpu_rates(root: Path, ops: tuple[int, ...], n: int) -> dict[int, float]:
    """Problems per CPU second (``process_time``, robust on a shared machine) of the checkout at ``root``, in a
    fresh process so that two checkouts can be compared in one run."""
    code = f"""
import json, time
from interplay_hf.data import generate_problem
rates = {{}}
for op in {list(ops)}:
    generate_problem(op, "zoo", seed=-1)  # warm-up: imports and caches
    start = time.process_time()
    for seed in range({n}):
        generate_problem(op, "zoo", seed=seed).to_row()
    rates[op] = {n} / (time.process_time() - start)
print(json.dumps(rates))
"""
    env = {**os.environ, "PYTHONPATH": str(root), "OMP_NUM_THREADS": "1"}  # cwd=root: its package comes first
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, env=env, check=True)
    return {int(k): v for k, v in json.loads(out.stdout.strip().splitlines()[-1]).items()}


def compare(baseline: Path, n: int, rounds: int = 2) -> None:
    """This checkout vs ``baseline``, alternating so both see the same machine load; best of ``rounds``."""
    ops, here = (2, 10, 20), Path(__file__).resolve().parents[1]
    best: dict[str, dict[int, float]] = {"this": {}, "baseline": {}}
    for _ in range(rounds):
        for name, root in (("baseline", baseline), ("this", here)):
            for op, rate in cpu_rates(root, ops, n).items():
                best[name][op] = max(best[name].get(op, 0.0), rate)
    print(f"{'per CPU second, 1 process':<34}{'this':>12}{'baseline':>10}{'ratio':>8}{'target':>8}")
    for op in ops:
        this, base = best["this"][op], best["baseline"][op]
        print(f"{f'op {op:>2}':<34}{this:>12.0f}{base:>10.0f}{this / base:>7.2f}x{TARGET_PER_SEC if op == 20 else '':>8}")
    print()


def with_datasets(op: int, n: int, num_proc: int) -> float:
    from interplay_hf.data.build import build_datasets

    recipe = {"name": f"bench_op{op}", "splits": {"train": {"size": n, "ops": op, "columns": "full"}}}
    start = time.perf_counter()
    build_datasets(recipe, save=False, num_proc=num_proc, verbose=False)
    return n / (time.perf_counter() - start)


def build_memory(n: int, num_proc: int) -> dict:
    """Peak RSS (MiB) of a fresh process that builds and saves an n-row op 2-10 pre-training split."""
    code = f"""
import json, resource, sys, tempfile, time
from interplay_hf.data.build import build_datasets
recipe = {{"name": "mem", "splits": {{"train": {{"size": {n}, "ops": "2-10", "columns": "pretrain"}}}}}}
with tempfile.TemporaryDirectory() as d:
    t = time.perf_counter()
    build_datasets(recipe, d + "/out", num_proc={num_proc}, verbose=False)
    secs = time.perf_counter() - t
self_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
kids_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({{"rows": {n}, "seconds": secs, "main_rss_mib": self_kib / 1024, "worker_rss_mib": kids_kib / 1024}}))
"""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small counts (seconds)")
    parser.add_argument("--build-sizes", type=int, nargs=2, metavar=("N1", "N2"),
                        help="rows of the two streaming builds (default 100000 1000000; --quick: 2000 8000)")
    parser.add_argument("--skip-build", action="store_true", help="only the generation rates")
    parser.add_argument("--baseline", type=Path, metavar="CHECKOUT",
                        help="also time another checkout of this repository (e.g. a copy from before a change)")
    args = parser.parse_args()
    n_single = 100 if args.quick else 1000
    n_parallel = 2000 if args.quick else 8000  # >= 2 blocks of 1,000 rows, so both processes work
    sizes = args.build_sizes or ((2_000, 8_000) if args.quick else (100_000, 1_000_000))

    if args.baseline:
        compare(args.baseline.resolve(), n_single)
    print(f"{'generation':<34}{'problems/s':>12}{'official':>10}{'ratio':>8}{'target':>8}")
    for op in (2, 10, 20):
        wall, cpu = single_process(op, n_single)
        print(f"{f'op {op:>2}, 1 process (wall)':<34}{wall:>12.0f}{OFFICIAL_PER_SEC:>10.0f}"
              f"{wall / OFFICIAL_PER_SEC:>7.1f}x{TARGET_PER_SEC if op == 20 else '':>8}")
        print(f"{f'op {op:>2}, 1 process (per CPU second)':<34}{cpu:>12.0f}{OFFICIAL_PER_SEC:>10.0f}"
              f"{cpu / OFFICIAL_PER_SEC:>7.1f}x")
    for op in (2, 10, 20):
        rate = with_datasets(op, n_parallel, 2)
        print(f"{f'op {op:>2}, num_proc=2 via datasets':<34}{rate:>12.0f}{2 * OFFICIAL_PER_SEC:>10.0f}"
              f"{rate / (2 * OFFICIAL_PER_SEC):>7.1f}x")
    if args.skip_build:
        return
    print()
    print(f"{'streaming build (op 2-10, num_proc=2)':<40}{'rows':>10}{'seconds':>9}{'peak RSS main':>15}"
          f"{'peak RSS worker':>17}")
    for n in sizes:
        m = build_memory(n, 2)
        print(f"{'':<40}{m['rows']:>10}{m['seconds']:>9.0f}{m['main_rss_mib']:>13.0f}Mi{m['worker_rss_mib']:>15.0f}Mi")
    print(f"(load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs: wall-clock rates fall when the "
          "machine is shared; 'per CPU second' does not)")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    main()
