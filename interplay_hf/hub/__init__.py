"""Hub integration: cards, pushes with revisions, and the released checkpoints by name.

One import point for the rest of the package (evaluation, train scripts, pipeline) and for users
(``from interplay_hf.hub import load_released``):

- released checkpoints: :func:`resolve_released`, :func:`load_released`, :data:`CATALOGUE`
  (``catalogue.py``, pure Python);
- cards: :func:`render_model_card`, :func:`render_dataset_card` (``cards.py``, what they say read by
  ``card_inputs.py``; templates in ``interplay_hf/templates/``);
- pushing: :func:`push_stage`, :func:`push`, :func:`push_dataset`, :func:`plan_push` (``push.py``);
- the ``push`` / ``card`` / ``released`` sub-commands: ``cli.py``.

Modules of this package import each other by their own names (``interplay_hf.hub.push``), never this
``__init__``. Heavy libraries (transformers, datasets, huggingface_hub's HTTP stack) load only inside the calls.
"""

from interplay_hf.hub.cards import CITATION, render_dataset_card, render_model_card
from interplay_hf.hub.catalogue import (
    CATALOGUE,
    REPOS,
    ReleasedCheckpoint,
    UncataloguedCheckpointWarning,
    format_catalogue,
    list_released,
    load_released,
    resolve_released,
)
from interplay_hf.hub.push import (
    UploadItem,
    UploadPlan,
    execute_plan,
    plan_push,
    plan_stage_upload,
    push,
    push_dataset,
    push_stage,
    sanitize_revision,
)

__all__ = [
    "CATALOGUE",
    "CITATION",
    "REPOS",
    "ReleasedCheckpoint",
    "UncataloguedCheckpointWarning",
    "UploadItem",
    "UploadPlan",
    "execute_plan",
    "format_catalogue",
    "list_released",
    "load_released",
    "plan_push",
    "plan_stage_upload",
    "push",
    "push_dataset",
    "push_stage",
    "render_dataset_card",
    "render_model_card",
    "resolve_released",
    "sanitize_revision",
]
