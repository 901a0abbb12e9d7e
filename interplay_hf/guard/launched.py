"""Running a launcher command (``accelerate launch ... -m interplay_hf...``) as a child: its one-line error
reported through a file instead of once per rank, SIGTERM passed on with time to stop cleanly, and
torch-elastic's failure summary filtered out of its stderr."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

from interplay_hf.guard.elastic_log import LauncherNoiseFilter
from interplay_hf.guard.policy import DEBUG_ENV, ERROR_FILE_ENV


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
