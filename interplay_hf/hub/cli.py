"""`interplay-hf push | card | released`: the Hub sub-commands (heavy imports stay inside the handlers)."""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    push = subparsers.add_parser(
        "push",
        help="push a finished stage, a whole run, or a built dataset to the Hub with its card",
        description=(
            "Push a training stage (its output_dir), every stage of a run dir (runs/<name>/<stage>/), or a dataset "
            "saved by `data build`. A stage goes to --revision (default main) under --subfolder (default the root). "
            "A run goes to one repo: one branch per stage (named after the stage; the last stage also on main), or, "
            "with --subfolder, the released repos' layout on one revision: <subfolder>/base, "
            "<subfolder>/midtrain/<stage>, <subfolder>/rl/<stage>. Authentication: `hf auth login` or HF_TOKEN."
        ),
    )
    push.add_argument("path", type=Path, help="stage output_dir, run dir, or dataset dir")
    push.add_argument("--repo-id", required=True, help="<user or org>/<name> of the Hub repo (created if missing)")
    push.add_argument("--revision", default=None, help="branch to push to (created if missing); default main")
    push.add_argument("--subfolder", default=None, help="path inside the repo, e.g. my_setting/rl/op11-14")
    push.add_argument("--private", action="store_true", default=None, help="create the repo private")
    push.add_argument("--include-optimizer", action="store_true", help="also push checkpoint-*/ with optimizer/scheduler/RNG state")
    push.add_argument("--results", default=None, help="eval output dir (or results.json) for the card of a single stage")
    push.add_argument("--layout", choices=("branches", "subfolders"), default=None, help="run layout (default: subfolders if --subfolder else branches)")
    push.add_argument("--commit-message", default=None, help="commit message (default names the stages)")
    push.add_argument("--dry-run", action="store_true", help="print the upload plan and the card; send nothing")
    push.set_defaults(func=run_push)

    card = subparsers.add_parser(
        "card",
        help="render the model card of a stage (or the dataset card of a built dataset)",
        description="Render a card from a stage dir (recipe.yaml, config, train results, eval results) or a dataset dir.",
    )
    card.add_argument("path", type=Path, help="stage output_dir or dataset dir")
    card.add_argument("--output", type=Path, default=None, help="write the card here (default: print it)")
    card.add_argument("--results", default=None, help="eval output dir or results.json to include")
    card.add_argument("--report", default=None, help="dataset build_report.json (dataset cards; default: inside the dataset dir)")
    card.add_argument("--template", default=None, help="a Jinja template file to use instead of the packaged one")
    card.add_argument("--repo-id", default=None, help="repo id the card will live in (for the loading snippet)")
    card.add_argument("--revision", default=None, help="revision the card will live on")
    card.add_argument("--subfolder", default=None, help="subfolder the card will live in")
    card.add_argument("--license", default="apache-2.0", help="license id for the card metadata")
    card.set_defaults(func=run_card)

    released = subparsers.add_parser(
        "released",
        help="the official released checkpoints: list them, or resolve an alias/path",
        description="Catalogue of the Interplay-LM-Reasoning checkpoints (repo + subfolder), usable as `eval --released NAME`.",
    )
    released_sub = released.add_subparsers(dest="released_command", metavar="{list,show}")
    listing = released_sub.add_parser("list", help="print the catalogue")
    listing.add_argument("--repo", default=None, help="only this repo (e.g. context_pretrain)")
    listing.add_argument("--confirmed-only", action="store_true", help="hide inferred entries")
    listing.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    listing.set_defaults(func=run_released_list)
    show = released_sub.add_parser("show", help="resolve an alias or <repo>/<subfolder> path and print what it is")
    show.add_argument("name", help="alias (ctx-0.01-base) or path (context_pretrain/idzoo_0.99zoo_0.01teacher/base)")
    show.add_argument("--strict", action="store_true", help="refuse paths that are not in the catalogue")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(func=run_released_show)
    released.set_defaults(func=lambda args: run_released_list(argparse.Namespace(repo=None, confirmed_only=False, json=False)))


def run_push(args: argparse.Namespace) -> int:
    from interplay_hf.hub.push import push, push_dataset
    from interplay_hf.hub.upload_plan import is_dataset_dir

    if is_dataset_dir(args.path):
        card = push_dataset(args.path, args.repo_id, revision=args.revision, private=args.private, dry_run=args.dry_run)
        if args.dry_run:
            print(f"dry run: would push dataset {args.path} to {args.repo_id} (dataset) with this card:\n")
            print(card)
        else:
            print(f"pushed dataset {args.path} to https://huggingface.co/datasets/{args.repo_id}")
        return 0
    plan = push(
        args.path,
        args.repo_id,
        revision=args.revision,
        subfolder=args.subfolder,
        private=args.private,
        include_optimizer=args.include_optimizer,
        results=args.results,
        layout=args.layout,
        dry_run=args.dry_run,
        commit_message=args.commit_message,
    )
    if args.dry_run:
        print("dry run: nothing sent. Plan:")
        print(plan.format())
    else:
        print(plan.format())
        print(f"pushed to https://huggingface.co/{plan.repo_id}")
    return 0


def run_card(args: argparse.Namespace) -> int:
    from interplay_hf.atomic_io import write_text
    from interplay_hf.guard.outputs import check_apart, check_file
    from interplay_hf.hub.cards import DATASET_TEMPLATE, MODEL_TEMPLATE, render_dataset_card, render_model_card
    from interplay_hf.hub.upload_plan import is_dataset_dir

    check_file(args.output)  # the card is never written over (or into) what it is rendered from
    check_apart(args.output, [("PATH", args.path), ("--results", args.results), ("--report", args.report),
                              ("--template", args.template)], "--output", own_names=("README.md",))
    if is_dataset_dir(args.path):
        card = render_dataset_card(args.path, report=args.report, repo_id=args.repo_id, license=args.license, template=args.template or DATASET_TEMPLATE)
    else:
        card = render_model_card(
            args.path,
            results=args.results,
            repo_id=args.repo_id,
            revision=args.revision,
            subfolder=args.subfolder,
            license=args.license,
            template=args.template or MODEL_TEMPLATE,
        )
    if args.output is None:
        sys.stdout.write(str(card))
    else:
        write_text(args.output, str(card))
        print(f"wrote {args.output}")
    return 0


def run_released_list(args: argparse.Namespace) -> int:
    from interplay_hf.hub.released import format_catalogue, list_released

    entries = list_released(args.repo, include_inferred=not args.confirmed_only)
    if args.json:
        for entry in entries:
            print(json.dumps(entry.to_dict()))
    else:
        print(format_catalogue(entries))
    return 0


def run_released_show(args: argparse.Namespace) -> int:
    from interplay_hf.hub.released import resolve_released

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        entry = resolve_released(args.name, strict=args.strict)
    for w in caught:
        print(f"warning: {w.message}", file=sys.stderr)
    if args.json:
        print(json.dumps(entry.to_dict(), indent=2))
        return 0
    for key, value in entry.to_dict().items():
        if value not in (None, [], ""):
            print(f"{key:17} {value}")
    return 0
