"""Chance baseline: pass@k of a guesser that never reads the problem.

At small op the answers are tiny (op 2–3: 1–4), so outcome pass@k is meaningless without a floor:
drawing k i.i.d. answers from op's answer distribution ``p`` hits a problem whose answer is ``a``
with probability ``1 - (1 - p(a))^k``. The baseline of a table cell is that probability averaged over
the cell's problems. It is a floor for *outcome* pass@k; a blind guesser never writes a verified
solution, so process-verified pass@k beating it says the model reasons rather than guesses.

``p`` is estimated per op, pooled over contexts (the generator's answer law depends on op, not on the
story), either

* from a fresh sample of M generated problems per op (``--chance-samples M``, default 1000; ~1–2 ms
  a problem), independent of the eval set altogether (default for the ops the generator supports). The
  answers are deterministic, so they are cached on disk (``cache.py``), keyed by the op, the contexts'
  definitions, M, the seed and the generator's source: the study evaluates many models on the same ops, and
  only the first evaluation pays the ~1.5 s an op; or
* from the eval set itself, **leave-one-out**: ``p(a) = (count(a) - 1) / (N - 1)`` for a problem
  whose own answer is ``a``, so a problem never counts towards guessing itself (``--chance-samples 0``,
  and for ops the generator does not know). A context the generator does not know is an error that
  says to pass ``--chance-samples 0``: guessing from another context's answers would not be this baseline.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation

from interplay_hf.evaluation.cache import cached_json


def answer_key(answer: str | int | float | None) -> str:
    """Canonical form for counting answers, matching the numeric evaluation check (`007`, `7.0` → `7`)."""
    if answer is None:
        return ""
    text = str(answer).strip().rstrip(".").strip()
    try:
        value = Decimal(text)
    except InvalidOperation:
        return text
    if not value.is_finite():
        return text
    normal = value.normalize()
    return str(normal.quantize(Decimal(1))) if normal == normal.to_integral_value() else str(normal)


class AnswerDistribution:
    """Counts of answers per op; ``hit_prob`` gives the guesser's p(answer)."""

    def __init__(self, leave_one_out: bool = True) -> None:
        self.leave_one_out = leave_one_out
        self.counts: dict[int, Counter] = {}
        self.source: dict[int, str] = {}  # per op: "generated" or "eval set (leave-one-out)"

    def add(self, op: int, answer: str | int | None) -> None:
        self.counts.setdefault(op, Counter())[answer_key(answer)] += 1

    def update(self, pairs: Iterable[tuple[int, str | int | None]]) -> AnswerDistribution:
        for op, answer in pairs:
            self.add(op, answer)
        return self

    def hit_prob(self, op: int, answer: str | int | None) -> float:
        """p(answer) under op's distribution (leave-one-out removes the problem itself)."""
        counts = self.counts.get(op)
        if not counts:
            return 0.0
        count, total = counts[answer_key(answer)], sum(counts.values())
        if self.source.get(op, "eval" if self.leave_one_out else "generated").startswith("eval"):
            count, total = count - 1, total - 1
        return max(count, 0) / total if total > 0 else 0.0


def chance_pass_at_k(hit_prob: float, k: int) -> float:
    """P(at least one of k i.i.d. guesses hits) for a problem the guesser hits with probability ``hit_prob``."""
    return 1.0 - (1.0 - hit_prob) ** k


def chance_distribution(eval_answers: Iterable[tuple[int, str]], contexts: list[str], samples_per_op: int,
                        seed: int = 10**9) -> AnswerDistribution:
    """Per op: generated answers (``samples_per_op`` > 0 and the generator knows the op and contexts), else the
    eval set's answers with leave-one-out.

    Generated problems are spread over ``contexts`` and seeded far above the seeds data recipes use, so the
    sample does not reproduce eval problems.
    """
    eval_answers = list(eval_answers)
    ops = sorted({op for op, _ in eval_answers})
    dist = AnswerDistribution(leave_one_out=True)
    from interplay_hf.data import SUPPORTED_OPS

    use_generator = samples_per_op > 0 and bool(contexts)
    if use_generator:
        from interplay_hf.data import get_context
        from interplay_hf.errors import ConfigError

        for c in contexts:
            try:
                get_context(c)
            except ConfigError as err:  # a silent fallback would change what the chance column means
                raise ConfigError(f"chance baseline: {err}. Pass --chance-samples 0 to estimate it from the eval "
                                  "set's own answers (leave-one-out) instead of generated problems.") from None
    for op in ops:
        if use_generator and op in SUPPORTED_OPS:
            for answer in generated_answers(op, contexts, samples_per_op, seed):
                dist.add(op, answer)
            dist.source[op] = f"generated ({samples_per_op} problems)"
        else:
            for op_, answer in eval_answers:
                if op_ == op:
                    dist.add(op, answer)
            dist.source[op] = "eval set (leave-one-out)"
    return dist


def generated_answers(op: int, contexts: list[str], samples: int, seed: int) -> list[int]:
    """The answers of ``samples`` generated op-``op`` problems spread over ``contexts`` (cached on disk)."""
    from interplay_hf.data import generator as generator_module
    from interplay_hf.data import get_context, problem_answer
    from interplay_hf.data import graph as graph_module

    def draw() -> list[int]:  # the answer alone: no text is rendered
        return [problem_answer(op=op, context=contexts[i % len(contexts)], seed=seed + op * 1_000_003 + i)
                for i in range(samples)]

    key = {"op": op, "contexts": [repr(get_context(c)) for c in contexts], "samples": samples, "seed": seed}
    return cached_json("chance", key, [generator_module, graph_module], draw)
