"""Hub integration: cards, pushes with revisions, and the released checkpoints by name.

One import point for the rest of the package (evaluation, train scripts, pipeline) and for users
(``from interplay_hf.hub import load_released``):

- released checkpoints: :data:`CATALOGUE` (``catalogue.py``, the table, pure Python), and
  :func:`resolve_released`, :func:`load_released` (``released.py``);
- cards: :func:`render_model_card`, :func:`render_dataset_card` (``cards.py``, what they say read by
  ``card_inputs.py``; templates in ``interplay_hf/templates/``);
- names: repo ids, revisions and subfolders checked before any upload (``names.py``);
- pushing: :func:`plan_push` and :func:`plan_stage_upload` decide what goes where, as pure logic
  (``upload_plan.py``); :func:`push_stage`, :func:`push`, :func:`push_dataset` send it (``push.py``), and
  ``TrainedStagePush`` does it for a training stage's ``push_to_hub: true``;
- the ``push`` / ``card`` / ``released`` sub-commands: ``cli.py``.

Modules of this package import each other by their own names (``interplay_hf.hub.push``), never this
``__init__``. Heavy libraries (transformers, datasets, huggingface_hub's HTTP stack) load only inside the calls.
"""

from interplay_hf.hub.cards import CITATION, render_dataset_card, render_model_card
from interplay_hf.hub.catalogue import CATALOGUE, REPOS, ReleasedCheckpoint, UncataloguedCheckpointWarning
from interplay_hf.hub.names import sanitize_revision
from interplay_hf.hub.push import TrainedStagePush, execute_plan, push, push_dataset, push_stage
from interplay_hf.hub.released import format_catalogue, list_released, load_released, resolve_released
from interplay_hf.hub.upload_plan import UploadItem, UploadPlan, plan_push, plan_stage_upload

__all__ = [
    "CATALOGUE",
    "CITATION",
    "REPOS",
    "ReleasedCheckpoint",
    "TrainedStagePush",
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
