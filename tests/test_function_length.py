"""No function of the package is over 80 lines unless a comment right above it says why it is one piece
("One piece on purpose"): a long function is usually several steps that want a name each."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "interplay_hf"
MAX_LINES = 80
REASON = "One piece on purpose"


def long_functions_without_a_reason(path: Path, base: Path = ROOT.parent) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    found = []
    for node in ast.walk(ast.parse("\n".join(lines), filename=str(path))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno - node.lineno + 1 > MAX_LINES:
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)]) - 1
            above = []
            while first > 0 and lines[first - 1].lstrip().startswith("#"):
                first -= 1
                above.append(lines[first])
            if not any(REASON in line for line in above):
                found.append(f"{path.relative_to(base)}:{node.lineno} {node.name} "
                             f"({node.end_lineno - node.lineno + 1} lines)")
    return found


def test_long_functions_say_why_they_are_one_piece():
    assert [f for path in sorted(ROOT.rglob("*.py")) for f in long_functions_without_a_reason(path)] == []


def test_a_long_function_without_a_reason_is_found(tmp_path):
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_LINES))
    path = tmp_path / "probe.py"
    path.write_text(f"def long():\n{body}\n\n\n# {REASON}: a probe.\ndef also_long():\n{body}\n")
    assert long_functions_without_a_reason(path, tmp_path) == ["probe.py:1 long (81 lines)"]
