"""The inspector at scale: page size, build time, and time until the page is interactive in headless Chromium.

    python benchmarks/bench_inspect.py [--quick] [--problems 200] [--n 128]

Writes an eval folder of ``--problems`` problems (ops 2-20, three contexts) x ``--n`` samples with the evaluation's
own scorer (a mix of gold, extra-step, answer-only and junk completions), then the page with the default sample cap
and with ``--all-samples``. For each page: its size, the CPU time to build it, and, when Chromium is installed, the
wall time from navigation until the page says it is ready (decoded, parsed, first view drawn), then until a filter
(`#view=problems&op=4`) has narrowed the list. The browser is driven over the DevTools protocol on a pipe
(``--remote-debugging-pipe``), so the clocks are real ones (``--virtual-time-budget`` would virtualise them).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))


def write_folder(folder: Path, num_problems: int, n: int) -> None:
    from interplay_hf.atomic_io import write_json, write_jsonl
    from interplay_hf.data import generate_problem
    from interplay_hf.data.text import make_completion
    from interplay_hf.evaluation.aggregate import summarize
    from interplay_hf.evaluation.inspector import problem_row
    from interplay_hf.evaluation.passk import DEFAULT_REGIMES, regime_of
    from interplay_hf.evaluation.problems import to_problems
    from interplay_hf.evaluation.scoring import score_problem
    from interplay_hf.evaluation.stats import BootstrapSpec

    rows = []
    for i in range(num_problems):
        p = generate_problem(op=2 + i % 19, context=("zoo", "teacher", "movie")[i % 3], seed=i)
        rows.append({"id": f"bench{i:05d}", "op": p.op, "context": p.context, "prompt": p.prompt,
                     "solution": p.solution, "answer": p.answer})
    problems = to_problems(rows)
    records, samples = [], []
    for p in problems:
        gold = make_completion(p.solution)
        kinds = [gold, gold.replace("Define", "Define spare as q; so q = 3. Define", 1),
                 f" </solution> <answer> {p.answer} </answer>", " Define junk as Z; so Z = 99. </solution> <answer> 99"]
        record, scored = score_problem(p, [kinds[(j * 7 + p.index) % 4] for j in range(n)], greedy=gold)
        record.update(regime=regime_of(p.op, DEFAULT_REGIMES), generated_tokens=0, chance_p=None)
        records.append(record)
        samples += scored
    ks = [1, 8, n] if n > 8 else [1, n]
    spec = BootstrapSpec(resamples=200)
    results = {"model": "bench", "subfolder": None, "revision": None, "data": "bench", "split": None, "n": n, "k": ks,
               "sampling": {"temperature": 0.7, "top_p": 1.0, "max_new_tokens": 1024, "seed": 0, "backend": "hf"},
               "regimes": DEFAULT_REGIMES, "chance": {}, "intervals": spec.record(), "versions": {}, "run": {},
               "problems": records, "summary": summarize(records, ks, DEFAULT_REGIMES, spec)}
    write_json(folder / "results.json", results)
    write_jsonl(folder / "samples.jsonl", samples)
    write_jsonl(folder / "problems.jsonl", [problem_row(p) for p in problems])


class DevTools:
    """Headless Chromium driven over ``--remote-debugging-pipe`` (fd 3: commands in, fd 4: replies out)."""

    def __init__(self, chromium: str, profile: str):
        to_chrome_r, self._w = os.pipe()
        self._r, from_chrome_w = os.pipe()

        def fds():  # in the child: the pipe ends at fds 3 and 4 (through copies: either may already be 3 or 4)
            read_end, write_end = os.dup(to_chrome_r), os.dup(from_chrome_w)
            os.dup2(read_end, 3)
            os.dup2(write_end, 4)

        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={profile}", "--remote-debugging-pipe", "about:blank"]
        # os.pipe() descriptors are not inherited; the two dup2'ed ones are (close_fds=False keeps them).
        self.proc = subprocess.Popen([chromium, *flags], preexec_fn=fds, close_fds=False,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._next, self._buffer = 0, b""
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]

    def call(self, method: str, session: str | None = None, **params):
        self._next += 1
        message = {"id": self._next, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._w, json.dumps(message).encode() + b"\0")
        while True:
            while b"\0" not in self._buffer:
                chunk = os.read(self._r, 1 << 20)
                if not chunk:
                    raise RuntimeError("chromium closed the pipe")
                self._buffer += chunk
            raw, self._buffer = self._buffer.split(b"\0", 1)
            reply = json.loads(raw)
            if reply.get("id") == self._next:
                if "error" in reply:
                    raise RuntimeError(reply["error"])
                return reply.get("result", {})

    def evaluate(self, expression: str):
        return self.call("Runtime.evaluate", self.session, expression=expression, returnByValue=True)["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 120.0) -> float:
        start = time.perf_counter()
        while not self.evaluate(expression):
            if time.perf_counter() - start > timeout:
                raise TimeoutError(expression)
            time.sleep(0.01)
        return time.perf_counter() - start

    def close(self):
        self.proc.kill()
        self.proc.wait()


def time_in_browser(chromium: str, page: Path) -> tuple[float, float]:
    with tempfile.TemporaryDirectory(prefix="bench-inspect-") as profile:
        tools = DevTools(chromium, profile)
        try:
            start = time.perf_counter()
            tools.call("Page.navigate", tools.session, url=page.resolve().as_uri() + "#view=problems")
            ready = tools.wait_for("document.body && document.body.getAttribute('data-ready') === '1'")
            ready = time.perf_counter() - start
            before = tools.evaluate("document.getElementById('problem-count').getAttribute('data-count')")
            tools.evaluate("location.hash = 'view=problems&op=4'")
            filtered = tools.wait_for("document.getElementById('problem-count').getAttribute('data-count') !== "
                                      f"'{before}'")
            return ready, filtered
        finally:
            tools.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--problems", type=int, default=200)
    parser.add_argument("--n", type=int, default=128)
    parser.add_argument("--quick", action="store_true", help="20 problems x 16 samples")
    args = parser.parse_args()
    if args.quick:
        args.problems, args.n = 20, 16
    from interplay_hf.evaluation.inspector import decode_payload, write_inspector

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    with tempfile.TemporaryDirectory(prefix="bench-inspect-") as tmp:
        folder = Path(tmp) / "eval"
        folder.mkdir()
        write_folder(folder, args.problems, args.n)
        size = (folder / "samples.jsonl").stat().st_size
        print(f"{args.problems} problems x {args.n} samples; samples.jsonl {size / 1e6:.1f} MB")
        for name, cap in (("default cap", 16), ("--all-samples", None)):
            page = Path(tmp) / f"{name.strip('-').replace(' ', '_')}.html"
            cpu = time.process_time()
            write_inspector([folder], page, ["bench"], max_samples=cap)
            cpu = time.process_time() - cpu
            payload = json.dumps(decode_payload(page.read_text(encoding="utf-8")), ensure_ascii=False, separators=(",", ":"))
            line = (f"{name:>13}: page {page.stat().st_size / 1e6:.2f} MB (JSON {len(payload.encode()) / 1e6:.1f} MB), "
                    f"built in {cpu:.1f} s CPU")
            if chromium:
                ready, filtered = time_in_browser(chromium, page)
                line += f"; headless Chromium: ready {ready:.2f} s after navigation, a filter applied in {filtered:.3f} s"
            else:
                line += "; Chromium not installed (apt-get install chromium): browser times skipped"
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
