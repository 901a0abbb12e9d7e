"""The output policy of every command that writes (data build, eval, report, select-edge, findings, verify, card,
tokenizer, compute, training stages), in one place:

- an output is never one of the command's inputs, never inside one and never holds one (symlinks resolved):
  :func:`check_apart`;
- an output folder that exists as a file, FIFO or device is refused before any work (:func:`check_folder`); a file
  output that is a FIFO or a character device (``/dev/stdout``, ``/dev/null``) is written through, never replaced
  (:mod:`interplay_hf.atomic_io`); a socket or block device is refused;
- a folder being written is locked (:func:`output_lock`): a second writer exits with one line naming the holder;
- a build is staged in ``.tmp-*`` beside its target (:func:`staging_dir`); a staging folder whose owner died
  (SIGKILL, power cut) is removed by the next run in that folder; the staged result is moved in place without
  replacing anything that appeared meanwhile (:func:`rename_noreplace`).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import hashlib
import os
import shlex
import shutil
import stat
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from interplay_hf.errors import ConfigError

STAGING_PREFIX = ".tmp-"
OWNER_FILE = ".owner"  # inside a staging folder: locked by the process that stages there
_HOLDER_MAX = 300


def real(path: str | os.PathLike) -> Path:
    """The absolute path with every symlink resolved (for a path that does not exist yet, its existing prefix)."""
    return Path(os.path.realpath(os.path.expanduser(os.fspath(path))))


def special_kind(path: str | os.PathLike) -> str | None:
    """``"FIFO"``, ``"character device"``, ``"block device"`` or ``"socket"`` for such a file (symlinks followed)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None
    for test, name in ((stat.S_ISFIFO, "FIFO"), (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device"),
                       (stat.S_ISSOCK, "socket")):
        if test(mode):
            return name
    return None


def check_folder(path: str | os.PathLike | None, flag: str = "--output-dir") -> None:
    """An output folder must be a folder or not exist: a file, FIFO or device in its place is the user's mistake,
    said before any work (some writers, e.g. ``save_pretrained``, only warn and write nothing)."""
    if path is None:
        return
    if Path(path).is_symlink() and not Path(path).exists():  # writing would follow it anywhere
        raise ConfigError(f"{flag} {path}: is a broken symlink; remove it or choose another {flag}")
    if not Path(path).exists():
        return
    if not Path(path).is_dir():
        kind = special_kind(path) or "file"
        raise ConfigError(f"{flag} {path}: is a {kind}, not a folder; choose another {flag}")


def check_file(path: str | os.PathLike | None, flag: str = "--output") -> None:
    """A file output may be a new or regular file, a FIFO or a character device (written through); a folder,
    socket or block device in its place is refused."""
    if path is None:
        return
    if Path(path).is_dir():
        raise ConfigError(f"{flag} {path}: is a folder; give a file name")
    kind = special_kind(path)
    if kind in ("socket", "block device"):
        raise ConfigError(f"{flag} {path}: is a {kind}; refusing to write to it, choose a file")


def check_apart(output: str | os.PathLike | None, inputs: Iterable[tuple[str, str | os.PathLike | None]],
                flag: str = "--output-dir", own_names: tuple[str, ...] = ()) -> None:
    """Refuse an ``output`` that is, holds or lies inside one of ``inputs`` (``(name, path)`` pairs, e.g.
    ``("--data", "runs/d")``): writing it could destroy what the command reads. Inputs that are not local paths
    (a Hub id) are skipped. Special files (``/dev/stdin``) are streams, not places, and are skipped too.
    ``own_names``: file names the command's output has by convention and may take directly inside an input folder
    (a stage's ``README.md`` card, an eval's ``inspect.html``), since no command reads them back."""
    if output is None:
        return
    out = real(output)
    for name, path in inputs:
        if path is None or str(path) == "" or not os.path.lexists(os.path.expanduser(os.fspath(path))):
            continue
        if special_kind(path) is not None:
            continue
        src = real(path)
        if out == src:
            where = "is"
        elif src in out.parents:
            if out.parent == src and out.name in own_names:
                continue
            where = "is inside"
        elif out in src.parents:
            where = "holds"
        else:
            continue
        raise ConfigError(f"{flag} {output}: {where} the input {name} {path}; writing there could destroy it, "
                          f"choose another {flag}")


def command_line(argv: list[str] | None = None) -> str:
    """This process's command line for a lock holder's line (secrets redacted, shortened)."""
    from interplay_hf.redact import redact_argv

    argv = list(sys.argv if argv is None else argv)
    if argv:
        argv[0] = Path(argv[0]).name
    text = shlex.join(redact_argv(argv))
    return text if len(text) <= _HOLDER_MAX else text[: _HOLDER_MAX - 3] + "..."


LOCK_SUFFIX = ".interplay-hf.lock"


def lock_path(output: str | os.PathLike) -> Path:
    """The lock file of an output folder: beside it (``.<name>.interplay-hf.lock``, removed when released), since
    a build replaces the folder itself; inside it when its parent cannot be written (``--output-dir .`` in a
    read-only parent)."""
    out = real(output)
    name = out.name if len(out.name) < 200 else hashlib.sha256(out.name.encode()).hexdigest()[:32]  # NAME_MAX
    beside = out.parent / f".{name}{LOCK_SUFFIX}"
    if os.access(out.parent, os.W_OK | os.X_OK) or not out.is_dir():
        return beside
    return out / LOCK_SUFFIX


@contextlib.contextmanager
def hold_lock(path: Path, busy: str) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (it lives with the open file: a killed holder releases it), and
    remove the file when done. When another process holds it, raise ``ConfigError(busy.format(holder=...))`` with
    the holder's own line (pid and command)."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        lock = open(path, "a+", encoding="utf-8")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = " ".join(lock.read().split()) or "another process"
            lock.close()
            raise ConfigError(busy.format(holder=holder)) from None
        if _same_file(lock, path):
            break
        lock.close()  # its holder removed the file between our open and our lock: take the new one
    try:
        lock.seek(0)
        lock.truncate()
        lock.write(f"pid {os.getpid()}: {command_line()}\n")
        lock.flush()
        yield
    finally:
        with contextlib.suppress(OSError):
            if _same_file(lock, path):
                path.unlink()  # while still locked: a process that opened it meanwhile sees it gone and retries
        fcntl.flock(lock, fcntl.LOCK_UN)
        lock.close()


def _same_file(handle, path: Path) -> bool:
    try:
        return os.path.samestat(os.fstat(handle.fileno()), os.stat(path))
    except OSError:
        return False


def output_lock(output: str | os.PathLike, flag: str = "--output-dir") -> contextlib.AbstractContextManager[None]:
    """Lock the output folder ``output`` for this command (see :func:`hold_lock`)."""
    return hold_lock(lock_path(output), f"{flag} {output}: in use by a running command ({{holder}}); wait for it to "
                                        f"finish or choose another {flag}")


def probe_lock(output: str | os.PathLike, flag: str = "--output-dir") -> None:
    """Fail now if ``output`` is locked, without keeping the lock (a launcher checks before starting its ranks)."""
    if lock_path(output).exists():
        with output_lock(output, flag):
            pass


def _owner_alive(folder: Path) -> bool:
    """Whether the process staging in ``folder`` still runs (holds the lock on its owner file)."""
    import fcntl

    try:
        with open(folder / OWNER_FILE, encoding="utf-8") as owner:
            try:
                fcntl.flock(owner, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(owner, fcntl.LOCK_UN)
            return False
    except OSError:  # no owner file: a folder being created this moment, or not ours
        return True


def sweep_stale_staging(parent: str | os.PathLike) -> list[Path]:
    """Remove ``.tmp-*`` staging folders in ``parent`` whose owner process is gone; returns what was removed."""
    removed = []
    parent = Path(parent)
    if not parent.is_dir():
        return removed
    for folder in sorted(parent.glob(STAGING_PREFIX + "*")):
        if folder.is_dir() and not folder.is_symlink() and (folder / OWNER_FILE).is_file() and not _owner_alive(folder):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


@contextlib.contextmanager
def staging_dir(parent: str | os.PathLike, name: str) -> Iterator[Path]:
    """A fresh ``.tmp-<name>-*`` folder in ``parent``, owned (locked) by this process and removed on exit;
    stale ones of dead processes in ``parent`` are removed first."""
    import fcntl

    parent = Path(parent)
    parent.mkdir(parents=True, exist_ok=True)
    sweep_stale_staging(parent)
    folder = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{name}-", dir=parent))
    try:
        # Lock under another name, then rename: a sweeper never sees an owner file that is not locked yet.
        with open(folder / (OWNER_FILE + ".new"), "w", encoding="utf-8") as owner:
            fcntl.flock(owner, fcntl.LOCK_EX)
            owner.write(f"pid {os.getpid()}: {command_line()}\n")
            owner.flush()
            os.rename(folder / (OWNER_FILE + ".new"), folder / OWNER_FILE)
            yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


_RENAME_NOREPLACE = 1


def rename_noreplace(src: str | os.PathLike, dst: str | os.PathLike) -> None:
    """Move ``src`` to ``dst`` atomically, failing with ``FileExistsError`` if ``dst`` exists (even an empty folder,
    which ``os.rename`` would silently replace). Linux ``renameat2``; elsewhere a check just before the rename."""
    src, dst = os.fsencode(src), os.fsencode(dst)
    renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None) if sys.platform == "linux" else None
    if renameat2 is not None:
        at_fdcwd = -100
        if renameat2(at_fdcwd, src, at_fdcwd, dst, _RENAME_NOREPLACE) == 0:
            return
        err = ctypes.get_errno()
        if err not in (errno.ENOSYS, errno.EINVAL):  # a file system without RENAME_NOREPLACE: fall back below
            raise OSError(err, os.strerror(err), os.fsdecode(src), None, os.fsdecode(dst))
    if os.path.lexists(dst):
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), os.fsdecode(dst))
    os.rename(src, dst)
