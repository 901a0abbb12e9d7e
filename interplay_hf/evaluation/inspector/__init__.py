"""The inspector: one self-contained HTML page of evaluated samples, each step marked against the gold graph.

``data`` builds the JSON the page embeds from eval folders (pure, tested without a browser); ``page`` puts it
into the template ``interplay_hf/templates/inspector.html`` and writes the file. docs/inspector.md.
"""

from interplay_hf.evaluation.inspector.data import (
    DEFAULT_MAX_SAMPLES,
    PROBLEMS_FILE,
    SAMPLES_FILE,
    build_payload,
    load_eval_folder,
    problem_row,
)
from interplay_hf.evaluation.inspector.page import PAGE_FILE, decode_payload, render_page, write_inspector

__all__ = [
    "DEFAULT_MAX_SAMPLES",
    "PAGE_FILE",
    "PROBLEMS_FILE",
    "SAMPLES_FILE",
    "build_payload",
    "decode_payload",
    "load_eval_folder",
    "problem_row",
    "render_page",
    "write_inspector",
]
