"""``evaluate`` metrics shipped with the package (load them by path, offline).

>>> import evaluate
>>> from interplay_hf.metrics import PROCESS_VERIFIER_PATH
>>> metric = evaluate.load(PROCESS_VERIFIER_PATH)  # doctest: +SKIP
>>> metric.compute(predictions=[completion], references=[gold_solution])  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

PROCESS_VERIFIER_PATH = str(Path(__file__).resolve().parent / "process_verifier")


def load_process_verifier(**kwargs):
    """``evaluate.load`` of the process-verifier metric (local module, no Hub access)."""
    import evaluate

    return evaluate.load(PROCESS_VERIFIER_PATH, **kwargs)
