"""The generator's output is frozen: ids of problems for ops 2-20 x every official context x both modes x 2 seeds.

Refactors and speed-ups of the generator (graph.py, render.py) must keep every problem byte-identical per
seed, because released datasets, dedup keys and resumed builds all rely on ``(op, context, mode, seed)``
naming one problem. A deliberate change to the generated text regenerates the fixture with
``python tests/test_data_snapshot.py --write`` and says so in its commit.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from interplay_hf.data import generate_problem, problem_answer
from interplay_hf.data.graph import MAX_OP, MIN_OP, MODES

SNAPSHOT = Path(__file__).parent / "fixtures" / "generator_snapshot.json"
CONTEXTS = ("zoo", "teacher", "movie")
SEEDS = (0, 1)


def current_ids() -> dict[str, list[str]]:
    """'op/context/mode' -> the ids of the problems for each seed in SEEDS."""
    return {
        f"{op}/{context}/{mode}": [generate_problem(op, context, mode, seed).id for seed in SEEDS]
        for op in range(MIN_OP, MAX_OP + 1)
        for context in CONTEXTS
        for mode in MODES
    }


def test_generated_problems_match_the_stored_snapshot():
    stored = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    current = current_ids()
    assert current.keys() == stored.keys()
    changed = [key for key in stored if current[key] != stored[key]]
    assert not changed, f"{len(changed)} of {len(stored)} (op/context/mode) cells changed, e.g. {changed[:5]}"


def test_problem_answer_is_the_generated_problems_answer():
    """The chance baseline's text-free path gives every problem's answer, in both modes."""
    for op in range(MIN_OP, MAX_OP + 1):
        for context in CONTEXTS:
            for mode in MODES:
                for seed in SEEDS:
                    assert problem_answer(op, context, mode, seed) == generate_problem(op, context, mode, seed).answer


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    lines = [f"{json.dumps(key)}: {json.dumps(ids)}" for key, ids in current_ids().items()]
    SNAPSHOT.write_text("{\n" + ",\n".join(lines) + "\n}\n", encoding="utf-8")
    print(f"wrote {SNAPSHOT}")
