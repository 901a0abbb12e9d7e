"""What torch-elastic prints around a failed child of ``accelerate launch``, filtered out of the launcher's stderr
so a user error reads as the child's one line (see :mod:`interplay_hf.guard.launched`)."""

from __future__ import annotations

import re

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
