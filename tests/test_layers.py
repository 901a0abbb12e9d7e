"""The package's layers (docs/architecture.md): no import cycles and no import of a higher layer.

Every ``import`` is read from the source with ``ast`` — those inside functions too, because a lazy
import is still a dependency: it only moves the failure from import time to run time.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = "interplay_hf"
ROOT = Path(__file__).resolve().parents[1] / PACKAGE

# Lowest first. A module may import its own layer and every layer below it, never one above.
LAYERS = ("base", "data", "verify", "models", "train", "evaluation", "hub", "pipeline", "cli")

# Shared helpers every layer may use: errors, file I/O, the version, the entry-point error policy.
BASE_MODULES = {"interplay_hf", "interplay_hf.errors", "interplay_hf.atomic_io", "interplay_hf.yaml_io",
                "interplay_hf.paper", "interplay_hf.redact",
                "interplay_hf.versions", "interplay_hf.launch", "interplay_hf.inputs"}


# Known upward imports, each with its reason; the list may only shrink.
ALLOWED_UPWARD = {
    # A plan checks the args of its `interplay-hf ...` stages against that command's parser, so a misspelt flag
    # fails at plan time rather than hours later; to go when the pipeline takes the flags from its caller.
    ("interplay_hf.pipeline.flag_check", "interplay_hf.cli"),
}


# The first name below the package -> its layer; a subpackage's modules share its layer.
TOP_LEVEL = {
    "guard": "base",
    "data": "data",
    "verify": "verify", "rewards": "verify", "metrics": "verify",
    "tokenizer": "models", "tokenizer_stats": "models", "models": "models", "decoding": "models",
    "train": "train",
    "evaluation": "evaluation",
    "hub": "hub",
    "pipeline": "pipeline",
    "cli": "cli",
}


def layer_of(module: str) -> str:
    """The layer of a module, from its path: ``cli.py`` of the package or of any subpackage is an entry point,
    any other module takes the layer of its top-level module or subpackage (``interplay_hf.hub.push`` → hub)."""
    if module in BASE_MODULES:
        return "base"
    parts = module.split(".")[1:]
    if parts[-1] == "cli":
        return "cli"
    if parts[0] in TOP_LEVEL:
        return TOP_LEVEL[parts[0]]
    raise AssertionError(f"{module}: no layer; add it to tests/test_layers.py and docs/architecture.md")


def all_modules() -> dict[str, Path]:
    modules = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = (PACKAGE, *path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def _absolute(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _is_main_block(node: ast.stmt) -> bool:
    """``if __name__ == "__main__":`` — runs only when the module is launched as a script, i.e. as an entry point."""
    test = getattr(node, "test", None)
    return (isinstance(node, ast.If) and isinstance(test, ast.Compare) and isinstance(test.left, ast.Name)
            and test.left.id == "__name__" and any(isinstance(c, ast.Constant) and c.value == "__main__"
                                                   for c in test.comparators))


def _imports_in(module: str, path: Path, nodes: list[ast.stmt], known: set[str]) -> set[str]:
    found = set()
    for node in (n for top in nodes for n in ast.walk(top)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            target = _absolute(module, path.name == "__init__.py", node)
            names = [f"{target}.{a.name}" if f"{target}.{a.name}" in known else target for a in node.names]
        else:
            continue
        for name in names:
            while name and name not in known:  # `import interplay_hf.data.build as b` → the module itself
                name = name.rpartition(".")[0]
            if name.startswith(PACKAGE) and name != module:
                found.add(name)
    return found


def imports_of(module: str, path: Path, known: set[str]) -> set[str]:
    """The package modules ``module`` imports anywhere in its source (``from pkg import submodule`` included),
    except in its ``if __name__ == "__main__":`` block, which belongs to the entry-point layer."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return _imports_in(module, path, [node for node in tree.body if not _is_main_block(node)], known)


def main_block_imports(module: str, path: Path, known: set[str]) -> set[str]:
    """The package modules imported by ``module``'s ``if __name__ == "__main__":`` block."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return _imports_in(module, path, [node for node in tree.body if _is_main_block(node)], known)


def reaches(graph: dict[str, set[str]], start: str, target: str) -> bool:
    """Whether importing ``start`` imports ``target`` (directly or through other modules)."""
    seen, todo = set(), [start]
    while todo:
        current = todo.pop()
        if current == target:
            return True
        if current not in seen:
            seen.add(current)
            todo.extend(graph.get(current, ()))
    return False


def import_graph() -> dict[str, set[str]]:
    modules = all_modules()
    return {m: imports_of(m, p, set(modules)) for m, p in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return components


def test_every_module_has_a_layer():
    for module in all_modules():
        assert layer_of(module) in LAYERS


def test_no_import_cycles():
    graph = import_graph()
    # A package's __init__ re-exports its modules; a module importing its own package's __init__ would
    # always close a loop through it, so those edges are reported as cycles too (import the module instead).
    assert _cycles(graph) == []


def test_no_main_block_imports_its_own_module():
    """``python -m pkg.mod`` runs ``mod`` as ``__main__``; if its ``__main__`` block imports a module that imports
    ``pkg.mod``, the file runs a second time as a module (two copies of its globals, import-time work done twice)."""
    graph, modules = import_graph(), all_modules()
    loops = [f"{module}: its __main__ block imports {start}, which imports {module} again"
             for module, path in modules.items()
             for start in sorted(main_block_imports(module, path, set(modules)))
             if reaches(graph, start, module)]
    assert loops == []


def test_a_main_block_loop_is_detected(tmp_path):
    path = tmp_path / "run.py"
    path.write_text("import sys\nif __name__ == '__main__':\n    from interplay_hf.evaluation.cli import main\n")
    known = set(all_modules()) | {"interplay_hf.evaluation.run"}
    starts = main_block_imports("interplay_hf.evaluation.run", path, known)
    assert starts == {"interplay_hf.evaluation.cli"}
    graph = {"interplay_hf.evaluation.cli": {"interplay_hf.evaluation.runner"},
             "interplay_hf.evaluation.runner": {"interplay_hf.evaluation.run"}}
    assert reaches(graph, "interplay_hf.evaluation.cli", "interplay_hf.evaluation.run")
    assert not reaches(graph, "interplay_hf.evaluation.runner", "interplay_hf.evaluation.cli")


def private_imports(module: str, path: Path) -> list[str]:
    """``_private`` names ``module`` imports from other package modules (``from interplay_hf.x import _y``)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.ImportFrom):
            source = _absolute(module, path.name == "__init__.py", node)
            found += [f"{module} imports {source}.{a.name}" for a in node.names
                      if source.startswith(PACKAGE) and a.name.startswith("_") and not a.name.startswith("__")]
    return found


def test_no_private_name_is_imported_across_modules():
    """A leading underscore means "this module's business": another module that needs it needs a public name."""
    assert [line for module, path in all_modules().items() for line in private_imports(module, path)] == []


def test_a_private_import_is_detected(tmp_path):
    path = tmp_path / "compare.py"
    path.write_text("from interplay_hf.evaluation.report import _table, pct\nfrom .stats import _x\n"
                    "from os import _exit\n")
    assert private_imports("interplay_hf.evaluation.compare", path) == [
        "interplay_hf.evaluation.compare imports interplay_hf.evaluation.report._table",
        "interplay_hf.evaluation.compare imports interplay_hf.evaluation.stats._x"]


def test_no_upward_imports():
    rank = {name: i for i, name in enumerate(LAYERS)}
    upward = [
        f"{module} ({layer_of(module)}) imports {target} ({layer_of(target)})"
        for module, targets in sorted(import_graph().items())
        for target in sorted(targets)
        if rank[layer_of(target)] > rank[layer_of(module)] and (module, target) not in ALLOWED_UPWARD
    ]
    assert upward == []


def test_every_allowed_upward_import_still_exists():
    """An entry whose import is gone (or whose module moved) is dropped, so the list shrinks rather than goes stale."""
    graph = import_graph()
    assert sorted((m, t) for m, t in ALLOWED_UPWARD if t not in graph.get(m, set())) == []


@pytest.mark.parametrize(
    "source, expected",
    [
        ("from interplay_hf.data import generator", {"interplay_hf.data.generator"}),
        ("def f():\n    from interplay_hf.hub import x", {"interplay_hf.hub"}),
        ("import interplay_hf.verify.parser as p", {"interplay_hf.verify.parser"}),
        ("from .graph import SolutionGraph", {"interplay_hf.verify.graph"}),
        ("from . import graph", {"interplay_hf.verify.graph"}),
        ("import json, yaml", set()),
        ("import sys\nif __name__ == '__main__':\n    from interplay_hf.cli import main", set()),
    ],
)
def test_imports_are_found_inside_functions_and_relative(tmp_path, source, expected):
    path = tmp_path / "core.py"
    path.write_text(source)
    found = imports_of("interplay_hf.verify.core", path, set(all_modules()))
    assert found == expected


def test_a_cycle_and_an_upward_import_are_detected():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]
    assert layer_of("interplay_hf.evaluation.config") == "evaluation"
    assert LAYERS.index("hub") > LAYERS.index("evaluation")


@pytest.mark.parametrize(
    "module, layer",
    [
        ("interplay_hf.hub", "hub"),
        ("interplay_hf.hub.catalogue", "hub"),
        ("interplay_hf.hub.cli", "cli"),
        ("interplay_hf.pipeline", "pipeline"),
        ("interplay_hf.pipeline.plan", "pipeline"),
        ("interplay_hf.pipeline.cli", "cli"),
        ("interplay_hf.evaluation.cli", "cli"),
        ("interplay_hf.data.released", "data"),
        ("interplay_hf.rewards", "verify"),
        ("interplay_hf.guard.policy", "base"),
    ],
)
def test_layers_follow_packages(module, layer):
    assert layer_of(module) == layer


@pytest.mark.parametrize("module", ["interplay_hf.hub_cards", "interplay_hf.pipeline_plan", "interplay_hf.released",
                                    "interplay_hf.hub_cli", "interplay_hf.something"])
def test_a_module_outside_the_layer_packages_has_no_layer(module):
    """The Hub and pipeline layers are packages: a flat ``hub_*.py`` / ``pipeline_*.py`` beside them is not placed."""
    with pytest.raises(AssertionError, match="no layer"):
        layer_of(module)
