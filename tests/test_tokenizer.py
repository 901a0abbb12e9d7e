"""The from-scratch tokenizer: released special-token ids, determinism, offline loading, decodable tags."""

from __future__ import annotations

import json

import pytest

from interplay_hf.errors import ConfigError
from interplay_hf.tokenizer import (
    SPECIAL_TOKENS,
    build_tokenizer,
    build_tokenizer_from_dataset,
    make_format_tags_decodable,
    stop_token_ids,
)


def _texts(rows):
    from interplay_hf.data.text import make_text

    return [make_text(r["problem"], r["question"], r["solution"]) for r in rows]


def test_special_tokens_have_the_released_ids(tiny_tokenizer):
    assert [tiny_tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS] == list(range(10))
    assert (tiny_tokenizer.pad_token_id, tiny_tokenizer.bos_token_id, tiny_tokenizer.eos_token_id) == (1, 2, 3)


def test_no_bos_or_eos_is_added_and_tags_are_single_tokens(tiny_tokenizer):
    ids = tiny_tokenizer("<question> x </question> <solution>")["input_ids"]
    assert ids[0] == 4 and ids[-1] == 6
    assert tiny_tokenizer("1 </answer>")["input_ids"][-1] == 9


def test_decoding_without_special_tokens_keeps_the_format_tags(tiny_tokenizer):
    # GRPOTrainer decodes completions with skip_special_tokens=True before calling the rewards.
    ids = tiny_tokenizer(" Define a as b; so b = 2. </solution> <answer> 2 </answer>[EOS][PAD]")["input_ids"]
    text = tiny_tokenizer.decode(ids, skip_special_tokens=True)
    assert text.endswith("</solution> <answer> 2 </answer>")
    assert "[EOS]" not in text and "[PAD]" not in text


def test_build_is_deterministic(official_rows):
    texts = _texts(official_rows)
    a = build_tokenizer(texts, vocab_size=500)
    b = build_tokenizer(texts, vocab_size=500)
    assert a.backend_tokenizer.to_str() == b.backend_tokenizer.to_str()


def test_saved_tokenizer_loads_offline_with_autotokenizer(tiny_tokenizer, tmp_path, official_rows):
    from transformers import AutoTokenizer

    tiny_tokenizer.save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    text = _texts(official_rows)[0]
    assert loaded(text)["input_ids"] == tiny_tokenizer(text)["input_ids"]
    assert loaded.eos_token == "[EOS]" and loaded.pad_token == "[PAD]"


def test_stop_tokens_are_eos_and_answer_close(tiny_tokenizer):
    assert stop_token_ids(tiny_tokenizer) == [3, 9]


def test_released_style_tokenizer_with_special_tags_becomes_decodable(official_rows):
    """Released tokenizers mark the tags special; we unmark them so rewards see <answer>."""
    from tokenizers import AddedToken
    from transformers import PreTrainedTokenizerFast

    base = build_tokenizer(_texts(official_rows), vocab_size=400)
    state = json.loads(base.backend_tokenizer.to_str())
    for added in state["added_tokens"]:
        added["special"] = True
    from tokenizers import Tokenizer

    special = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer.from_str(json.dumps(state)),
        eos_token="[EOS]",
        pad_token="[PAD]",
        extra_special_tokens=[AddedToken(t, special=True) for t in SPECIAL_TOKENS[4:]],
    )
    ids = special("<answer> 2 </answer>")["input_ids"]
    assert "<answer>" not in special.decode(ids, skip_special_tokens=True)
    make_format_tags_decodable(special)
    assert special.decode(ids, skip_special_tokens=True).strip() == "<answer> 2 </answer>"


def test_tokenizer_command_builds_from_a_saved_dataset(tmp_path, official_rows):
    from datasets import Dataset, DatasetDict

    from interplay_hf.cli import main

    DatasetDict({"train": Dataset.from_dict({"text": _texts(official_rows)})}).save_to_disk(tmp_path / "data")
    code = main(["tokenizer", "--dataset", str(tmp_path / "data"), "--vocab-size", "400", "--output-dir", str(tmp_path / "tok")])
    assert code == 0
    from transformers import AutoTokenizer

    assert len(AutoTokenizer.from_pretrained(tmp_path / "tok")) <= 400
    with pytest.raises(ConfigError, match="--column"):
        build_tokenizer_from_dataset(tmp_path / "data", tmp_path / "tok2", column="prompt")
    with pytest.raises(ConfigError, match="--dataset"):
        build_tokenizer_from_dataset(tmp_path / "missing", tmp_path / "tok3")


def test_numbers_are_official_digit_groups_by_default_and_digits_on_request(official_rows):
    """Default: runs of up to 3 digits, learned as single tokens (official); `digits`: one digit per token."""
    texts = _texts(official_rows) * 2
    groups = build_tokenizer(texts, vocab_size=1200)
    digits = build_tokenizer(texts, vocab_size=1200, numbers="digits")
    number_tokens = [t for t in groups.get_vocab() if t.isdigit() and len(t) > 1]
    assert number_tokens and max(map(len, number_tokens)) <= 3
    assert not [t for t in digits.get_vocab() if t.isdigit() and len(t) > 1]
    assert "".join(groups.tokenize(" 12345")) == "Ġ12345" and all(len(t) <= 3 for t in groups.tokenize("12345"))
    assert [t for t in digits.tokenize(" 123") if t != "Ġ"] == ["1", "2", "3"]
    assert len(groups) > len(digits)  # the number tokens fill the vocabulary (official: ~2,200 entries)
    for tokenizer in (groups, digits):
        assert tokenizer.decode(tokenizer(texts[0])["input_ids"]) == texts[0]
    with pytest.raises(ConfigError, match="numbers: 'words' is not a number mode"):
        build_tokenizer(texts, numbers="words")
