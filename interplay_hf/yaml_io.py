"""Reading recipe YAML files: ``yaml.safe_load`` semantics, bounded, and a ConfigError (not a traceback or a
hang) for every way it fails.

Bounds, because a recipe is a small hand-written file and anything else is a mistake or an attack: at most
:data:`MAX_YAML_BYTES` of UTF-8 text (a binary file gets one line saying so), and at most
:data:`MAX_EXPANDED_NODES` nodes once every alias and merge key is expanded (YAML anchors can describe
exponentially large documents in a few lines, which would hang the planner that walks them), no recursive
aliases, and no nesting deep enough to exhaust Python's stack. A key written twice in one mapping is an error
(YAML would keep the last one silently).
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import Any

from interplay_hf.errors import ConfigError

MAX_YAML_BYTES = 1 << 20  # 1 MiB; the largest recipe in recipes/ is a few KiB
MAX_EXPANDED_NODES = 100_000


def _expanded_size(node, sizes: dict[int, int], open_nodes: set[int], where: str) -> int:
    """Nodes of the document with every alias expanded (memoised per node, so linear in the file)."""
    import yaml

    key = id(node)
    if key in sizes:
        return sizes[key]
    if key in open_nodes:
        raise ConfigError(f"{where}: an alias refers to the node that contains it (a recursive anchor); "
                          "write the value out instead")
    open_nodes.add(key)
    size = 1
    if isinstance(node, yaml.SequenceNode):
        size += sum(_expanded_size(child, sizes, open_nodes, where) for child in node.value)
    elif isinstance(node, yaml.MappingNode):
        size += sum(_expanded_size(k, sizes, open_nodes, where) + _expanded_size(v, sizes, open_nodes, where)
                    for k, v in node.value)
    open_nodes.discard(key)
    sizes[key] = size
    if size > MAX_EXPANDED_NODES:
        raise ConfigError(f"{where}: expands to more than {MAX_EXPANDED_NODES:,} values through anchors/aliases; "
                          "a recipe should be a small file: write the values out or use fewer aliases")
    return size


def _reject_duplicate_keys(root, where: str) -> None:
    """A key written twice in one mapping (a stage, a split, ``learning_rate``) is a mistake: YAML lets the last
    one win silently. Merge keys (``<<: *base``) may be overridden; that is what they are for."""
    import yaml

    seen_nodes: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen_nodes:
            continue
        seen_nodes.add(id(node))
        if isinstance(node, yaml.MappingNode):
            keys: dict[str, int] = {}
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                    line = key.start_mark.line + 1
                    if key.value in keys:
                        raise ConfigError(f"{where}: line {line}: key {key.value!r} is already set on line "
                                          f"{keys[key.value]} of the same mapping; keep one")
                    keys[key.value] = line
                stack.extend((key, value))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)


def parse_yaml_text(text: str, where: str) -> Any:
    """``yaml.safe_load(text)`` with the bounds above; ``where`` names the source in error messages."""
    import yaml

    loader = None
    try:
        loader = yaml.SafeLoader(text)  # the reader rejects control characters here already
        node = loader.get_single_node()
        if node is None:
            return None
        _expanded_size(node, {}, set(), where)
        _reject_duplicate_keys(node, where)
        return loader.construct_document(node)
    except yaml.YAMLError as err:
        raise ConfigError(f"{where} is not valid YAML: {' '.join(str(err).split())}") from None
    except RecursionError:
        raise ConfigError(f"{where}: nested too deeply to be a recipe") from None
    finally:
        if loader is not None:
            loader.dispose()


def read_yaml(path: str | Path, what: str = "recipe") -> Any:
    """The document of a YAML file; a missing, huge, binary or invalid file raises ConfigError naming it."""
    path = Path(path)
    where = f"{what} {str(path)!r}"
    if not path.is_file():
        raise ConfigError(f"{what} file {str(path)!r} does not exist")
    if path.stat().st_size > MAX_YAML_BYTES:
        raise ConfigError(f"{where}: {path.stat().st_size:,} bytes is too large for a recipe "
                          f"(limit {MAX_YAML_BYTES:,}); is it the right file?")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is None or "\x00" in text:
        raise ConfigError(f"{where}: not a text YAML file (binary or not UTF-8); pass the recipe's .yaml file")
    return parse_yaml_text(text, where)


def load_yaml_mapping(path: str | Path, what: str = "recipe") -> dict[str, Any]:
    """The top-level mapping of a YAML file; missing file, bad YAML or a non-mapping raise ConfigError."""
    data = read_yaml(path, what)
    if not isinstance(data, dict):
        raise ConfigError(f"{what} {str(path)!r}: expected a mapping at the top level, got {type(data).__name__}")
    return data


def merge_recipe(base: dict, overrides: dict, *, keep_nulls: bool = False) -> dict:
    """``overrides`` deep-merged into ``base``: mappings merge key by key, null deletes, anything else replaces.

    ``keep_nulls`` writes the nulls instead, for overrides that are merged into a recipe later and must still
    delete its keys then (the smoke run's shrunk sizes over a stage's own overrides).
    """
    merged = copy.deepcopy(base)
    for key, value in overrides.items():
        if value is None and not keep_nulls:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_recipe(merged[key], value, keep_nulls=keep_nulls)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def did_you_mean(name: object, candidates: Iterable[object]) -> str:
    """`` Did you mean 'x' or 'y'?`` for the closest candidates to a misspelt name, else ``""``."""
    close = difflib.get_close_matches(str(name), [str(c) for c in candidates], n=3, cutoff=0.6)
    return f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


def reject_unknown_keys(keys: Iterable[object], known: Collection[str], where: str, noun: str = "key") -> None:
    """ConfigError for the first key not in ``known``, with the closest known keys ("did you mean"), and the known
    keys themselves when there are few: a misspelt key that is silently ignored runs the wrong experiment."""
    names = [str(k) for k in known]
    for key in keys:
        if key in known:
            continue
        hint = did_you_mean(key, names)
        listing = f" Known {noun}s: {', '.join(sorted(names))}." if len(names) <= 30 else ""
        raise ConfigError(f"{where}: unknown {noun} {str(key)!r}.{hint}{listing}")
