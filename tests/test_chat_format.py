"""Chat-format rows (interplay_hf.data.chat): what an instruct model reads, and that a chat reply holding the gold
steps scores exactly like the gold under every reward and the verifier, whatever prose surrounds the steps."""

from __future__ import annotations

import pytest

from interplay_hf.data import generate_problem
from interplay_hf.data.chat import (
    ANSWER_FORMAT_INSTRUCTION,
    DEFAULT_SYSTEM_PROMPT,
    is_chat_prompt,
    make_chat_completion,
    make_chat_prompt,
    make_chat_solution,
    plain_prompt,
    to_chat_format,
)
from interplay_hf.errors import ConfigError
from interplay_hf.rewards import REWARD_FUNCS, get_reward_funcs
from interplay_hf.verify import verify

CASES = [(2, "zoo", 0), (8, "teacher", 1), (14, "movie", 3), (20, "zoo", 5)]


@pytest.fixture(scope="module")
def rows():
    return [generate_problem(op=op, context=ctx, mode="normalforward", seed=seed).to_row() for op, ctx, seed in CASES]


def steps_of(row) -> list[str]:
    return make_chat_solution(row["solution"]).splitlines()[:-1]


def wrappers(row) -> dict[str, str]:
    """Gold steps inside the kinds of replies instruct models write (prose, lists, markdown, code fences)."""
    steps, n = steps_of(row), row["answer"]
    return {
        "gold_message": make_chat_solution(row["solution"]),
        "prose_numbered": "Sure! Let's work through it.\n\n" + "\n".join(f"{i + 1}. {s}" for i, s in enumerate(steps))
        + f"\n\nSo the final answer is **{n}**.\n\n<answer> {n} </answer>",
        "markdown_bullets": "### Solution\n\n" + "\n".join(f"- {s}" for s in steps)
        + f"\n\n**Final answer:** <answer> {n} </answer>\n\nHope this helps!",
        "bold_step_labels": "\n".join(f"**Step {i + 1}:** {s}" for i, s in enumerate(steps))
        + f"\n\n<answer> {n} </answer>",
        "code_fence": "```\n" + "\n".join(steps) + f"\n```\n<answer> {n} </answer>",
        "stopped_at_close_tag": "\n".join(steps) + f"\n<answer> {n}",
    }


def test_chat_prompt_is_system_plus_user_with_the_problem_first_and_the_step_format():
    messages = make_chat_prompt("The number of A equals 2. ", "How many A?")
    assert [m["role"] for m in messages] == ["system", "user"]
    assert messages[0]["content"] == DEFAULT_SYSTEM_PROMPT
    user = messages[1]["content"]
    assert user.startswith("The number of A equals 2. How many A?\n\n")
    assert user.endswith(ANSWER_FORMAT_INSTRUCTION)
    assert "Define <quantity> as <letter>; so <letter> = " in user and "<answer> N </answer>" in user
    assert [m["role"] for m in make_chat_prompt("p.", "q?", system_prompt=None)] == ["user"]


def test_chat_completion_puts_one_step_per_line_and_the_answer_in_tags(rows):
    row = rows[1]
    (message,) = make_chat_completion(row["solution"])
    lines = message["content"].splitlines()
    assert message["role"] == "assistant"
    assert all(line.startswith("Define ") for line in lines[:-1])
    assert lines[-1] == f"<answer> {row['answer']} </answer>"
    assert "Answer:" not in message["content"] and "</solution>" not in message["content"]
    assert " ".join(lines[:-1]) == row["solution"].rsplit(" Answer:", 1)[0]


def test_to_chat_format_converts_full_rows_and_keeps_the_gold_columns(rows):
    row = rows[0]
    out = to_chat_format(row)
    assert set(out) == {"prompt", "completion"}  # datasets.map keeps every other column as it is
    assert out["prompt"] == make_chat_prompt(row["problem"], row["question"])
    assert out["completion"] == make_chat_completion(row["solution"])
    assert "completion" not in to_chat_format(row, completion=False)


def test_to_chat_format_reads_the_plain_prompt_of_rl_rows_and_round_trips(rows):
    row = rows[2]
    rl_row = {k: row[k] for k in ("prompt", "answer", "gold_graph", "solution", "op", "context", "mode", "id")}
    out = to_chat_format(rl_row)
    assert set(out) == {"prompt"}  # no completion column asked for: none added
    assert out["prompt"] == make_chat_prompt(row["problem"], row["question"])
    assert is_chat_prompt(out["prompt"]) and not is_chat_prompt(row["prompt"])
    # The dedup key of a chat row is the plain prompt: both formats deduplicate against each other.
    assert plain_prompt(out["prompt"]) == row["prompt"] == plain_prompt(row["prompt"])
    # Converting twice re-renders (e.g. with another system prompt) instead of nesting messages.
    again = to_chat_format({**rl_row, **out}, system_prompt="Be brief.")
    assert again["prompt"][0] == {"role": "system", "content": "Be brief."}
    assert again["prompt"][1] == out["prompt"][1]


def test_sft_rows_without_solution_get_the_same_reply_from_their_plain_completion(rows):
    for row in rows:
        sft_row = {k: row[k] for k in ("prompt", "completion", "op", "context", "id")}
        out = to_chat_format(sft_row)
        assert out["prompt"] == make_chat_prompt(row["problem"], row["question"])
        assert out["completion"] == make_chat_completion(row["solution"])


def test_to_chat_format_explains_rows_it_cannot_convert():
    with pytest.raises(ValueError, match="problem"):
        to_chat_format({"answer": "3"})
    with pytest.raises(ValueError, match="solution"):
        to_chat_format({"problem": "p.", "question": "q?"}, completion=True)
    with pytest.raises(ValueError, match="plain completion"):
        to_chat_format({"problem": "p.", "question": "q?", "completion": "no tags"})


def test_datasets_map_gives_conversational_columns_and_keeps_the_gold(rows):
    from datasets import Dataset

    ds = Dataset.from_list(rows).map(to_chat_format)
    # TRL's is_conversational: a list of {"role", "content"} dicts (the GRPO run in test_finetune.py uses them).
    assert ds[0]["prompt"] == make_chat_prompt(rows[0]["problem"], rows[0]["question"])
    assert ds[0]["completion"] == make_chat_completion(rows[0]["solution"])
    for column in ("solution", "answer", "gold_graph", "op", "context", "id"):
        assert ds[column] == [r[column] for r in rows]


@pytest.mark.parametrize("reward", sorted(REWARD_FUNCS))
def test_a_chat_wrapped_gold_reply_scores_as_gold_under_every_reward(rows, reward):
    func = get_reward_funcs([reward])[0]
    for row in rows:
        gold = {"solution": [row["solution"]], "answer": [row["answer"]], "gold_graph": [row["gold_graph"]]}
        for name, text in wrappers(row).items():
            completion = [{"role": "assistant", "content": text}]
            assert func([completion], **gold) == [1.0], (reward, row["op"], name)


def test_the_verifier_finds_no_error_in_chat_wrapped_gold_replies(rows):
    for row in rows:
        for name, text in wrappers(row).items():
            result = verify([{"role": "assistant", "content": text}], gold_solution=row["solution"],
                            gold_graph=row["gold_graph"], gold_answer=row["answer"])
            assert result.outcome and result.process_verified and result.process_score == 1.0, (row["op"], name)
            assert not (result.missing or result.extra or result.value_mismatch or result.dependency_mismatch)


def test_a_chat_reply_with_a_wrong_answer_or_a_missing_step_loses_reward(rows):
    row = rows[1]
    steps = steps_of(row)
    gold = {"solution": [row["solution"]], "answer": [row["answer"]], "gold_graph": [row["gold_graph"]]}
    wrong = "\n".join(steps) + f"\n<answer> {int(row['answer']) + 1} </answer>"
    missing = "\n".join(steps[1:]) + f"\n<answer> {row['answer']} </answer>"
    mixed, strict = get_reward_funcs(["mixed", "strict"], {"mixed": {"alpha": 0.2}})
    chat = lambda text: [[{"role": "assistant", "content": text}]]  # noqa: E731
    assert mixed(chat(wrong), **gold) == [0.0] and strict(chat(wrong), **gold) == [0.0]
    assert 0.0 < mixed(chat(missing), **gold)[0] < 1.0 and strict(chat(missing), **gold) == [0.0]


def test_converting_a_built_dataset_keeps_rows_splits_and_build_report(tmp_path):
    """`python -m interplay_hf.data.chat <dir> --output-dir <dir>`: a chat copy of a `data build` output."""
    import json

    from datasets import load_from_disk

    from interplay_hf.data.build import build_datasets
    from interplay_hf.data.chat import main

    recipe = {"name": "tiny", "seed": 3, "eval": {"seed": 2024, "ops": [2, 11], "contexts": "zoo", "size": 2},
              "splits": {"train": {"size": 3, "ops": 2, "columns": "rl"}}}
    plain = build_datasets(recipe, tmp_path / "plain", verbose=False)
    assert main([str(tmp_path / "plain"), "--output-dir", str(tmp_path / "chat")]) == 0
    chat = load_from_disk(str(tmp_path / "chat"))
    assert list(chat) == list(plain) == ["eval_op2_zoo", "eval_op11_zoo", "train"]
    assert json.loads((tmp_path / "chat" / "build_report.json").read_text())["splits"]["eval_op2_zoo"]["eval"]
    for name in chat:
        for old, new in zip(plain[name], chat[name]):
            assert plain_prompt(new["prompt"]) == old["prompt"] and new["prompt"][0]["role"] == "system"
            assert {k: v for k, v in new.items() if k not in ("prompt", "completion")} == \
                {k: v for k, v in old.items() if k not in ("prompt", "completion")}
    assert chat["eval_op2_zoo"][0]["completion"][0]["role"] == "assistant"  # full columns: completion converted
    assert "completion" not in chat["train"].column_names  # rl columns: no completion added


def test_data_build_with_chat_prompts_keeps_gold_columns_and_dedup_keys(tmp_path):
    """`prompt_format: chat` gives conversational prompts; dedup still runs on the plain prompt."""
    from interplay_hf.data.build import build_datasets
    from interplay_hf.data.chat import plain_prompt
    from interplay_hf.data.text import make_prompt

    recipe = {"name": "chat", "seed": 3, "prompt_format": "chat", "eval": {"ops": 2, "contexts": "zoo", "size": 4},
              "splits": {"train": {"size": 12, "ops": 2, "contexts": "zoo", "columns": "full"}}}
    plain = build_datasets({**recipe, "prompt_format": "plain"}, tmp_path / "plain", verbose=False)
    chat = build_datasets(recipe, tmp_path / "chat", verbose=False)
    assert chat["train"]["solution"] == plain["train"]["solution"]
    for row in chat["train"]:
        assert [m["role"] for m in row["prompt"]] == ["system", "user"]
        assert plain_prompt(row["prompt"]) == make_prompt(row["problem"], row["question"])
        assert verify(row["completion"], gold_solution=row["solution"]).process_verified


def test_unknown_prompt_format_is_a_config_error():
    from interplay_hf.data.recipe import recipe_from_dict

    with pytest.raises(ConfigError, match="prompt_format"):
        recipe_from_dict({"name": "x", "prompt_format": "html", "splits": {"train": {"size": 1, "ops": 2}}})
