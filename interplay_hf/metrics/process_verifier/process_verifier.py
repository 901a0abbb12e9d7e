"""Process-verifier metric for ``evaluate``: outcome, process-verified and strict accuracy, error counts.

Load it by path (works offline): ``evaluate.load("<repo>/interplay_hf/metrics/process_verifier")`` or
``interplay_hf.metrics.load_process_verifier()``. Predictions are completions (the text after the
prompt's ``<solution>``); references are the gold solutions (``Define … Answer: N.``), from which the gold
graph and the gold answer are taken, exactly as the official scorer does.
"""

import datasets
import evaluate

from interplay_hf.paper import ARXIV_URL, CITATION
from interplay_hf.verify import ERROR_TYPES, verify

_DESCRIPTION = """\
Scores reasoning completions in the GSM-Infinite "Define ... as X; so X = ..." format against gold
solutions with the process verifier of arXiv 2512.07783 (compat mode reproduces the official scorer).
Reports outcome accuracy (numeric answer check used in evaluation), process accuracy (the paper's
process-verified correctness: no missing step, no wrong value, no wrong dependency, right answer; extra
steps allowed), strict accuracy (the strict RL reward: right answer and a perfect process, extra steps
included), the mean process score R_pv and mixed reward, and per error type the number of predictions
showing it.
"""

_KWARGS_DESCRIPTION = """\
Args:
    predictions (list of str): completions (e.g. " Define ... </solution> <answer> 6").
    references (list of str): gold solutions (e.g. "Define ... so E = 6. Answer: 6.").
    mode (str, optional): "compat" (default, the official semantics) or "strict_tokens".
    alpha (float, optional): outcome weight of the mixed reward, default 0.2.
Returns:
    outcome_accuracy, outcome_reward_accuracy, process_accuracy, strict_accuracy, mean_process_score,
    mean_mixed_reward (floats in [0, 1]), num_predictions (int), error_counts (dict: error type -> int).
Examples:
    >>> metric = evaluate.load("interplay_hf/metrics/process_verifier")
    >>> gold = "Define adult bear in South Zoo as B; so B = 2. Answer: 2."
    >>> metric.compute(predictions=[" Define adult bear in South Zoo as B; so B = 2. </solution> <answer> 2"],
    ...                references=[gold])["process_accuracy"]
    1.0
"""



@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class ProcessVerifier(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {"predictions": datasets.Value("string"), "references": datasets.Value("string")}
            ),
            reference_urls=[ARXIV_URL],
        )

    def _compute(self, predictions, references, mode="compat", alpha=0.2):
        n = len(predictions)
        counts = dict.fromkeys(ERROR_TYPES, 0)
        outcome = outcome_reward = process = strict = 0
        process_sum = mixed_sum = 0.0
        for prediction, reference in zip(predictions, references):
            result = verify(prediction or "", gold_solution=reference, mode=mode)
            outcome += result.outcome
            outcome_reward += result.outcome_reward
            process += result.process_verified
            strict += result.strict_reward() == 1.0
            process_sum += result.process_score
            mixed_sum += result.mixed_reward(alpha)
            for error in result.errors:
                counts[error] += 1

        def mean(value):
            return value / n if n else 0.0

        return {
            "outcome_accuracy": mean(outcome),
            "outcome_reward_accuracy": mean(outcome_reward),
            "process_accuracy": mean(process),
            "strict_accuracy": mean(strict),
            "mean_process_score": mean(process_sum),
            "mean_mixed_reward": mean(mixed_sum),
            "num_predictions": n,
            "error_counts": counts,
        }
