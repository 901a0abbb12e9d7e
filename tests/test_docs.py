"""Every document the code, tests, recipes and READMEs cite is in the repository, and every relative link resolves."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CITED_DOC = re.compile(r"\bdocs/([A-Za-z0-9_-]+\.md)")
MD_LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)\s]*)?\)")
# Design notes that lived outside the repository; the code must cite docs/ instead.
OUTSIDE_NOTES = re.compile(r"(?<![-\w/])(?:format|reference|CONTRACTS|SPEC|STYLE)\.md\b")


def tracked_text_files() -> list[Path]:
    names = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split()
    wanted = (".py", ".md", ".yaml", ".yml", ".jinja", ".toml", "Makefile")
    return [ROOT / n for n in names if n.endswith(wanted) and (ROOT / n).is_file()]


def test_cited_documents_exist_and_no_outside_notes_are_cited():
    missing, outside = [], []
    for path in tracked_text_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        rel = path.relative_to(ROOT)
        missing += [f"{rel}: docs/{name}" for name in CITED_DOC.findall(text) if not (ROOT / "docs" / name).is_file()]
        if path.name != "test_docs.py":
            outside += [f"{rel}: {m.group(0)}" for m in OUTSIDE_NOTES.finditer(text)]
    assert missing == []
    assert outside == []


def test_relative_links_in_markdown_resolve():
    broken = []
    for path in tracked_text_files():
        if path.suffix != ".md":
            continue
        for target in MD_LINK.findall(path.read_text(encoding="utf-8")):
            if "://" in target or target.startswith("mailto:"):
                continue
            if not (path.parent / target).exists():
                broken.append(f"{path.relative_to(ROOT)} -> {target}")
    assert broken == []
