"""Per-problem edge selection: RL prompts picked from the base model's own samples.

``select-edge`` picks *ops*; the paper's RL data is at the model's edge of competence problem by problem. Here
a base model's evaluation of a candidate pool (``interplay-hf eval`` on one split) decides, per problem, whether
its process-verified hit count lies in ``[min_hits, max_hits]`` of ``n`` samples: solved sometimes, not always.
Those rows form the ``edge`` split. The ``control`` split is a seeded draw of as many rows from the whole pool,
selected or not: the same op and size without the selection, so "RL on selected prompts beats RL on unselected
prompts" differs in one factor only.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from interplay_hf.atomic_io import write_json
from interplay_hf.errors import ConfigError
from interplay_hf.evaluation.aggregate import load_results
from interplay_hf.evaluation.problems import row_id

SELECTION_FILE = "selection.json"


def _check_bounds(min_hits: int, max_hits: int, n: int) -> None:
    if not 1 <= min_hits <= max_hits <= n:
        raise ConfigError(f"--min-hits {min_hits} / --max-hits {max_hits}: need 1 <= min-hits <= max-hits <= n = {n}")


def _draw_order(ids: list[str], seed: int) -> list[str]:
    """A seeded order of the pool, from SHA-256 of (seed, id): the same for any machine and Python."""
    return sorted(ids, key=lambda i: hashlib.sha256(f"{seed}:{i}".encode()).hexdigest())


def select_problems(records: list[dict], min_hits: int, max_hits: int, seed: int) -> dict:
    """The selected ids (``edge``), a same-size seeded draw from the pool (``control``), and the counts."""
    if not records:
        raise ConfigError("select-problems: the evaluation holds no problems; evaluate the candidate pool first")
    n = {r["n"] for r in records}
    if len(n) != 1:
        raise ConfigError(f"select-problems: the evaluation mixes sample counts {sorted(n)}; evaluate with one --n")
    (samples,) = n
    _check_bounds(min_hits, max_hits, samples)
    edge = [r["id"] for r in records if min_hits <= r["process_correct"] <= max_hits]
    if not edge:
        raise ConfigError(f"select-problems: no problem has {min_hits}-{max_hits} verified hits of {samples}; "
                          "widen the range or evaluate more candidates")
    control = _draw_order([r["id"] for r in records], seed)[: len(edge)]
    hits = [r["process_correct"] for r in records]
    return {"n": samples, "min_hits": min_hits, "max_hits": max_hits, "seed": seed, "pool": len(records),
            "never_solved": sum(h == 0 for h in hits), "always_solved": sum(h == samples for h in hits),
            "edge": sorted(edge), "control": sorted(control),
            "control_in_edge": len(set(edge) & set(control))}


def write_selection(results_dir: str, dataset_dir: str, split: str, min_hits: int, max_hits: int, seed: int,
                    output_dir: str) -> dict:
    """Save ``output_dir`` as a DatasetDict with ``edge`` and ``control`` (the pool's rows) plus ``selection.json``."""
    import datasets

    out = Path(output_dir)
    ours = [out / name for name in ("dataset_dict.json", "edge", "control")]
    if any(p.exists() for p in ours) and not (out / SELECTION_FILE).is_file():  # never replace another dataset
        raise ConfigError(f"--output-dir {out}: holds a dataset this command did not write; choose another folder")
    results = load_results(results_dir)
    selection = select_problems(results["problems"], min_hits, max_hits, seed)
    try:
        pool = datasets.load_from_disk(dataset_dir)[split]
    except (FileNotFoundError, KeyError) as err:
        raise ConfigError(f"--dataset {dataset_dir} --split {split}: not a saved dataset with that split ({err})") from None
    ids = [row_id(row) for row in pool]
    missing = (set(selection["edge"]) | set(selection["control"])) - set(ids)
    if missing:
        raise ConfigError(f"--results {results_dir}: {len(missing)} evaluated problems are not in split {split!r} "
                          f"of {dataset_dir}; evaluate that split")
    picked = {name: pool.select([i for i, rid in enumerate(ids) if rid in set(selection[name])])
              for name in ("edge", "control")}
    datasets.DatasetDict(picked).save_to_disk(str(out))  # the folder is the dataset: a GRPO dataset_path
    write_json(out / SELECTION_FILE, selection)
    return selection
