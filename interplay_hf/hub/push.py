"""Pushing stages, runs and datasets to the Hub: the network half of a push (the plan is ``upload_plan.py``).

Tokens come only from the standard ``huggingface_hub`` login or ``HF_TOKEN``; they are never taken as
arguments, printed or written, and every Hub failure becomes one line without them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from interplay_hf.errors import ConfigError
from interplay_hf.hub.names import check_repo_id, check_revision
from interplay_hf.hub.upload_plan import UploadPlan, has_weights, is_dataset_dir, plan_push, stage_files


def _hub_error(err: Exception, repo_id: str) -> ConfigError | ConnectionError:
    """A user-facing message for a failed Hub call (never includes a token): the user's mistake (offline mode,
    login, access, a refused request) is a ConfigError (exit 2); the network or a server error is a
    ConnectionError (the I/O policy, exit 1)."""
    from huggingface_hub import constants
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    from interplay_hf.redact import scrub

    if isinstance(err, OfflineModeIsEnabled):
        return ConfigError(f"cannot push to {repo_id}: HF_HUB_OFFLINE=1 is set. Unset it to push, or use --dry-run to see the plan.")
    if isinstance(err, HfHubHTTPError):
        status = getattr(getattr(err, "response", None), "status_code", None)
        if status == 401:
            return ConfigError(f"cannot push to {repo_id}: not authenticated. Run `hf auth login` or set HF_TOKEN.")
        if status == 403:
            return ConfigError(f"cannot push to {repo_id}: your token has no write access to it (check the namespace and token scope).")
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        message = scrub(f"the Hub refused the push to {repo_id} (HTTP {status}): {first}")
        return ConnectionError(message) if status is not None and status >= 500 else ConfigError(message)
    return ConnectionError(scrub(f"cannot reach the Hub at {constants.ENDPOINT} to push {repo_id} (a network "
                                 f"problem, not the repo id): {type(err).__name__}: {err}"))


def _hub_exceptions() -> tuple[type[BaseException], ...]:
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    types: list[type[BaseException]] = [OfflineModeIsEnabled, HfHubHTTPError, ConnectionError, TimeoutError, OSError]
    try:
        import httpx2

        types.append(httpx2.HTTPError)
    except ImportError:  # older huggingface_hub versions use httpx
        import httpx

        types.append(httpx.HTTPError)
    return tuple(types)


def execute_plan(plan: UploadPlan, *, commit_message: str | None = None) -> list[str]:
    """Create the repo and branches, and send one commit per revision. Returns the commit URLs."""
    from huggingface_hub import CommitOperationAdd, HfApi

    api = HfApi()
    urls = []
    try:
        api.create_repo(plan.repo_id, repo_type=plan.repo_type, private=plan.private, exist_ok=True)
        for revision in plan.revisions():
            if revision is not None:
                api.create_branch(plan.repo_id, branch=revision, repo_type=plan.repo_type, exist_ok=True)
            items = [i for i in plan.items if i.revision == revision]
            operations = [
                CommitOperationAdd(path_in_repo=i.path_in_repo, path_or_fileobj=str(i.local_path) if i.local_path is not None else i.content)
                for i in items
            ]
            stages = sorted({t.name for t in plan.stages if t.revision == revision} or {t.name for t in plan.stages})
            info = api.create_commit(
                plan.repo_id,
                operations=operations,
                commit_message=commit_message or f"interplay-hf: push {', '.join(stages)}",
                revision=revision,
                repo_type=plan.repo_type,
            )
            urls.append(str(info.commit_url))
    except _hub_exceptions() as err:
        raise _hub_error(err, plan.repo_id) from None
    return urls


def push(
    path: str | Path,
    repo_id: str,
    *,
    revision: str | None = None,
    subfolder: str | None = None,
    private: bool | None = None,
    include_optimizer: bool = False,
    results: Any = None,
    layout: str | None = None,
    dry_run: bool = False,
    commit_message: str | None = None,
) -> UploadPlan:
    """Plan and (unless ``dry_run``) push a stage or a run dir. Returns the plan."""
    plan = plan_push(
        path, repo_id, revision=revision, subfolder=subfolder, include_optimizer=include_optimizer, results=results, private=private, layout=layout
    )
    if not dry_run:
        execute_plan(plan, commit_message=commit_message)
    return plan


def push_stage(
    output_dir: str | Path,
    repo_id: str,
    *,
    revision: str | None = None,
    subfolder: str | None = None,
    private: bool | None = None,
    include_optimizer: bool = False,
    results: Any = None,
    dry_run: bool = False,
) -> UploadPlan:
    """Push one finished training stage with its card; what train scripts call after ``save_model``.

    ``revision``: a branch (created if missing; default main). ``subfolder``: a path in the repo,
    e.g. ``my_setting/rl/op11-14`` to mirror the released repos.
    """
    if not has_weights(Path(output_dir)):
        stage_files(Path(output_dir))  # raises the explanatory ConfigError
    return push(
        output_dir,
        repo_id,
        revision=revision,
        subfolder=subfolder,
        private=private,
        include_optimizer=include_optimizer,
        results=results,
        dry_run=dry_run,
    )


def push_dataset(
    dataset_dir: str | Path,
    repo_id: str,
    *,
    revision: str | None = None,
    private: bool | None = None,
    report: Any = None,
    dry_run: bool = False,
) -> str:
    """Push a built dataset (``save_to_disk`` dir) with ``DatasetDict.push_to_hub`` and our dataset card.

    The card keeps the ``configs``/``dataset_info`` metadata that ``push_to_hub`` writes. Returns the
    rendered card text (also in dry-run).
    """
    from interplay_hf.hub.cards import render_dataset_card

    dataset_dir = Path(dataset_dir)
    check_repo_id(repo_id)
    check_revision(revision)
    if not is_dataset_dir(dataset_dir):
        raise ConfigError(f"{dataset_dir} is not a dataset saved with save_to_disk (no dataset_dict.json / dataset_info.json)")
    card = render_dataset_card(dataset_dir, report=report, repo_id=repo_id)
    if dry_run:
        return str(card)
    import datasets
    from huggingface_hub import DatasetCard, HfApi, hf_hub_download

    api = HfApi()
    try:
        api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        if revision is not None:
            api.create_branch(repo_id, branch=revision, repo_type="dataset", exist_ok=True)
        loaded = datasets.load_from_disk(str(dataset_dir))
        loaded.push_to_hub(repo_id, revision=revision, private=private, commit_message="interplay-hf: push dataset")
        pushed = DatasetCard(Path(hf_hub_download(repo_id, "README.md", repo_type="dataset", revision=revision)).read_text(encoding="utf-8"))
        for key in ("configs", "dataset_info"):
            if pushed.data.get(key) is not None:
                card.data[key] = pushed.data[key]
        api.upload_file(
            path_or_fileobj=str(card).encode("utf-8"),
            path_in_repo="README.md",
            repo_id=repo_id,
            repo_type="dataset",
            revision=revision,
            commit_message="interplay-hf: dataset card",
        )
    except _hub_exceptions() as err:
        raise _hub_error(err, repo_id) from None
    return str(card)


def check_can_push(repo_id: str, flag: str) -> str:
    """Before hours of compute: a valid repo id, online, and logged in (``flag`` names the setting in the message)."""
    from huggingface_hub import constants, get_token

    if not isinstance(repo_id, str) or not repo_id:
        raise ConfigError(f"{flag}: give the Hub repo as <user or org>/<name>")
    try:
        check_repo_id(repo_id)
    except ConfigError:
        raise ConfigError(f"{flag} {repo_id!r} must look like <user or org>/<name>") from None
    if constants.HF_HUB_OFFLINE:
        raise ConfigError(f"{flag} {repo_id}: HF_HUB_OFFLINE=1 is set; unset it to push, or run without it and "
                          "`interplay-hf push` later")
    if not get_token():
        raise ConfigError(f"{flag} {repo_id}: not logged in to the Hub; run `hf auth login` or set HF_TOKEN "
                          "(checked now rather than after the work)")
    return repo_id


class TrainedStagePush:
    """``push_to_hub: true`` of a training stage, through this layer rather than ``Trainer.push_to_hub``.

    The Trainer would upload every checkpoint with TRL's card, pickled ``training_args.bin`` included; here
    the finished stage goes up once, after ``recipe.yaml`` is written, with our card, file filter and
    redaction: the same files as ``interplay-hf push OUTPUT_DIR``. The training scripts' entry points pass
    an instance to ``train.common.stage_cli``, which checks before training and pushes from rank 0 after it.
    """

    def check(self, training_args: Any) -> None:
        # a hub_token setting is refused for every stage, pushing or not (train.config.validate_stage)
        check_can_push(training_args.hub_model_id, "hub_model_id")
        check_revision(getattr(training_args, "hub_revision", None))

    def __call__(self, training_args: Any) -> None:
        push_stage(training_args.output_dir, training_args.hub_model_id,
                   revision=getattr(training_args, "hub_revision", None),
                   private=bool(getattr(training_args, "hub_private_repo", None)) or None)
        print(f"pushed {training_args.output_dir} to https://huggingface.co/{training_args.hub_model_id}", flush=True)
