"""The released-checkpoint catalogue: names resolve to (repo, subfolder, eval set); loading works offline."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import warnings

import pytest

from interplay_hf.cli import main
from interplay_hf.errors import ConfigError
from interplay_hf.hub import (
    CATALOGUE,
    REPOS,
    UncataloguedCheckpointWarning,
    format_catalogue,
    list_released,
    load_released,
    resolve_released,
)

# The settings each released repo holds, as docs/paper-settings.md lists them.
FORMAT_MD_SETTINGS = {
    "extrapolation_rl": [
        "id2-10_0.2easy_0.3medium_0.5hard",
        "id2-10_0.5easy_0.3medium_0.2hard",
        "id2-10_0.4995easy_0.4995medium_0.001hard",
        "id2-10_0.475easy_0.475medium_0.05hard",
    ],
    "context_pretrain": ["idzoo_0.9zoo_0.1teacher", "idzoo_0.99zoo_0.01teacher", "idzoo_0.999zoo_0.001teacher"],
    "context_pretrain_2": ["0.9zoo_op2-20+0.1teacher_op2", "0.99zoo_op2-20+0.01teacher_op2", "0.999zoo_op2-20+0.001teacher_op2"],
}
FORMAT_MD_MIDTRAIN_STEPS = [387, 774, 1161, 1548, 1935, 2322, 3096, 3870, 4644, 6192]


def test_every_setting_of_format_md_has_a_base_entry():
    for repo, settings in FORMAT_MD_SETTINGS.items():
        for setting in settings:
            entry = resolve_released(f"{repo}/{setting}/base")
            assert entry.repo_id == f"Interplay-LM-Reasoning/{repo}"
            assert entry.subfolder == f"{setting}/base"
            assert entry.status == "confirmed" and entry.stage == "base"


def test_midtrain_checkpoints_and_their_nominal_pairs():
    mid = [e for e in CATALOGUE if e.repo_name == "extrapolation_midtrain"]
    assert [e.step for e in mid] == FORMAT_MD_MIDTRAIN_STEPS
    assert resolve_released("midtrain-11-14-ckpt387").nominal == ((50, 0.2),)
    assert resolve_released("midtrain-11-14-ckpt3096").nominal == ((100, 0.8), (400, 0.2))
    entry = resolve_released("extrapolation_midtrain/id2-10_0.2easy_0.3medium_0.5hard/midtrain/cpt0.2-uniform_0.8-11-14_plus/checkpoint-1161")
    assert entry.alias == "midtrain-11-14-ckpt1161" and entry.stage == "midtrain"


def test_aliases_from_the_issue_resolve_to_repo_and_subfolder():
    assert resolve_released("ctx-0.01-base").subfolder == "idzoo_0.99zoo_0.01teacher/base"
    strict = resolve_released("ctx-0.01-rl-strict")
    assert strict.repo_id == "Interplay-LM-Reasoning/context_pretrain"
    assert strict.subfolder == "idzoo_0.99zoo_0.01teacher/rl/contextzoo_0.99zoo_0.01teacher_process_strict"
    assert strict.eval_contexts == ("zoo", "teacher")
    assert strict.eval_ops == tuple(range(2, 21))
    assert set(strict.eval_regimes) == {"ID", "OOD-edge", "OOD-hard"}
    edge = resolve_released("extrap-0.5easy-rl-op11-14")
    assert edge.subfolder == "id2-10_0.5easy_0.3medium_0.2hard/rl/op11-14_uniform"
    assert edge.status == "confirmed"


def test_paths_resolve_with_or_without_the_org_and_trailing_slash():
    alias = resolve_released("ctx-0.01-rl-strict")
    for name in (
        "context_pretrain/idzoo_0.99zoo_0.01teacher/rl/contextzoo_0.99zoo_0.01teacher_process_strict",
        "Interplay-LM-Reasoning/context_pretrain/idzoo_0.99zoo_0.01teacher/rl/contextzoo_0.99zoo_0.01teacher_process_strict/",
    ):
        assert resolve_released(name) == alias


def test_aliases_and_paths_are_unique():
    assert len({e.alias for e in CATALOGUE}) == len(CATALOGUE)
    assert len({e.path for e in CATALOGUE}) == len(CATALOGUE)
    assert set(REPOS) == {"extrapolation_rl", "extrapolation_midtrain", "context_pretrain", "context_pretrain_2"}


def test_inferred_entries_resolve_with_a_warning_and_strict_refuses_them():
    with pytest.warns(UncataloguedCheckpointWarning, match="inferred"):
        entry = resolve_released("extrap-0.2easy-rl-op11-14")
    assert entry.status == "inferred"
    with pytest.raises(ConfigError, match="inferred"):
        resolve_released("extrap-0.2easy-rl-op11-14", strict=True)


def test_unknown_alias_suggests_close_names():
    with pytest.raises(ConfigError, match="ctx-0.01-base") as err:
        resolve_released("ctx-0.01-bse")
    assert "released list" in str(err.value)


def test_unknown_setting_or_repo_suggests_close_names():
    with pytest.raises(ConfigError, match="idzoo_0.99zoo_0.01teacher/base"):
        resolve_released("context_pretrain/idzoo_0.99zoo_0.01teachr/base")
    with pytest.raises(ConfigError, match="context_pretrain"):
        resolve_released("context_pretrian/idzoo_0.99zoo_0.01teacher/base")
    with pytest.raises(ConfigError, match="layout"):
        resolve_released("context_pretrain/idzoo_0.99zoo_0.01teacher/final")


def test_uncatalogued_folder_fitting_the_layout_warns_or_fails_when_strict():
    name = "context_pretrain/idzoo_0.999zoo_0.001teacher/rl/contextzoo_0.999zoo_0.001teacher_process_strict"
    with pytest.warns(UncataloguedCheckpointWarning, match="not in the catalogue"):
        entry = resolve_released(name)
    assert entry.status == "uncatalogued" and entry.alias is None
    assert entry.subfolder == name.split("/", 1)[1]
    assert entry.eval_contexts == ("zoo", "teacher")  # inherited from the repo
    with pytest.raises(ConfigError, match="not in the catalogue"):
        resolve_released(name, strict=True)
    with pytest.warns(UncataloguedCheckpointWarning):
        later = resolve_released("extrapolation_midtrain/id2-10_0.2easy_0.3medium_0.5hard/midtrain/cpt0.2-uniform_0.8-11-14_plus/checkpoint-7740")
    assert later.step == 7740


def test_list_and_format_catalogue():
    assert {e.repo_name for e in list_released("context_pretrain")} == {"context_pretrain"}
    assert all(e.status == "confirmed" for e in list_released(include_inferred=False))
    table = format_catalogue()
    for entry in CATALOGUE:
        assert entry.alias in table and entry.subfolder in table
    with pytest.raises(ConfigError, match="--repo"):
        list_released("nope")


def test_cli_released_list_and_show(capsys):
    assert main(["released", "list", "--repo", "context_pretrain_2"]) == 0
    out = capsys.readouterr().out
    assert "ctx2-0.01-base" in out and "ctx-0.01-base" not in out
    assert main(["released", "show", "ctx-0.01-rl-strict", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["repo_id"] == "Interplay-LM-Reasoning/context_pretrain"
    assert shown["eval_contexts"] == ["zoo", "teacher"]
    assert main(["released", "show", "ctx-0.01-bse"]) == 2
    assert "Did you mean" in capsys.readouterr().err


@pytest.fixture(scope="module")
def released_mirror(tmp_path_factory, tiny_model_dir):
    """A local directory laid out exactly like the released repos, holding the tiny model."""
    root = tmp_path_factory.mktemp("released")
    for subfolder in ("idzoo_0.99zoo_0.01teacher/base", "idzoo_0.99zoo_0.01teacher/rl/contextzoo_0.99zoo_0.01teacher_process_strict"):
        shutil.copytree(tiny_model_dir, root / "context_pretrain" / subfolder)
    return root


def test_load_released_from_a_local_mirror(released_mirror):
    model, tokenizer = load_released("ctx-0.01-rl-strict", local_root=released_mirror)
    assert type(model).__name__ == "Qwen2ForCausalLM"
    assert tokenizer.convert_ids_to_tokens(4) == "<question>"
    model, _ = load_released("context_pretrain/idzoo_0.99zoo_0.01teacher/base", local_root=released_mirror)
    assert model.config.num_hidden_layers == 2


def test_load_released_missing_folder_in_mirror_is_a_config_error(released_mirror):
    with pytest.raises(ConfigError, match="ctx-0.1-base|idzoo_0.9zoo_0.1teacher/base"):
        load_released("ctx-0.1-base", local_root=released_mirror)


def test_load_released_offline_and_not_cached_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ConfigError) as err:
            load_released("ctx-0.01-base")
    message = str(err.value)
    assert "HF_HUB_OFFLINE" in message and "hf download Interplay-LM-Reasoning/context_pretrain" in message


def test_importing_the_hub_module_stays_light():
    code = "import sys, interplay_hf.hub; print([m for m in ('torch', 'transformers', 'datasets', 'huggingface_hub') if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"
