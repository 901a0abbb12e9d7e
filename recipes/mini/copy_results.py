"""Copy an evaluation's results.json (per-problem counts, no samples) into the repository, naming the model and
data as the README's commands do (``runs/mini2/...``) instead of by this machine's absolute paths.

    python recipes/mini/copy_results.py SRC/results.json DST/results.json RUNS_DIR
"""

import json
import sys
from pathlib import Path


def main(source: str, target: str, runs_dir: str) -> None:
    results = json.loads(Path(source).read_text(encoding="utf-8"))
    prefix = str(Path(runs_dir).resolve()) + "/"
    for key in ("model", "data"):
        if isinstance(results.get(key), str) and results[key].startswith(prefix):
            results[key] = "runs/" + results[key][len(prefix):]
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    Path(target).write_text(json.dumps(results, indent=1, ensure_ascii=False, allow_nan=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit("usage: python recipes/mini/copy_results.py SRC/results.json DST/results.json RUNS_DIR")
    main(*sys.argv[1:])
