"""Edge-of-competence selection: the ops (and problems) where RL has something to learn.

GRPO learns from a prompt only when its group of G samples gets *different* rewards; with success
probability p that happens with probability ``1 - p^G - (1 - p)^G``. Too easy (p ≈ 1) and too hard
(p ≈ 0) ops give no signal. The paper builds its RL set at the base model's edge of competence: ops
where pass@1 is low but pass@k is clearly non-zero. Defaults (all on process-verified correctness,
so a lucky final number does not count):

* ``pass1_max = 0.5`` — the base model does not already solve the op reliably (above 0.5 most groups
  are all-correct at G = 8 … 16, and RL mostly sharpens what is there);
* ``passk_min = 0.1`` at ``k = 32`` — at least a tenth of the problems are solved in 32 tries, so a
  GRPO group of 8–16 sees a reward on a useful share of prompts (below that most groups are all-zero);
* ``chance_margin = 0.05`` — pass@k beats the blind-guess baseline by 5 points; this only bites for
  ``metric="outcome"`` at small op, where guessing from answers 1–4 reaches pass@k ≈ 1.

Each selected op reports the expected share of informative GRPO groups, mean(1 - p^G - (1-p)^G)
with p = c/n per problem, so the thresholds can be judged by what RL will actually see.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from interplay_hf.errors import ConfigError
from interplay_hf.evaluation.chance import chance_pass_at_k
from interplay_hf.evaluation.passk import mean, pass_at_k
from interplay_hf.evaluation.results_schema import Edge, EdgeSelection
from interplay_hf.inputs import check_number


@dataclass
class EdgeCriteria:
    k: int = field(default=32, metadata={"help": "pass@k is measured at this k (≤ n)."})
    pass1_max: float = field(default=0.5, metadata={"help": "Select an op only if its pass@1 ≤ this."})
    passk_min: float = field(default=0.1, metadata={"help": "... and its pass@k ≥ this ..."})
    chance_margin: float = field(default=0.05, metadata={"help": "... and pass@k ≥ chance pass@k + this margin."})
    metric: str = field(default="process", metadata={"help": "Correctness used: 'process' (verified) or 'outcome'."})
    group_size: int = field(default=8, metadata={"help": "GRPO group size for the informative-group share (report only)."})

    def __post_init__(self) -> None:
        if self.metric not in ("process", "outcome"):
            raise ConfigError(f"--metric must be 'process' or 'outcome', got {self.metric!r}")
        if self.k < 1:
            raise ConfigError(f"--k must be ≥ 1 for edge selection, got {self.k}")
        for name in ("pass1_max", "passk_min"):
            check_number(getattr(self, name), f"--{name.replace('_', '-')}", low=0, high=1, meaning="a rate")
        check_number(self.chance_margin, "--chance-margin", low=-1, high=1, meaning="a difference of two rates")
        if self.group_size < 2:
            raise ConfigError(f"--group-size must be ≥ 2, got {self.group_size}")


def _correct(record: dict, metric: str) -> int:
    return record["process_correct"] if metric == "process" else record["outcome_correct"]


def informative_share(p: float, group_size: int) -> float:
    """Probability that a GRPO group of ``group_size`` samples has mixed rewards."""
    return 1.0 - p**group_size - (1.0 - p) ** group_size


def select_edge(records: Sequence[dict], criteria: EdgeCriteria, ops: Sequence[int] | None = None) -> EdgeSelection:
    """Per-op statistics and the selected ops / problems (the content of edge.json)."""
    if not records:
        raise ConfigError("select-edge: no evaluated problems (check --ops and the eval set)")
    n_min = min(r["n"] for r in records)
    if criteria.k > n_min:
        raise ConfigError(f"select-edge: --k {criteria.k} exceeds the samples per problem ({n_min}); raise --n or lower --k")
    by_op: dict[int, list[dict]] = {}
    for r in records:
        if ops is None or r["op"] in ops:
            by_op.setdefault(r["op"], []).append(r)
    if not by_op:
        raise ConfigError(f"select-edge: the results hold no problem with op in {list(ops or [])}")
    k, metric = criteria.k, criteria.metric
    per_op, selected = {}, []
    for op in sorted(by_op):
        rs = by_op[op]
        pass1 = mean(pass_at_k(r["n"], _correct(r, metric), 1) for r in rs)
        passk = mean(pass_at_k(r["n"], _correct(r, metric), k) for r in rs)
        chance = mean(chance_pass_at_k(r["chance_p"], k) for r in rs) if all(r.get("chance_p") is not None for r in rs) else 0.0
        share = mean(informative_share(_correct(r, metric) / r["n"], criteria.group_size) for r in rs)
        checks = {
            "pass@1<=pass1_max": pass1 <= criteria.pass1_max,
            "pass@k>=passk_min": passk >= criteria.passk_min,
            "pass@k>=chance+margin": passk >= chance + criteria.chance_margin,
        }
        ok = all(checks.values())
        per_op[str(op)] = {
            "num_problems": len(rs),
            "pass@1": pass1,
            f"pass@{k}": passk,
            f"chance@{k}": chance,
            "informative_group_share": share,
            "checks": checks,
            "selected": ok,
        }
        if ok:
            selected.append(op)
    # Problems the base model solves sometimes but not reliably (use a pool set, not the test set, for these).
    problems = [
        r["id"]
        for op in selected
        for r in by_op[op]
        if 0 < _correct(r, metric) and _correct(r, metric) / r["n"] <= criteria.pass1_max
    ]
    return {
        "criteria": asdict(criteria),
        "selected_ops": selected,
        "per_op": per_op,
        "selected_problem_ids": problems,
    }


def edge_markdown(edge: dict) -> str:
    c = edge["criteria"]
    k = c["k"]
    lines = [
        "# Edge-of-competence selection",
        "",
        f"Metric: {c['metric']} · select when pass@1 ≤ {c['pass1_max']}, pass@{k} ≥ {c['passk_min']} and "
        f"pass@{k} ≥ chance + {c['chance_margin']}. Selected ops: **{edge['selected_ops'] or 'none'}**.",
        "",
        f"| op | N | pass@1 | pass@{k} | chance@{k} | informative GRPO groups (G={c['group_size']}) | selected |",
        "|---|---|---|---|---|---|---|",
    ]
    for op, s in edge["per_op"].items():
        lines.append(
            f"| {op} | {s['num_problems']} | {100 * s['pass@1']:.1f} | {100 * s[f'pass@{k}']:.1f} | "
            f"{100 * s[f'chance@{k}']:.1f} | {100 * s['informative_group_share']:.1f} | {'yes' if s['selected'] else ''} |"
        )
    return "\n".join(lines) + "\n"


def rl_data_recipe(selected_ops: Sequence[int], contexts: Sequence[str], num_problems: int, seed: int,
                   dedup_against: Sequence[str] = (), source: str = "", chat: bool = False) -> dict:
    """The data recipe (schema of ``interplay_hf.data.recipe``, recipes/data/README.md) of the RL training set:
    ``num_problems`` fresh problems, ops uniform over the selected ones, contexts uniform, RL columns,
    deduplicated against the eval set when it is a saved dataset.

    Kept in one function so that a change of the recipe schema touches only this place.
    """
    recipe: dict = {
        "name": "rl_edge_of_competence",
        "seed": seed,
        "description": f"RL prompts at the base model's edge of competence: ops {list(selected_ops)} "
                       f"(selected by `interplay-hf select-edge`{' from ' + source if source else ''}).",
        "splits": {
            "train": {
                "size": num_problems,
                "ops": [int(op) for op in selected_ops],
                "contexts": list(contexts),
                "columns": "rl",
            }
        },
    }
    if dedup_against:
        recipe["dedup_against"] = list(dedup_against)
    if chat:  # the base model was evaluated through its chat template: train it on the same prompts
        recipe["prompt_format"] = "chat"
    return recipe


def write_rl_recipe(path: str | Path, recipe: dict) -> Path:
    import yaml

    from interplay_hf.atomic_io import write_text

    return write_text(path, yaml.safe_dump(recipe, sort_keys=False, allow_unicode=True))


def _eval_dataset_dirs(data: str | None, results_path: str) -> list[str]:
    """Saved eval datasets to deduplicate the RL set against: the --data dir, or the dataset built from a recipe."""
    dirs = []
    if data and Path(data).is_dir():
        dirs.append(str(Path(data).resolve()))
    built = Path(results_path).parent / "eval_data"
    if built.is_dir():
        dirs.append(str(built.resolve()))
    return dirs


def select_edge_command(criteria: EdgeCriteria, output_dir: str | Path, eval_cfg=None, results_path: str | None = None,
                        ops: str | Sequence[int] | None = None, rl_problems: int = 10000, rl_seed: int = 1234,
                        rl_contexts: Sequence[str] | None = None, log=print) -> Edge | None:
    """Evaluate the base model (or reuse ``results_path``), select the edge and write edge.json, edge.md and
    ``rl_data.yaml`` (the data recipe of the RL set). Returns edge.json's content (None on non-main ranks)."""
    from interplay_hf.atomic_io import write_json, write_text
    from interplay_hf.evaluation.aggregate import load_results
    from interplay_hf.evaluation.passk import parse_int_list

    op_list = parse_int_list(ops, "--ops")
    if rl_problems <= 0:
        raise ConfigError(f"--rl-problems must be positive, got {rl_problems}")
    if results_path is not None:
        results = load_results(results_path)
        source = {"results": str(results_path)}
    else:
        if eval_cfg is None:
            raise ConfigError("select-edge: give --model and --data, or --results")
        if criteria.k > eval_cfg.n:
            raise ConfigError(f"select-edge: --k {criteria.k} exceeds --n {eval_cfg.n}; raise --n or lower --k")
        from interplay_hf.evaluation.runner import evaluate

        results = evaluate(eval_cfg, log=log)
        if results is None:  # not the main process
            return None
        source = {"results": str(Path(eval_cfg.output_dir) / "results.json")}
    edge = select_edge(results["problems"], criteria, op_list)
    contexts = sorted({r["context"] for r in results["problems"]})
    edge: Edge = {"model": results["model"], "subfolder": results["subfolder"], "n": results["n"],
                  "contexts": contexts, **source, **edge}
    out = Path(output_dir)
    if edge["selected_ops"]:
        eval_dirs = _eval_dataset_dirs(results["data"], source["results"])
        recipe = rl_data_recipe(edge["selected_ops"], rl_contexts or contexts, rl_problems, rl_seed, eval_dirs,
                                source["results"], chat=bool(results["sampling"].get("chat")))
        from interplay_hf.data.recipe import recipe_from_dict

        recipe_from_dict(recipe)  # the data layer accepts it (unknown contexts etc. fail here, not at build time)
        edge["rl_data_recipe"] = str(write_rl_recipe(out / "rl_data.yaml", recipe))
    else:
        edge["rl_data_recipe"] = None
        log("no op met the criteria: no RL data recipe written (relax --pass1-max/--passk-min, or check the model)")
    write_json(out / "edge.json", edge)
    write_text(out / "edge.md", edge_markdown(edge))
    return edge
