"""Load the released dataset ``Interplay-LM-Reasoning/composition`` into our row schema.

The release stores JSON lines ``train/<op>/op<op>_shard<k>_1B.jsonl`` with the columns
``problem, question, solution, op, id, template, mode, length, d``. We read them with
``datasets.load_dataset`` (from the Hub, or from a local copy with the same layout) and add
``context, text, prompt, completion, answer, gold_graph``; ``id`` becomes our content id (the
released ``id`` is a salted ``hash() % 23`` and collides constantly).
"""

from __future__ import annotations

import json
import os

from interplay_hf.data.contexts import get_context
from interplay_hf.data.generator import ROW_COLUMNS, check_op, content_id
from interplay_hf.data.gold import GoldParseError, gold_graph_from_solution
from interplay_hf.data.text import answer_from_solution, make_completion, make_prompt
from interplay_hf.errors import ConfigError

RELEASED_REPO = "Interplay-LM-Reasoning/composition"


def released_data_files(ops: list[int] | None = None) -> list[str]:
    """File patterns of the release layout, for all ops or the given ones."""
    if not ops:
        return ["train/*/*.jsonl"]
    return [f"train/{check_op(op, 'ops')}/*.jsonl" for op in ops]


def to_schema(row: dict) -> dict:
    """One released row -> our columns (released schema + context, text, prompt, completion, answer, gold_graph)."""
    problem, question, solution = row["problem"], row["question"], row["solution"]
    template = row.get("template") or ""
    try:
        context = get_context(template).name
    except ConfigError:
        context = template  # a template we do not know: keep its name
    try:
        graph = json.dumps(gold_graph_from_solution(solution), ensure_ascii=False)
    except GoldParseError:
        graph = ""
    prompt, completion = make_prompt(problem, question), make_completion(solution)
    return {
        "problem": problem,
        "question": question,
        "solution": solution,
        "op": int(row["op"]),
        "id": content_id(problem, question, solution),
        "template": template,
        "mode": row.get("mode") or "normalforward",
        "length": row.get("length") or "zero_context",
        "d": int(row.get("d") or 2),
        "context": context,
        "text": prompt + completion,
        "prompt": prompt,
        "completion": completion,
        "answer": answer_from_solution(solution)[1],
        "gold_graph": graph,
    }


def load_released(
    repo_id: str = RELEASED_REPO,
    *,
    ops: list[int] | None = None,
    data_dir: str | os.PathLike | None = None,
    revision: str | None = None,
    token: str | bool | None = None,
    streaming: bool = False,
    num_proc: int | None = None,
    cache_dir: str | None = None,
):
    """The released rows (split ``train``) as a ``Dataset`` (or ``IterableDataset`` when streaming).

    ``data_dir`` reads a local directory with the release layout instead of the Hub. Offline
    (``HF_HUB_OFFLINE=1``) a repo that is not in the cache raises ``ConfigError``.
    """
    import datasets

    from interplay_hf.data.build import row_features

    source = str(data_dir) if data_dir is not None else repo_id
    if data_dir is not None and not os.path.isdir(source):
        raise ConfigError(f"data_dir: {source!r} is not a directory with train/<op>/*.jsonl files")
    files = released_data_files(ops)
    try:
        ds = datasets.load_dataset(
            source,
            data_files={"train": files},
            split="train",
            revision=revision,
            token=token,
            streaming=streaming,
            cache_dir=cache_dir,
        )
    except FileNotFoundError as err:
        raise ConfigError(f"ops: no released files match {files} in {source!r} ({err})") from err
    except (ConnectionError, OSError) as err:
        if _offline():
            raise ConfigError(
                f"cannot load {source!r}: HF_HUB_OFFLINE=1 and it is not in the local cache; run once online, "
                "or pass data_dir= a local copy with the train/<op>/*.jsonl layout"
            ) from err
        raise ConfigError(f"cannot load {source!r} from the Hub: {err}") from err
    except Exception as err:  # datasets raises several types for a missing/gated repo
        if type(err).__name__ in {"DatasetNotFoundError", "DataFilesNotFoundError", "EmptyDatasetError"}:
            raise ConfigError(f"cannot load {source!r}: {err}") from err
        raise
    features = row_features(ROW_COLUMNS)
    kwargs = {} if streaming else {"num_proc": num_proc, "desc": "Converting released rows"}
    return ds.map(to_schema, remove_columns=list(ds.column_names or []), features=features, **kwargs)


def _offline() -> bool:
    try:
        from huggingface_hub import constants

        if constants.HF_HUB_OFFLINE:
            return True
    except ImportError:  # pragma: no cover
        pass
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}
