"""Library versions: recorded in results and recipes, and TRL's major.minor in training stages' hashes."""

from __future__ import annotations

import textwrap
from importlib.metadata import version

import pytest

import interplay_hf.pipeline.hashing as hashing
from interplay_hf import __version__
from interplay_hf.pipeline.plan import build_plan
from interplay_hf.versions import RECORDED_PACKAGES, library_versions, major_minor, versions_comment


def test_library_versions_are_the_installed_ones():
    versions = library_versions()
    assert set(versions) == {"interplay-hf", *RECORDED_PACKAGES}
    assert versions["interplay-hf"] == __version__
    assert versions["trl"] == version("trl") and versions["torch"] == version("torch")
    assert major_minor("trl") == ".".join(version("trl").split(".")[:2])
    assert major_minor("not-a-package-interplay") is None
    assert f"transformers {version('transformers')}" in versions_comment()


def test_the_version_is_defined_once():
    from pathlib import Path

    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"]
    assert "version" not in project and project["dynamic"] == ["version"]
    assert version("interplay-hf") == __version__  # the installed metadata reads interplay_hf.__version__


PIPELINE = """
    name: t
    stages:
      data: {type: shell, command: 'true'}
      pretrain: {type: sft, recipe: sft.yaml, after: [data]}
"""


def _hashes(tmp_path) -> dict[str, str]:
    (tmp_path / "sft.yaml").write_text("learning_rate: 2.0e-4\n")
    (tmp_path / "pipeline.yaml").write_text(textwrap.dedent(PIPELINE))
    plan = build_plan(tmp_path / "pipeline.yaml", tmp_path / "runs")
    return {s.name: s.hash for s in plan.stages}


def test_a_trl_upgrade_reruns_training_stages_only(tmp_path, monkeypatch):
    before = _hashes(tmp_path)
    assert build_plan(tmp_path / "pipeline.yaml", tmp_path / "runs").stage("pretrain").hash_parts["trl"] == major_minor("trl")
    monkeypatch.setattr(hashing, "major_minor", lambda package: "99.0")
    after = _hashes(tmp_path)
    assert after["data"] == before["data"] and after["pretrain"] != before["pretrain"]
