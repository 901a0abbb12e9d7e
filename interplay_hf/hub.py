"""Hub integration: cards, pushes with revisions, and the released checkpoints by name.

One import point for the rest of the package (evaluation, train scripts, pipeline):

- released checkpoints: :func:`resolve_released`, :func:`load_released`, :data:`CATALOGUE`
  (``released.py``, pure Python);
- cards: :func:`render_model_card`, :func:`render_dataset_card` (``hub_cards.py``, templates in
  ``interplay_hf/templates/``);
- pushing: :func:`push_stage`, :func:`push`, :func:`push_dataset`, :func:`plan_push` (``hub_push.py``).

Heavy libraries (transformers, datasets, huggingface_hub's HTTP stack) load only inside the calls.
"""

from interplay_hf.hub_cards import CITATION, render_dataset_card, render_model_card
from interplay_hf.hub_push import (
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
from interplay_hf.released import (
    CATALOGUE,
    REPOS,
    ReleasedCheckpoint,
    UncataloguedCheckpointWarning,
    format_catalogue,
    list_released,
    load_released,
    resolve_released,
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
