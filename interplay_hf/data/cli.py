"""`interplay-hf data {build,sample,validate}`: build recipe datasets, print problems, check recipes.

Only argparse wiring here; ``datasets`` is imported inside the run functions.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from interplay_hf.errors import ConfigError


def register(subparsers) -> None:
    data = subparsers.add_parser("data", help="generate synthetic problems and build datasets")
    sub = data.add_subparsers(dest="data_command", metavar="SUBCOMMAND")
    data.set_defaults(func=lambda args: _help(data))

    build = sub.add_parser(
        "build",
        help="build the splits of a data recipe (recipes/data/*.yaml) and save them with save_to_disk",
        description="Generate every split of a data recipe in parallel, deduplicate splits against each other, "
        "and save a DatasetDict (plus build_report.json) atomically.",
    )
    build.add_argument("recipe", help="data recipe YAML, e.g. recipes/data/tiny.yaml")
    build.add_argument("--output-dir", help="where to save (default: the recipe's output_dir)")
    build.add_argument("--num-proc", type=int, help="generator processes (default: the recipe's num_proc)")
    build.add_argument("--num-shards", type=int, default=1, help="split the build into this many disjoint shards")
    build.add_argument("--shard-index", type=int, default=0, help="which shard to build (0-based)")
    build.add_argument("--push-to-hub", metavar="REPO_ID", help="also upload the splits and a dataset card")
    build.add_argument("--overwrite", action="store_true",
                       help="replace an existing output directory, if it is an earlier build (holds build_report.json)")
    build.add_argument("--dedup-against", nargs="+", default=[], metavar="DATASET_DIR",
                       help="also drop problems found in these built datasets (added to the recipe's dedup_against), "
                       "e.g. the build that holds the eval sets")
    build.set_defaults(func=run_build)

    sample = sub.add_parser(
        "sample",
        help="print generated problems as JSON lines",
        description="Print K generated rows (released schema + our columns) as JSON lines; row i uses seed S+i.",
    )
    sample.add_argument("--op", type=int, required=True, help="number of operations (2-20)")
    sample.add_argument("--context", default="zoo", help="zoo, teacher, movie (or the template names)")
    sample.add_argument("--mode", default="normalforward", help="normalforward or forwardreverse")
    sample.add_argument("--n", type=int, default=1, help="how many rows")
    sample.add_argument("--seed", type=int, default=0, help="seed of the first row")
    sample.set_defaults(func=run_sample)

    validate = sub.add_parser("validate", help="check data recipes without generating anything")
    validate.add_argument("recipes", nargs="+", help="data recipe YAML files")
    validate.set_defaults(func=run_validate)


def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def run_build(args: argparse.Namespace) -> int:
    from interplay_hf.data.build import build_datasets, built_dataset_dir
    from interplay_hf.data.recipe import load_data_recipe

    recipe = load_data_recipe(args.recipe)  # validate before importing datasets or generating anything
    repo_id = args.push_to_hub or recipe.hub_repo_id
    if repo_id:  # before an hour of generation, not after it
        from interplay_hf.hub.push import check_can_push

        if args.num_shards > 1:
            raise ConfigError("--push-to-hub: a sharded build is pushed once all shards exist; build the shards "
                              "without it, join them with interplay_hf.data.load_built, and push the result")
        check_can_push(repo_id, "--push-to-hub" if args.push_to_hub else "hub.repo_id")
    if args.dedup_against:
        recipe = dataclasses.replace(recipe, dedup_against=(*recipe.dedup_against, *args.dedup_against))
    build_datasets(
        recipe,
        args.output_dir,
        num_proc=args.num_proc,
        num_shards=args.num_shards,
        shard_index=args.shard_index,
        overwrite=args.overwrite,
        recipe_path=args.recipe,
    )
    target = built_dataset_dir(recipe, args.output_dir, args.num_shards, args.shard_index)
    write_dataset_card(target)
    if repo_id:
        from interplay_hf.hub.push import push_dataset

        push_dataset(target, repo_id, private=recipe.hub_private or None)
        print(f"pushed {target} to https://huggingface.co/datasets/{repo_id}", file=sys.stderr)
    return 0


def write_dataset_card(dataset_dir: Path) -> None:
    """The Hub layer's dataset card as the build's README.md: what ``interplay-hf push`` would upload."""
    from interplay_hf.atomic_io import write_text
    from interplay_hf.hub.cards import render_dataset_card

    write_text(dataset_dir / "README.md", str(render_dataset_card(dataset_dir)))


def run_sample(args: argparse.Namespace) -> int:
    from interplay_hf.data.contexts import get_context
    from interplay_hf.data.generator import check_mode, check_op, generate_problem

    check_op(args.op, "--op")
    check_mode(args.mode, "--mode")
    get_context(args.context)
    if args.n < 0:
        raise ConfigError(f"--n: must be >= 0, got {args.n}")
    if args.seed < 0:
        raise ConfigError(f"--seed: must be >= 0, got {args.seed}")
    for i in range(args.n):
        row = generate_problem(args.op, args.context, args.mode, seed=args.seed + i).to_row()
        sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
    sys.stdout.flush()
    return 0


def run_validate(args: argparse.Namespace) -> int:
    from interplay_hf.data.recipe import load_data_recipe

    for path in args.recipes:
        recipe = load_data_recipe(path)
        sizes = ", ".join(
            f"{s.name}={s.size.examples if s.size.examples is not None else str(s.size.tokens) + ' tokens'}"
            for s in recipe.splits
            if not s.is_eval
        )
        n_eval = sum(s.is_eval for s in recipe.splits)
        print(f"{path}: ok ({sizes}{'; ' if sizes and n_eval else ''}{f'{n_eval} eval splits' if n_eval else ''})")
    return 0
