"""Reading recipe YAML files: ``yaml.safe_load`` only, and a ConfigError (not a traceback) for every way it fails."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from interplay_hf.errors import ConfigError


def load_yaml_mapping(path: str | Path, what: str = "recipe") -> dict[str, Any]:
    """The top-level mapping of a YAML file; missing file, bad YAML or a non-mapping raise ConfigError."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{what} file {str(path)!r} does not exist")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise ConfigError(f"{what} {str(path)!r} is not valid YAML: {err}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{what} {str(path)!r}: expected a mapping at the top level, got {type(data).__name__}")
    return data
