"""Model-facing text (docs/data-format.md §5): what the released checkpoints read and write.

``text = prompt + completion``; the prompt ends with ``<solution>`` and the model continues with
`` Define ... </solution> <answer> N </answer>``. No BOS, no chat template; pre-training appends the
tokenizer's EOS itself (not part of ``text``).
"""

from __future__ import annotations


def answer_from_solution(solution: str) -> tuple[str, str]:
    """Split a gold solution into (body without 'Answer: N.', N) like the official compose_text."""
    body, sep, tail = solution.rpartition("Answer:")
    if not sep:
        return solution.strip(), ""
    lines = tail.strip().splitlines()
    answer = lines[0].strip().rstrip(".") if lines else ""
    return body.strip(), answer


def make_prompt(problem: str, question: str) -> str:
    """``<question> {problem} {question} </question> <solution>``."""
    return f"<question> {(problem.strip() + ' ' + question.strip()).strip()} </question> <solution>"


def make_completion(solution: str) -> str:
    """`` {body} </solution> <answer> {N} </answer>`` (leading space: it continues the prompt)."""
    body, answer = answer_from_solution(solution)
    return f" {body} </solution> <answer> {answer} </answer>"


def make_text(problem: str, question: str, solution: str) -> str:
    return make_prompt(problem, question) + make_completion(solution)
