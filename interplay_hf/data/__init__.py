"""Synthetic iGSM problems in the official format, and datasets built from them (pure Python here).

Heavy modules (``build``, ``released``, ``cli``) import ``datasets`` lazily; importing this package
stays cheap.
"""

from interplay_hf.data.contexts import CONTEXTS, Context, context_names, get_context, register_context
from interplay_hf.data.generator import (
    FORWARD,
    MODES,
    REVERSE,
    ROW_COLUMNS,
    SUPPORTED_OPS,
    GeneratorConfig,
    Problem,
    content_id,
    generate_problem,
    problem_answer,
    problem_key,
    stable_seed,
)

__all__ = [
    "CONTEXTS",
    "Context",
    "FORWARD",
    "GeneratorConfig",
    "MODES",
    "Problem",
    "REVERSE",
    "ROW_COLUMNS",
    "SUPPORTED_OPS",
    "content_id",
    "context_names",
    "generate_problem",
    "problem_answer",
    "get_context",
    "problem_key",
    "register_context",
    "stable_seed",
]
