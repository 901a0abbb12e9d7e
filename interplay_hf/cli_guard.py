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
import re
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Sequence
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


def check_output_dir(path: str | os.PathLike | None, flag: str = "--output-dir") -> None:
    """An output folder that is an existing file is the user's mistake: say so before any work (some writers,
    e.g. ``save_pretrained``, only warn and write nothing)."""
    if path is not None and Path(path).exists() and not Path(path).is_dir():
        raise ConfigError(f"{flag} {path}: is a file, not a folder; choose another {flag}")


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


def quiet_launcher(cmd: Sequence[str]) -> list[str]:
    """``cmd`` with accelerate's ``--quiet`` (no launcher traceback on a failed child) when it is a launch."""
    cmd = list(cmd)
    for i, word in enumerate(cmd[:4]):  # `accelerate launch ...` or `python -m accelerate.commands.launch ...`
        if word in ("accelerate.commands.launch", "launch") and "--quiet" not in cmd:
            return [*cmd[: i + 1], "--quiet", *cmd[i + 1:]]
    return cmd


def read_child_error(path: str | Path) -> tuple[str, int] | None:
    """(one-line message, exit status) a child left in its :data:`ERROR_FILE_ENV` file, if any."""
    try:
        report = json.loads(Path(path).read_text(encoding="utf-8"))
        return str(report["message"]), int(report["status"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


_ELASTIC_LOG = re.compile(rb"^[IWEF]\d{4} \d\d:\d\d:\d\d\.\d+ +\d+ \S*torch/distributed/elastic/")
_RULE = re.compile(rb"^={20,}\s*$")


class LauncherNoiseFilter:
    """Drops what torch-elastic adds when a child fails: its log lines (``E1204 ... torch/distributed/elastic/...``)
    and the ChildFailedError summary that ``accelerate launch --quiet`` still prints (a ``====`` rule, then
    ``<module> FAILED``, ..., a closing rule). Everything else passes through as it arrives, progress bars included:
    only a partial line that may start such noise waits for its newline."""

    def __init__(self) -> None:
        self._partial = b""
        self._rule: bytes | None = None  # a rule line held until the next line says whether a block starts
        self._in_block = False

    def feed(self, data: bytes) -> bytes:
        self._partial += data
        out = []
        while b"\n" in self._partial:
            line, self._partial = self._partial.split(b"\n", 1)
            out.append(self._line(line + b"\n"))
        if self._partial and self._rule is None and not self._in_block and not self._may_start_noise(self._partial):
            out.append(self._partial)
            self._partial = b""
        return b"".join(out)

    def flush(self) -> bytes:
        rest = (self._rule or b"") + self._partial
        self._rule, self._partial = None, b""
        return b"" if self._in_block else rest

    @staticmethod
    def _may_start_noise(partial: bytes) -> bool:
        return partial.startswith(b"=") or re.match(rb"^[IWEF]\d{0,4}(?:$| )", partial[:6]) is not None

    def _line(self, line: bytes) -> bytes:
        if self._in_block:
            self._in_block = not _RULE.match(line)
            return b""
        if self._rule is not None:
            held, self._rule = self._rule, None
            if line.rstrip().endswith(b" FAILED"):
                self._in_block = True
                return b""
            return held + self._line(line)
        if _RULE.match(line):
            self._rule = line
            return b""
        return b"" if _ELASTIC_LOG.match(line) else line


def _pump(source, filt: LauncherNoiseFilter) -> None:
    """Copy the launcher's stderr to ours through ``filt`` as it arrives."""
    sink = getattr(sys.stderr, "buffer", None)

    def write(data: bytes) -> None:
        if not data:
            return
        if sink is not None:
            sink.write(data)
        else:
            sys.stderr.write(data.decode(errors="replace"))
        sys.stderr.flush()

    while chunk := os.read(source.fileno(), 65536):
        write(filt.feed(chunk))
    write(filt.flush())


def _wait_passing_signals(cmd: list[str], env: dict[str, str], grace_s: float = 60.0,
                          filter_launcher_noise: bool = False) -> int:
    """Run ``cmd``; on SIGTERM pass it on and give the child time to stop cleanly (a checkpoint, a staging
    folder) instead of killing it. Ctrl-C reaches the child through the terminal already. With
    ``filter_launcher_noise`` its stderr goes through :class:`LauncherNoiseFilter`."""
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE if filter_launcher_noise else None)
    pump = None
    if filter_launcher_noise:
        pump = threading.Thread(target=_pump, args=(proc.stderr, LauncherNoiseFilter()), daemon=True)
        pump.start()
    try:
        returncode = proc.wait()
        if pump is not None:
            pump.join()
        return returncode
    except KeyboardInterrupt as err:
        if getattr(err, "signum", signal.SIGINT) != signal.SIGINT:
            proc.send_signal(err.signum)
        try:
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        raise


def run_launched(cmd: Sequence[str], env: dict[str, str], debug: bool = False) -> int:
    """Run a launcher command (``accelerate launch ... -m interplay_hf...``) and return the child's own status.

    The child reports a user error through :data:`ERROR_FILE_ENV` instead of printing it; we print that
    one line once (not once per rank) and exit with the child's status, and pass ``--quiet`` so accelerate
    adds no traceback of its own; torch-elastic's failure summary is filtered out of the launcher's stderr.
    With ``debug`` everything is shown as it happens, unfiltered.
    """
    if debug:
        return _wait_passing_signals(list(cmd), {**env, DEBUG_ENV: "1"})
    fd, error_file = tempfile.mkstemp(prefix="interplay-error-", suffix=".json")
    os.close(fd)
    try:
        returncode = _wait_passing_signals(quiet_launcher(cmd), {**env, ERROR_FILE_ENV: error_file},
                                           filter_launcher_noise=True)
        child = read_child_error(error_file) if returncode else None
    finally:
        os.unlink(error_file)
    if child is None:
        return returncode
    print(child[0], file=sys.stderr, flush=True)
    return child[1]
