"""`interplay-hf` command line: one sub-command per stage of the data flow.

Each sub-command lives beside the code it drives and exposes ``register(subparsers)``, which adds
its parser and sets ``func``. Modules listed here must import torch/transformers lazily (inside
their ``func``), so ``interplay-hf --help`` and the pure-Python commands stay fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from interplay_hf.guard.policy import DEBUG_ENV, pop_debug_flag, run_guarded

# Order = order in `--help`; module -> it registers one or more sub-commands.
COMMAND_MODULES: tuple[str, ...] = (
    "interplay_hf.data.cli",  # data build / data sample
    "interplay_hf.verify.cli",  # verify
    "interplay_hf.train.cli",  # tokenizer / train sft / train grpo
    "interplay_hf.evaluation.cli",  # eval / report / inspect / findings / select-edge
    "interplay_hf.hub.cli",  # push / card / released
    "interplay_hf.pipeline.cli",  # pipeline / quickstart
)


class OneLineParser(argparse.ArgumentParser):
    """argparse with the error policy's one line (no usage block): the usage is one ``--help`` away."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="interplay-hf",
        description="Pre-training, mid-training and RL on synthetic reasoning data (arXiv 2512.07783).",
    )
    parser.add_argument(
        "--debug", action="store_true",
        help=f"show Python tracebacks instead of one-line errors (also {DEBUG_ENV}=1); for bug reports",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def subcommand_flags(words: tuple[str, ...]) -> set[str]:
    """Option strings (``--output-dir``, ...) of a sub-command such as ``("data", "build")``: lets a pipeline
    check a stage's args at plan time instead of failing when the stage starts."""
    parser = build_parser()
    for word in words:
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = action.choices[word]
    return {opt for action in parser._actions for opt in action.option_strings}


def main(argv: list[str] | None = None) -> int:
    """Parse and run one sub-command under the error policy of :mod:`interplay_hf.guard.policy`."""
    argv, debug = pop_debug_flag(list(sys.argv[1:] if argv is None else argv))
    parser = build_parser()

    def call() -> int:
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help()
            return 2
        return args.func(args)

    return run_guarded("interplay-hf", call, debug=debug)


if __name__ == "__main__":
    sys.exit(main())
