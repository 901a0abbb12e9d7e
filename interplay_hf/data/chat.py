"""Chat-format rows for real instruct models: a system prompt, a user message that teaches the step format, and
(for SFT warm-up) an assistant message with the gold steps.

From-scratch and released models read the plain text of docs/data-format.md §5 (``<question> … </question> <solution>``).
An instruct model (Qwen2.5-Instruct, Llama-3.2-Instruct …) reads chat messages through its own chat template and
has never seen the paper's step format, so the user message states it: one ``Define <quantity> as <letter>; so
<letter> = … = <value>.`` step per quantity, then ``<answer> N </answer>``. That is all the verifier needs: it
scores the ``Define`` steps and the ``<answer>`` tag wherever they sit in the reply, so prose and markdown
around them cost nothing (docs/verifier.md), and the same reward functions score plain and chat completions.

The problem text is the first paragraph of the user message, so :func:`plain_prompt` recovers the exact plain
prompt of a chat prompt: deduplication keys (``data.build.problem_key``) are the same in both formats.

Convert a built (plain) dataset: ``python -m interplay_hf.data.chat <dataset dir> --output-dir <dir>``.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path
from typing import Any

from interplay_hf.data.report import REPORT_FILE
from interplay_hf.data.text import answer_from_solution, make_prompt

DEFAULT_SYSTEM_PROMPT = (
    "You are a careful assistant that solves math word problems step by step and shows every calculation."
)
ANSWER_FORMAT_INSTRUCTION = (
    "Solve the problem step by step. Write one step for every quantity you need, in the order you compute "
    "them, exactly in this form:\n"
    "Define <quantity> as <letter>; so <letter> = <expression> = <value>.\n"
    "Name each quantity as the problem does, give each one a new single letter, use only letters defined in "
    "earlier steps, and write out every arithmetic operation. Finish with the final number inside answer tags: "
    "<answer> N </answer>.\n"
    "Example of the format (not this problem):\n"
    "Define apples in Box A as a; so a = 3.\n"
    "Define apples in Box B as b; so b = a + 2 = 3 + 2 = 5.\n"
    "Define total apples in the boxes as T; so T = a + b = 3 + 5 = 8.\n"
    "<answer> 8 </answer>"
)
PROMPT_FORMATS = ("plain", "chat")
# The plain prompt and completion of docs/data-format.md §5, which rows without problem/question/solution are converted from.
_PLAIN_PROMPT = re.compile(r"^\s*<question>\s*(.*?)\s*</question>\s*<solution>\s*$", re.DOTALL)
_PLAIN_COMPLETION = re.compile(r"^\s*(.*?)\s*</solution>\s*<answer>\s*(.*?)\s*</answer>\s*$", re.DOTALL)
_STEP_START = re.compile(r"(?=\bDefine\s)")


def problem_text(problem: str, question: str) -> str:
    """The problem and its question as one paragraph, exactly as inside the plain prompt's ``<question>`` tags."""
    return (problem.strip() + " " + question.strip()).strip()


def make_user_message(problem: str, question: str, instruction: str = ANSWER_FORMAT_INSTRUCTION) -> str:
    """Problem paragraph first (so :func:`plain_prompt` can recover it), then the answer-format instruction."""
    text = problem_text(problem, question)
    return f"{text}\n\n{instruction}" if instruction else text


def make_chat_prompt(
    problem: str,
    question: str,
    system_prompt: str | None = DEFAULT_SYSTEM_PROMPT,
    instruction: str = ANSWER_FORMAT_INSTRUCTION,
) -> list[dict[str, str]]:
    """``[system, user]`` messages (no system message when ``system_prompt`` is empty, e.g. for Gemma)."""
    messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
    messages.append({"role": "user", "content": make_user_message(problem, question, instruction)})
    return messages


def _chat_reply(body: str, answer: str) -> str:
    steps = [s.strip() for s in _STEP_START.split(body) if s.strip()]
    return "\n".join(steps) + f"\n<answer> {answer} </answer>"


def make_chat_solution(solution: str) -> str:
    """The gold solution as an assistant reply: one ``Define`` step per line, then ``<answer> N </answer>``."""
    return _chat_reply(*answer_from_solution(solution))


def chat_solution_from_completion(completion: str) -> str:
    """The same reply from a plain completion `` {body} </solution> <answer> N </answer>`` (``sft`` rows)."""
    match = _PLAIN_COMPLETION.match(completion)
    if match is None:
        raise ValueError(f"not a plain completion '… </solution> <answer> N </answer>': {completion[:80]!r}")
    return _chat_reply(match.group(1), match.group(2))


def make_chat_completion(solution: str) -> list[dict[str, str]]:
    """``[assistant]`` message with the gold steps and answer tags (SFT warm-up targets)."""
    return [{"role": "assistant", "content": make_chat_solution(solution)}]


def split_plain_prompt(prompt: str) -> str:
    """The problem paragraph inside a plain prompt ``<question> … </question> <solution>``."""
    match = _PLAIN_PROMPT.match(prompt)
    if match is None:
        raise ValueError(f"not a plain prompt '<question> … </question> <solution>': {prompt[:80]!r}")
    return match.group(1)


def is_chat_prompt(prompt: Any) -> bool:
    """A non-empty list of ``{"role": …, "content": …}`` messages (what TRL calls conversational)."""
    return isinstance(prompt, list) and bool(prompt) and all(isinstance(m, dict) and "role" in m for m in prompt)


def plain_prompt(prompt: Any) -> str:
    """The plain prompt (docs/data-format.md §5) of a plain or chat prompt: the key both formats deduplicate on."""
    if isinstance(prompt, str):
        return prompt
    if not is_chat_prompt(prompt):
        raise ValueError(f"a prompt is a string or a list of chat messages, got {type(prompt).__name__}")
    users = [m.get("content") or "" for m in prompt if m["role"] == "user"]
    if not users:
        raise ValueError("a chat prompt without a user message")
    return make_prompt(users[0].split("\n\n", 1)[0], "")


def to_chat_format(
    example: dict[str, Any],
    system_prompt: str | None = DEFAULT_SYSTEM_PROMPT,
    instruction: str = ANSWER_FORMAT_INSTRUCTION,
    completion: bool | None = None,
) -> dict[str, Any]:
    """``datasets.map`` function: conversational ``prompt`` (and ``completion``) for a row of the data layer.

    The problem comes from ``problem`` + ``question`` (full rows) or from a plain ``prompt`` (the ``rl`` and
    ``sft`` column presets); the reply from ``solution``, else from the plain ``completion`` (``sft`` preset).
    ``completion``: None converts it when the row has one, True always adds it, False never. Only the returned
    columns change: ``solution, answer, gold_graph, op, context, id`` … stay as they are, so the rewards and the
    evaluation verify chat replies against the same gold.
    """
    if example.get("problem") is not None and example.get("question") is not None:
        problem, question = example["problem"], example["question"]
    elif isinstance(example.get("prompt"), str):
        problem, question = split_plain_prompt(example["prompt"]), ""
    elif is_chat_prompt(example.get("prompt")):  # already converted: re-render (e.g. another system prompt)
        problem, question = split_plain_prompt(plain_prompt(example["prompt"])), ""
    else:
        raise ValueError("to_chat_format: a row needs 'problem' and 'question' columns or a plain 'prompt'")
    out: dict[str, Any] = {"prompt": make_chat_prompt(problem, question, system_prompt, instruction)}
    wanted = "completion" in example if completion is None else completion
    if wanted:
        plain = example.get("completion")
        if example.get("solution"):
            out["completion"] = make_chat_completion(example["solution"])
        elif isinstance(plain, str):
            out["completion"] = [{"role": "assistant", "content": chat_solution_from_completion(plain)}]
        elif is_chat_prompt(plain):
            out["completion"] = plain
        else:
            raise ValueError("to_chat_format: a chat completion needs the gold 'solution' or a plain 'completion'")
    return out


def as_chat_prompt(prompt: Any, system_prompt: str | None = DEFAULT_SYSTEM_PROMPT) -> list[dict[str, str]]:
    """Messages for any prompt: chat prompts as they are, docs/data-format.md §5 prompts with the system prompt and the
    step-format instruction (as ``prompt_format: chat`` data), other free text as a single user message."""
    if is_chat_prompt(prompt):
        return prompt
    try:
        return to_chat_format({"prompt": prompt}, system_prompt=system_prompt, completion=False)["prompt"]
    except ValueError:
        return [{"role": "user", "content": str(prompt)}]


def convert_dataset(dataset, system_prompt: str | None = DEFAULT_SYSTEM_PROMPT,
                    instruction: str = ANSWER_FORMAT_INSTRUCTION, num_proc: int | None = None):
    """A ``Dataset`` or ``DatasetDict`` with chat prompts (and completions where it has them)."""
    kwargs = {"system_prompt": system_prompt, "instruction": instruction}
    return dataset.map(to_chat_format, fn_kwargs=kwargs, num_proc=num_proc, desc="chat format")


def main(argv: list[str] | None = None) -> int:
    """``python -m interplay_hf.data.chat <dataset dir> --output-dir <dir>``: chat copy of a built dataset."""
    import datasets

    parser = argparse.ArgumentParser(prog="python -m interplay_hf.data.chat", description=main.__doc__)
    parser.add_argument("dataset", help="a directory written by `interplay-hf data build` (save_to_disk)")
    parser.add_argument("--output-dir", "--output_dir", dest="output_dir", required=True)
    parser.add_argument("--system-prompt", default=DEFAULT_SYSTEM_PROMPT, help="'' for no system message")
    parser.add_argument("--num-proc", type=int, default=None)
    args = parser.parse_args(argv)
    from interplay_hf.data.saved import load_built

    converted = convert_dataset(load_built(args.dataset), args.system_prompt or None, num_proc=args.num_proc)
    converted.save_to_disk(args.output_dir)
    # The build report names the eval splits (the evaluation reads it) and records how the rows were made.
    for name in (REPORT_FILE, "recipe.yaml"):
        if (Path(args.dataset) / name).is_file():
            shutil.copyfile(Path(args.dataset) / name, Path(args.output_dir) / name)
    is_dict = isinstance(converted, datasets.DatasetDict)
    splits = {k: len(v) for k, v in converted.items()} if is_dict else len(converted)
    print(f"[chat] {args.dataset} -> {args.output_dir}: {splits}", file=sys.stderr)
    return 0


__all__ = [
    "ANSWER_FORMAT_INSTRUCTION",
    "DEFAULT_SYSTEM_PROMPT",
    "PROMPT_FORMATS",
    "as_chat_prompt",
    "chat_solution_from_completion",
    "convert_dataset",
    "is_chat_prompt",
    "make_chat_completion",
    "make_chat_prompt",
    "make_chat_solution",
    "make_user_message",
    "plain_prompt",
    "problem_text",
    "split_plain_prompt",
    "to_chat_format",
]

if __name__ == "__main__":
    sys.exit(main())
