"""Contract (b) of the fast decode path (docs/evaluation.md): on a trained model, process and outcome pass@k over
200 problems x 64 samples equal plain ``model.generate``'s (torch's own sampler, its own random stream) within the
paired 95% interval over problems; so does the mean process score (R_pv), the process measure this model moves.
Where a measure is too rare for intervals over problems (fewer than ``SPARSE`` problems with a verified sample, both
runs together: the BCa interval undercovers at such rates, evaluation/stats.py), its counts of verified samples are
compared by the exact two-sided conditional binomial (sign) test at 5% instead.

The model is ``tests/fixtures/decode_model`` (tests/fixtures/README.md): a ~0.86M-parameter Qwen2 pre-trained on
op-2 zoo problems (the mini study v2's fp32 phase-1 base), stored in bf16 (< 2 MB) and run here in fp32. About a
quarter of its op-2 samples are process-verified, so process pass@k itself is compared over problems.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

MODEL = Path(__file__).parent / "fixtures" / "decode_model"
PROBLEMS, SAMPLES, MAX_NEW, TEMPERATURE, BATCH = 200, 64, 96, 0.7, 256  # completions are ~50 tokens
KS = (1, 8, 64)
SPARSE = 10


def _problems():
    """200 op-2 zoo problems drawn as the quickstart's data recipe draws them (3 distractor sentences)."""
    from interplay_hf.data import generate_problem
    from interplay_hf.data.generator import GeneratorConfig
    from interplay_hf.evaluation.problems import to_problems

    config = GeneratorConfig(ip_max=5)
    rows = [generate_problem(op=2, context="zoo", seed=10_000 + i, config=config).to_row() for i in range(PROBLEMS)]
    for i, row in enumerate(rows):
        row["id"] = f"decode-contract-{i}"
    return to_problems(rows, None, None, None)


def _generate_plain(model, prompts, stop, first_row: int = 0):
    """``model.generate(do_sample=True)`` at the evaluation's settings (top-k off), batches of ``BATCH`` rows; each
    batch seeds torch by its first row's index (``first_row`` offsets a slice of the problems), so a slice of whole
    batches draws what the full run draws."""
    import torch

    from interplay_hf.decoding.loop import left_pad

    rows = [ids for ids in prompts for _ in range(SAMPLES)]
    out = []
    for start in range(0, len(rows), BATCH):
        torch.manual_seed(first_row + start)
        input_ids, mask = left_pad(rows[start : start + BATCH], stop.pad_token_id, model.device)
        with torch.inference_mode():
            sequences = model.generate(input_ids=input_ids, attention_mask=mask, do_sample=True,
                                       temperature=TEMPERATURE, top_p=1.0, top_k=0, max_new_tokens=MAX_NEW,
                                       eos_token_id=stop.stop_token_ids + stop.keep_token_ids,
                                       pad_token_id=stop.pad_token_id)
        out += [row[input_ids.shape[1]:].tolist() for row in sequences]
    return out


def _pass_at_k(problems, generated, tokenizer, stop) -> dict[tuple[str, int], list[float]]:
    from interplay_hf.evaluation.passk import pass_at_k
    from interplay_hf.evaluation.sampling import decode_completion
    from interplay_hf.evaluation.scoring import score_problem

    values: dict[tuple[str, int], list[float]] = {}
    for i, problem in enumerate(problems):
        texts = [decode_completion(ids, tokenizer, stop)[0] for ids in generated[i * SAMPLES : (i + 1) * SAMPLES]]
        record, _ = score_problem(problem, texts)
        for kind in ("process", "outcome"):
            for k in KS:
                values.setdefault((kind, k), []).append(pass_at_k(SAMPLES, record[f"{kind}_correct"], k))
        values.setdefault(("process score", SAMPLES), []).append(record["mean_process_score"])
    return values


def per_problem_values(first: int = 0, last: int = PROBLEMS):
    """(fast path, plain generate) per-problem values of problems ``first:last`` (whole batches of the full run)."""
    import torch

    from interplay_hf.evaluation.loading import load_model, load_tokenizer
    from interplay_hf.evaluation.sampling import HFSampler, build_requests, stop_config

    torch.set_num_threads(1)
    tokenizer = load_tokenizer(str(MODEL))
    model = load_model(str(MODEL), dtype="float32")
    assert next(model.parameters()).dtype == torch.float32
    stop = stop_config(tokenizer, model.config, "</answer>")
    problems = _problems()[first:last]
    prompts = [tokenizer(p.prompt, add_special_tokens=False)["input_ids"] for p in problems]
    sampler = HFSampler(model, tokenizer, stop, MAX_NEW, TEMPERATURE, 1.0, batch_size=BATCH)
    ours = _pass_at_k(problems, sampler.generate(build_requests(prompts, [p.id for p in problems], SAMPLES, 0)),
                      tokenizer, stop)
    theirs = _pass_at_k(problems, _generate_plain(model, prompts, stop, first * SAMPLES), tokenizer, stop)
    return ours, theirs


def paired_report(ours, theirs) -> dict:
    """Per measure: (fast path mean, generate mean, paired difference, its 95% interval)."""
    from interplay_hf.evaluation.stats import BootstrapSpec, paired_difference

    report = {}
    for key in theirs:
        diff = paired_difference(theirs[key], ours[key], BootstrapSpec())
        means = [round(sum(v) / len(v), 4) for v in (ours[key], theirs[key])]
        report[key] = (*means, round(diff["difference"], 4), [round(x, 4) for x in diff["ci"]])
    return report


def equal_rates_p_value(a: int, b: int) -> float:
    """Two-sided p-value of ``a`` against ``b`` events at equal exposure: the conditional binomial (sign) test."""
    n = a + b
    return min(1.0, 2 * sum(math.comb(n, i) for i in range(min(a, b) + 1)) / 2**n) if n else 1.0


@pytest.mark.slow
def test_fast_path_pass_at_k_equals_generate_within_the_paired_interval():
    ours, theirs = per_problem_values()
    # a model that answers and gets steps right: the check has something to see
    assert sum(theirs["outcome", 1]) / PROBLEMS > 0.2 and sum(theirs["process score", SAMPLES]) / PROBLEMS > 0.2
    report = paired_report(ours, theirs)
    positive = sum(1 for x, y in zip(ours["process", 1], theirs["process", 1]) if x or y)
    interval_checked = {key: v for key, v in report.items() if key[0] != "process" or positive >= SPARSE}
    assert all(lo <= 0.0 <= hi for *_, (lo, hi) in interval_checked.values()), report
    if positive < SPARSE:  # pass@1 is c / n exactly: back to counts of verified samples
        counts = [round(sum(side["process", 1]) * SAMPLES) for side in (ours, theirs)]
        assert equal_rates_p_value(*counts) >= 0.05, (counts, report)
