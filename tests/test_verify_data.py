"""Every generated gold solution scores as gold (ops 2-20, all contexts, both modes)."""

from __future__ import annotations

import pytest

data = pytest.importorskip("interplay_hf.data")
text = pytest.importorskip("interplay_hf.data.text")

from interplay_hf.verify import SolutionGraph, parse_solution, verify  # noqa: E402

OPS = range(2, 21)
CONTEXTS = ("zoo", "teacher", "movie")


@pytest.mark.parametrize("mode", ["normalforward", "forwardreverse"])
@pytest.mark.parametrize("context", CONTEXTS)
def test_generated_gold_solutions_score_as_gold(context, mode):
    for op in OPS:
        for seed in (0, 1):
            problem = data.generate_problem(op=op, context=context, mode=mode, seed=seed)
            completion = text.make_completion(problem.solution)
            result = verify(completion, gold_solution=problem.solution, gold_answer=str(problem.answer))
            where = f"op={op} context={context} mode={mode} seed={seed}: {result.errors}"
            assert result.process_score == 1.0 and result.process_verified, where
            assert result.outcome and result.outcome_reward and result.strict_reward() == 1.0, where
            # The rendered text the released checkpoints emit without the closing tag scores the same.
            open_tag = completion.removesuffix(" </answer>")
            assert verify(open_tag, gold_solution=problem.solution).mixed_reward() == 1.0, where


@pytest.mark.parametrize("context", CONTEXTS)
def test_forward_gold_graph_column_matches_the_parsed_solution(context):
    """For forward problems the generator's gold_graph equals the official parse of its solution."""
    for op in OPS:
        problem = data.generate_problem(op=op, context=context, mode="normalforward", seed=0)
        assert SolutionGraph.from_dict(problem.gold_graph) == parse_solution(problem.solution).to_graph(), op
        completion = text.make_completion(problem.solution)
        assert verify(completion, gold_graph=problem.gold_graph).process_verified, op
