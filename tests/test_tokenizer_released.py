"""The released tokenizer: ids equal the official file's on every problem, nothing trained, and the guards that
keep a checkpoint with the tokenizer it was trained with (special-token ids, recorded fingerprints)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from interplay_hf.errors import ConfigError
from interplay_hf.tokenizer import (
    RELEASED_TOKENIZER_FILE,
    SPECIAL_TOKENS,
    check_special_tokens,
    check_trained_with,
    fingerprint_comment,
    recorded_fingerprint,
    released_tokenizer,
    tokenizer_fingerprint,
)

OFFICIAL_SHA256 = "535dd78a5b1a5148205353a14dc151e611ccf01dda3203d9a18de66df255748d"  # model_configs/qwen2_100M
CONTEXTS = ("zoo", "teacher", "movie")


def _official():
    """The shipped file loaded with `tokenizers` alone: the reference our loader must equal."""
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(RELEASED_TOKENIZER_FILE))


def _training_texts(problems, official_rows) -> list[str]:
    """Every string a stage tokenizes: pre-training text (+ EOS, as packing appends it), prompt, completion,
    prompt + completion (TRL's completion-only SFT), and the official rows' text."""
    from interplay_hf.data.text import make_completion, make_prompt, make_text

    texts = []
    for p in problems:
        texts += [p.text, p.text + "[EOS]", p.prompt, p.completion, p.prompt + p.completion]
    for r in official_rows:
        texts += [make_text(r["problem"], r["question"], r["solution"]), make_prompt(r["problem"], r["question"]),
                  make_completion(r["solution"])]
    return texts


def test_the_shipped_file_is_the_official_one():
    import hashlib

    assert hashlib.sha256(RELEASED_TOKENIZER_FILE.read_bytes()).hexdigest() == OFFICIAL_SHA256
    notice = (RELEASED_TOKENIZER_FILE.parent / "LICENSE").read_text(encoding="utf-8")
    assert "MIT License" in notice and "Copyright (c) 2025 Interplay-LM" in notice and OFFICIAL_SHA256 in notice


def test_ids_equal_the_official_file_on_1026_problems_of_every_op_and_context(tmp_path, official_rows):
    from transformers import AutoTokenizer

    from interplay_hf.data import generate_problem
    from interplay_hf.tokenizer import save_released_tokenizer

    problems = [generate_problem(op, context, seed=seed) for op in range(2, 21) for context in CONTEXTS
                for seed in range(18)]
    assert len(problems) == 1026
    texts = _training_texts(problems, official_rows)
    expected = [e.ids for e in _official().encode_batch(texts, add_special_tokens=False)]
    save_released_tokenizer(tmp_path)
    for tokenizer in (released_tokenizer(), AutoTokenizer.from_pretrained(tmp_path)):
        got = tokenizer(texts, add_special_tokens=False)["input_ids"]
        mismatches = [t for t, a, b in zip(texts, got, expected) if a != b]
        assert not mismatches, f"{len(mismatches)} texts differ, first: {mismatches[0][:200]!r}"
        assert tokenizer(texts[:5])["input_ids"] == expected[:5]  # no BOS/EOS added by default either


def test_a_checkpoint_folder_keeps_the_file_s_pre_tokenizer(tmp_path):
    """Next to a qwen2 config.json, AutoTokenizer (transformers 5) builds Qwen2Tokenizer with Qwen's pre-tokenizer
    (numbers digit by digit); every loader of ours reads the tokenizer.json as is, as the released models did."""
    from transformers import Qwen2Config

    from interplay_hf.evaluation.loading import load_tokenizer
    from interplay_hf.tokenizer import load_saved_tokenizer, save_released_tokenizer

    save_released_tokenizer(tmp_path)
    Qwen2Config(vocab_size=2200, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                num_key_value_heads=1, intermediate_size=64).save_pretrained(tmp_path)
    text = "<question> The number of adult parrot in Jefferson Circus equals 412. </question> <solution>"
    expected = _official().encode(text, add_special_tokens=False).ids
    for tokenizer in (load_saved_tokenizer(tmp_path), load_tokenizer(str(tmp_path))):
        assert tokenizer(text, add_special_tokens=False)["input_ids"] == expected


def test_the_released_tokenizer_is_what_the_issue_measured():
    """2,201 entries, 1,462 of them numbers (up to 4 digits with a leading space); the tags decode."""
    import re

    tokenizer = released_tokenizer()
    vocab = tokenizer.get_vocab()
    assert len(tokenizer) == len(vocab) == 2201
    assert sum(bool(re.fullmatch(r"Ġ?[0-9]+", t)) for t in vocab) == 1462
    assert tokenizer.convert_ids_to_tokens(tokenizer(" 1012")["input_ids"]) == ["Ġ1012"]
    assert [tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS] == list(range(10))
    ids = tokenizer(" 4. </solution> <answer> 4 </answer>")["input_ids"]
    assert tokenizer.decode(ids, skip_special_tokens=True).endswith("</solution> <answer> 4 </answer>")


def test_fingerprint_ignores_the_special_flag_and_transformers_wrapping(tmp_path):
    from transformers import AutoTokenizer

    from interplay_hf.tokenizer import make_format_tags_decodable, save_released_tokenizer

    save_released_tokenizer(tmp_path)
    prints = {tokenizer_fingerprint(_official()), tokenizer_fingerprint(released_tokenizer()),
              tokenizer_fingerprint(make_format_tags_decodable(AutoTokenizer.from_pretrained(tmp_path)))}
    assert len(prints) == 1
    assert fingerprint_comment(released_tokenizer()).endswith("(the released tokenizer)")


def _swapped_file(tmp_path):
    state = json.loads(RELEASED_TOKENIZER_FILE.read_text(encoding="utf-8"))
    for added in state["added_tokens"]:  # <answer> and </answer> trade ids
        added["id"] = {8: 9, 9: 8}.get(added["id"], added["id"])
    vocab = state["model"]["vocab"]
    vocab["<answer>"], vocab["</answer>"] = vocab["</answer>"], vocab["<answer>"]
    path = tmp_path / "tokenizer.json"
    path.write_text(json.dumps(state), encoding="utf-8")
    return path


def test_a_tokenizer_whose_first_ids_are_not_the_special_tokens_is_refused(tmp_path, tiny_tokenizer):
    bad = _swapped_file(tmp_path)
    with pytest.raises(ConfigError, match=rf"^{bad}: ids 0-9 are .*not the released special tokens"):
        released_tokenizer(bad)
    check_special_tokens(tiny_tokenizer, "tiny")  # ours pass
    from tokenizers import Tokenizer, models

    foreign = Tokenizer(models.WordLevel({"!": 0, "a": 1, "<unk>": 2}, unk_token="<unk>"))
    check_special_tokens(foreign, "instruct", required=False)  # none of ours: an instruct model's, let through
    with pytest.raises(ConfigError, match="^instruct: ids 0-9"):
        check_special_tokens(foreign, "instruct")


def test_cli_writes_the_released_tokenizer_and_refuses_training_flags(tmp_path):
    from transformers import AutoTokenizer

    out = tmp_path / "tok"
    run = subprocess.run([sys.executable, "-m", "interplay_hf.cli", "tokenizer", "--numbers", "released",
                          "--output-dir", str(out)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert tokenizer_fingerprint(AutoTokenizer.from_pretrained(out)) == tokenizer_fingerprint(_official())
    for extra in (["--dataset", str(tmp_path)], ["--max-texts", "5"]):
        run = subprocess.run([sys.executable, "-m", "interplay_hf.cli", "tokenizer", "--numbers", "released",
                              *extra, "--output-dir", str(tmp_path / "x")], capture_output=True, text=True, timeout=300)
        assert run.returncode == 2 and f"{extra[0]}: --numbers released trains nothing" in run.stderr
        assert "Traceback" not in run.stderr
    run = subprocess.run([sys.executable, "-m", "interplay_hf.cli", "tokenizer", "--output-dir", str(tmp_path / "y")],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 2 and "--dataset: required to train a tokenizer" in run.stderr


def test_a_checkpoint_keeps_the_tokenizer_its_stage_recorded(tmp_path, tiny_tokenizer):
    stage = tmp_path / "pretrain"
    (stage / "checkpoint-5").mkdir(parents=True)
    assert recorded_fingerprint(stage) is None
    check_trained_with(tiny_tokenizer, stage, "--tokenizer")  # nothing recorded: nothing to compare
    (stage / "recipe.yaml").write_text(f"# {fingerprint_comment(released_tokenizer())}\n# versions\nseed: 0\n",
                                       encoding="utf-8")
    assert recorded_fingerprint(stage / "checkpoint-5") == (tokenizer_fingerprint(_official()), stage / "recipe.yaml")
    check_trained_with(released_tokenizer(), stage / "checkpoint-5", "--tokenizer")
    with pytest.raises(ConfigError, match=r"^--tokenizer: this tokenizer \(fingerprint \w{12}\) is not the one .*recipe.yaml"):
        check_trained_with(tiny_tokenizer, stage, "--tokenizer")
