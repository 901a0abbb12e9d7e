"""Solution dependency graphs and their comparison (docs/verifier.md §2-3).

A graph maps each defined parameter *name* to its variable letter, value and the names it depends on;
letters are irrelevant to matching. The serialised form is the official gold-graph record
``{"nodes": [{"name", "variable", "value", "dependencies"}], "answer", "topological_order"}``.
"""

from __future__ import annotations

import json
import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any, NamedTuple

VALUE_TOLERANCE = 1e-6


class GraphNode(NamedTuple):
    """One parameter: its name, variable letter, value and the names it depends on."""

    name: str
    variable: str | None
    value: float | None
    dependencies: frozenset[str] = frozenset()


@dataclass
class SolutionGraph:
    """Parameter name → node (a name defined twice keeps its last definition), plus the final answer."""

    nodes: dict[str, GraphNode] = field(default_factory=dict)
    answer: float | None = None

    def __len__(self) -> int:
        return len(self.nodes)

    @classmethod
    def from_dict(cls, payload: dict[str, Any] | str) -> SolutionGraph:
        """Build from the official record (dict or JSON string); tolerant of missing keys."""
        if isinstance(payload, (str, bytes)):
            payload = json.loads(payload)
        if not isinstance(payload, dict):
            raise TypeError(f"gold_graph must be a dict or a JSON object string, got {type(payload).__name__}")
        if "graph" in payload and "nodes" not in payload:  # a whole build_gold_dependency_graphs record
            payload = payload["graph"] or {}
        nodes: dict[str, GraphNode] = {}
        for node in payload.get("nodes") or []:
            name = str(node["name"])
            nodes[name] = GraphNode(
                name=name,
                variable=node.get("variable"),
                value=_num(node.get("value")),
                dependencies=frozenset(str(d) for d in node.get("dependencies") or ()),
            )
        return cls(nodes=nodes, answer=_num(payload.get("answer")))

    def topological_order(self) -> list[str] | None:
        """Kahn's order over the known names, or ``None`` for a cyclic graph (as the official builder)."""
        indegree = dict.fromkeys(self.nodes, 0)
        followers: dict[str, list[str]] = {name: [] for name in self.nodes}
        for name, node in self.nodes.items():
            for dep in node.dependencies:
                if dep in indegree:
                    indegree[name] += 1
                    followers[dep].append(name)
        queue = deque(name for name, degree in indegree.items() if degree == 0)
        order: list[str] = []
        while queue:
            current = queue.popleft()
            order.append(current)
            for follower in followers[current]:
                indegree[follower] -= 1
                if indegree[follower] == 0:
                    queue.append(follower)
        return order if len(order) == len(self.nodes) else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "nodes": [
                {
                    "name": node.name,
                    "variable": node.variable,
                    "value": maybe_int(node.value),
                    "dependencies": sorted(node.dependencies),
                }
                for node in self.nodes.values()
            ],
            "answer": maybe_int(self.answer),
            "topological_order": self.topological_order(),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)


@dataclass
class GraphComparison:
    """What differs between a gold and a predicted graph (official ``DependencyGraphData.compare``)."""

    missing: list[str]
    extra: list[str]
    value_mismatch: list[str]
    dependency_mismatch: list[str]
    answer_mismatch: bool

    def penalty(self, num_gold_nodes: int) -> int:
        """The RL penalty: value + dependency + missing + min(extra, N) + answer mismatch."""
        n = max(num_gold_nodes, 1)
        return (
            len(self.value_mismatch)
            + len(self.dependency_mismatch)
            + len(self.missing)
            + min(len(self.extra), n)
            + int(self.answer_mismatch)
        )


def compare_graphs(gold: SolutionGraph, pred: SolutionGraph, tolerance: float = VALUE_TOLERANCE) -> GraphComparison:
    """Compare by parameter name; values within ``tolerance``; dependency *sets* must be equal."""
    gold_names, pred_names = gold.nodes.keys(), pred.nodes.keys()
    value_mismatch: list[str] = []
    dependency_mismatch: list[str] = []
    for name in sorted(gold_names & pred_names):
        g, p = gold.nodes[name], pred.nodes[name]
        if values_differ(g.value, p.value, tolerance):
            value_mismatch.append(name)
        if g.dependencies != p.dependencies:
            dependency_mismatch.append(name)
    return GraphComparison(
        missing=sorted(gold_names - pred_names),
        extra=sorted(pred_names - gold_names),
        value_mismatch=value_mismatch,
        dependency_mismatch=dependency_mismatch,
        answer_mismatch=values_differ(gold.answer, pred.answer, tolerance),
    )


def values_differ(gold: float | None, pred: float | None, tolerance: float) -> bool:
    if gold is None or pred is None:
        return (gold is None) != (pred is None)
    # NaN compares as "not different", exactly like the official ``abs(g - p) > tol``.
    return abs(gold - pred) > tolerance


def _num(value: Any) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        return None


def maybe_int(value: float | None) -> float | int | None:
    if value is None or not math.isfinite(value):
        return None  # keep the record strict JSON (no NaN/Infinity)
    if abs(value - round(value)) < 1e-9:
        return int(round(value))
    return value
