"""The one builder of ``accelerate launch`` command lines: `interplay-hf train`, pipeline stages and placements.

A launch is kept as structured fields (:class:`AccelerateLaunch`) until it becomes words, so a placement changes
the config file or the process count by replacing a field, not by cutting a command apart. One rule decides
``--multi_gpu``: more than one process on a config that would otherwise start one (``distributed_type`` NO or
MULTI_CPU; accelerate starts a single process for those unless an MPI launcher is set up). With ``use_cpu: true``
the ranks then run on CPUs over gloo.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from interplay_hf.errors import ConfigError
from interplay_hf.yaml_io import read_yaml

ACCELERATE = ("accelerate", "launch")


def starts_one_process(config_path: Path | None) -> bool:
    """True when the accelerate config would launch a single process (``NO`` / ``MULTI_CPU`` / no config)."""
    if config_path is None:
        return True
    try:
        config = read_yaml(config_path, "accelerate config") or {}
    except (OSError, ConfigError):
        return True
    if not isinstance(config, dict):
        return True
    kind = config.get("distributed_type", "NO")
    kind = "NO" if kind is False else str(kind).upper()  # YAML 1.1 reads an unquoted NO as false
    return kind in ("NO", "MULTI_CPU")


@dataclass(frozen=True)
class AccelerateLaunch:
    """``accelerate launch [--config_file C] [--multi_gpu] [--num_processes N] [launcher args] -m MODULE ARGS``."""

    module: str
    module_args: tuple[str, ...] = ()
    config_file: str | None = None  # as written in the command (relative to ``root`` when not absolute)
    num_processes: int | None = None
    launcher_args: tuple[str, ...] = ()
    root: Path = Path(".")  # where a relative config_file is read from to decide --multi_gpu

    def words(self, program: tuple[str, ...] = ACCELERATE) -> list[str]:
        words = list(program)
        if self.config_file is not None:
            words += ["--config_file", str(self.config_file)]
        if self.num_processes is not None:
            config = None if self.config_file is None else self.root / self.config_file
            if self.num_processes > 1 and starts_one_process(config):
                words.append("--multi_gpu")
            words += ["--num_processes", str(self.num_processes)]
        return [*words, *self.launcher_args, "-m", self.module, *self.module_args]
