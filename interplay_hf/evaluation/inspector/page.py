"""The inspector page: one HTML file, the template's inline CSS and JavaScript plus the payload, no network.

The payload (:mod:`.data`) is JSON, scrubbed of tokens (:func:`interplay_hf.redact.scrub`), gzip-compressed
(``mtime=0``: same folders, same bytes) and base64-encoded into a ``<script type="application/octet-stream">``;
the page inflates it with the browser's ``DecompressionStream``. Base64 holds no ``<``, so no completion text
can close the script element, and the page writes every text with ``textContent``, so a completion holding
``<script>`` is shown as text (docs/inspector.md).
"""

from __future__ import annotations

import base64
import gzip
import html
import json
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from interplay_hf.atomic_io import write_text
from interplay_hf.errors import ConfigError
from interplay_hf.evaluation.inspector.data import DEFAULT_MAX_SAMPLES, build_payload, load_eval_folder
from interplay_hf.redact import scrub

TEMPLATE = "inspector.html"
PAGE_FILE = "inspect.html"
_TITLE, _DATA = "__INSPECTOR_TITLE__", "__INSPECTOR_DATA__"


def encode_payload(payload: dict) -> str:
    """The payload as the page embeds it: scrubbed JSON, gzip (deterministic), base64."""
    text = scrub(json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False))
    return base64.b64encode(gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0)).decode("ascii")


def decode_payload(page: str) -> dict:
    """The payload of a page written by :func:`render_page` (what the browser reads; for tests and tools)."""
    start = page.index('id="payload"')
    start = page.index(">", start) + 1
    end = page.index("</script>", start)
    return json.loads(gzip.decompress(base64.b64decode(page[start:end].strip())).decode("utf-8"))


def render_page(payload: dict) -> str:
    template = (resources.files("interplay_hf") / "templates" / TEMPLATE).read_text(encoding="utf-8")
    title = "Inspector: " + " vs ".join(run["label"] for run in payload["runs"])
    return template.replace(_TITLE, html.escape(scrub(title))).replace(_DATA, encode_payload(payload))


def write_inspector(eval_dirs: Sequence[str | Path], output: str | Path, labels: Sequence[str] | None = None,
                    max_samples: int | None = DEFAULT_MAX_SAMPLES) -> Path:
    """Read the eval folders (each checked before any work), build the page and write it atomically."""
    if not eval_dirs:
        raise ConfigError("inspect: give at least one eval folder (the --output-dir of `interplay-hf eval`)")
    output = Path(output)
    if output.is_dir():
        raise ConfigError(f"--output {output}: a folder; give the page's file name, e.g. {output / PAGE_FILE}")
    folders = [load_eval_folder(d, max_samples) for d in eval_dirs]
    if labels is None:
        labels = [Path(d).resolve().name or str(d) for d in eval_dirs]
    payload = build_payload(folders, list(labels))
    output.parent.mkdir(parents=True, exist_ok=True)
    return write_text(output, render_page(payload))
