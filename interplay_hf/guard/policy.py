"""The error policy of every entry point (``interplay-hf ...`` and the ``python -m`` stage scripts).

A user's mistake must read as one line, not a traceback, and an exit code a script can act on:

| what happened | printed (stderr) | exit |
|---|---|---|
| input error (:class:`ConfigError`, a file that is not JSON/UTF-8) | ``<prog>: error: <field or file and the fix>`` | 2 |
| I/O error (:class:`OSError`: disk full, permission, a path that is a file) | ``<prog>: error: <path>: <reason>`` | 1 |
| Ctrl-C or SIGTERM | ``<prog>: interrupted; re-run the same command to resume`` | 130 / 143 |
| the reader of our stdout went away (``| head``) | nothing | 141 |

``--debug`` (before ``--``) or ``INTERPLAY_DEBUG=1`` re-raises instead, for bug reports. SIGTERM is
turned into :class:`Interrupted` so ``finally`` blocks (staging folders, partial files) run as for Ctrl-C.
Anything else is a bug in this package and keeps its traceback.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

from interplay_hf.errors import ConfigError

DEBUG_ENV = "INTERPLAY_DEBUG"
# Set by a parent that launched us through `accelerate launch`: write the one-line error there, the parent prints it.
ERROR_FILE_ENV = "INTERPLAY_ERROR_FILE"
DEBUG_FLAG = "--debug"
EXIT_IO, EXIT_INPUT, EXIT_BROKEN_PIPE = 1, 2, 141
INTERRUPTED = "interrupted; re-run the same command to resume"


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM; ``signum`` sets the exit status (128 + signal number)."""

    def __init__(self, signum: int = signal.SIGINT):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise_interrupted(signum: int, _frame) -> None:
    raise Interrupted(signum)


def pop_debug_flag(argv: list[str]) -> tuple[list[str], bool]:
    """``argv`` without ``--debug`` (only before ``--``: later arguments belong to the stage), and whether it was there."""
    end = argv.index("--") if "--" in argv else len(argv)
    head = [a for a in argv[:end] if a != DEBUG_FLAG]
    return head + argv[end:], len(head) != end


def debug_requested(flag: bool = False) -> bool:
    return flag or os.environ.get(DEBUG_ENV, "").strip().lower() not in ("", "0", "false", "no")


def _say(prog: str, message: str, status: int | None = None) -> None:
    from interplay_hf.redact import scrub

    text = scrub(" ".join(str(message).split()))  # one line, whatever the message held; never a token
    error_file = os.environ.get(ERROR_FILE_ENV)
    if error_file and status is not None:
        try:  # every rank may fail the same way; the last writer wins, the parent prints one line
            Path(error_file).write_text(json.dumps({"message": f"{prog}: {text}", "status": status}))
            return
        except OSError:
            pass
    try:
        print(f"{prog}: {text}", file=sys.stderr, flush=True)
    except (BrokenPipeError, OSError):
        pass


def _quiet_stdout() -> None:
    """After a broken pipe: point stdout at /dev/null so the interpreter's final flush does not complain."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def io_error_text(err: OSError) -> str:
    """``<path>: <reason>`` for an OSError (both paths of a rename/copy when there are two)."""
    reason = err.strerror or str(err) or type(err).__name__
    if isinstance(err, FileExistsError):  # what mkdir(exist_ok=True) says about a file in the way
        reason = "exists and is not a folder"
    paths = [p for p in (err.filename, getattr(err, "filename2", None)) if p]
    return f"{' -> '.join(map(str, paths))}: {reason}" if paths else reason


def run_guarded(prog: str, call: Callable[[], int | None], debug: bool = False) -> int:
    """Run ``call`` under the policy above and return the process exit status."""
    debug = debug_requested(debug)
    if debug:
        os.environ[DEBUG_ENV] = "1"  # stages launched from here show their tracebacks too
    previous = None
    try:
        previous = signal.signal(signal.SIGTERM, _raise_interrupted)
    except ValueError:  # not the main thread (embedded use): leave signals alone
        pass
    try:
        return int(call() or 0)
    except ConfigError as err:
        if debug:
            raise
        _say(prog, f"error: {err}", EXIT_INPUT)
        return EXIT_INPUT
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        if debug:
            raise
        _say(prog, f"error: an input file is not valid {'UTF-8' if isinstance(err, UnicodeDecodeError) else 'JSON'} "
                   f"({err}); check the files you passed (--debug shows where)", EXIT_INPUT)
        return EXIT_INPUT
    except BrokenPipeError:
        _quiet_stdout()
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt as err:
        if debug:
            raise
        _say(prog, INTERRUPTED)
        return 128 + getattr(err, "signum", signal.SIGINT)
    except OSError as err:
        if debug:
            raise
        _say(prog, f"error: {io_error_text(err)}", EXIT_IO)
        return EXIT_IO
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
