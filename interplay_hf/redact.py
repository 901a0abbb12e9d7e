"""Keeping secrets out of everything we print or write: plans, logs, recipes, cards, error messages.

A token can reach us from the environment (``HF_TOKEN``, a stage's ``env:``), a recipe key
(``hub_token``) or a command-line override (``--hub_token hf_...``); each path goes through one of
these functions before it is shown or saved.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from typing import Any

REDACTED = "<redacted>"

# Keys whose values are secrets wherever they appear in a recipe (TrainingArguments has hub_token).
_SECRET_KEYS = {"token", "hub_token", "hf_token", "use_auth_token", "auth_token", "access_token", "api_key", "password"}
_SECRET_KEY_RE = re.compile(
    r"(^|_)(api_?key|secret|password|passwd|pat|webhook|credentials?|auth)($|_)|_access_token$", re.IGNORECASE)
# Environment variable names are shouting by convention; any TOKEN/KEY/SECRET/PASSWORD/PAT/WEBHOOK/AUTH/CREDENTIAL
# part is a secret (HF_TOKEN, GITHUB_PAT, SLACK_WEBHOOK, AWS_SECRET_ACCESS_KEY).
_SECRET_ENV_RE = re.compile(r"(^|_)(TOKENS?|KEYS?|SECRETS?|PASSWORD|PASSWD|PAT|WEBHOOK|CREDENTIALS?|AUTH)($|_)",
                            re.IGNORECASE)
# Tokens recognisable by their prefix wherever they appear: Hugging Face, GitHub, GitLab, Slack, OpenAI-style
# keys, AWS access key ids, Slack webhook URLs.
_TOKEN_RE = re.compile(
    r"\b(?:hf_[A-Za-z0-9]{20,}|gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|glpat-[A-Za-z0-9_-]{20,}"
    r"|xox[abposr]-[A-Za-z0-9-]{10,}|sk-[A-Za-z0-9_-]{20,}|AKIA[0-9A-Z]{16})\b"
    r"|https://hooks\.slack\.com/services/\S+")
# user:password@ in a URL (DATABASE_URL, HF_ENDPOINT, a git remote): the password goes, the user and host stay.
_URL_PASSWORD_RE = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s:/@]*):[^\s@/]+@")


def is_secret_key(key: Any) -> bool:
    """A recipe key whose value is a secret (``hub_token``, ``wandb_api_key``; not ``pad_token``)."""
    return isinstance(key, str) and (key.lower() in _SECRET_KEYS or bool(_SECRET_KEY_RE.search(key)))


def redact(obj: Any) -> Any:
    """A copy of a recipe with secret-looking keys and Hub tokens replaced by ``<redacted>``."""
    if isinstance(obj, dict):
        return {key: REDACTED if is_secret_key(key) and value not in (None, "", False) else redact(value)
                for key, value in obj.items()}
    if isinstance(obj, list):
        return [redact(v) for v in obj]
    if isinstance(obj, str):
        return scrub(obj)
    return obj


def scrub_patterns(text: str) -> str:
    """``text`` without what looks like a secret by its shape alone (prefixed tokens, URL passwords); unlike
    :func:`scrub` it does not replace the values of secret environment variables, so it is safe on data."""
    return _TOKEN_RE.sub(REDACTED, _URL_PASSWORD_RE.sub(rf"\1:{REDACTED}@", text))


def redact_patterns(obj: Any) -> Any:
    """A copy of a JSON-like value with secret-named keys and secret-shaped strings redacted (for files we write)."""
    if isinstance(obj, dict):
        return {key: REDACTED if is_secret_key(key) and value not in (None, "", False) else redact_patterns(value)
                for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [redact_patterns(v) for v in obj]
    return scrub_patterns(obj) if isinstance(obj, str) else obj


def _known_tokens() -> list[str]:
    """The secrets this process holds: the Hub login and every secret-named environment variable."""
    found = [v for k, v in os.environ.items() if _SECRET_ENV_RE.search(k) and len(v) >= 8]
    try:
        from huggingface_hub import get_token

        token = get_token()
    except Exception:  # noqa: BLE001 - a broken token store must not stop an error message from printing
        token = None
    return [token, *found] if token and len(token) >= 4 else found


def scrub(text: str) -> str:
    """``text`` without the active Hub token, secret environment values, prefixed tokens (``hf_…``, ``ghp_…``, …)
    and URL passwords."""
    for token in sorted(set(_known_tokens()), key=len, reverse=True):
        text = text.replace(token, REDACTED)
    return scrub_patterns(text)


def redact_env(env: Mapping[str, str]) -> dict[str, str]:
    """An environment block fit to print: values of secret-named variables hidden, tokens scrubbed elsewhere."""
    return {k: REDACTED if _SECRET_ENV_RE.search(k) and v else scrub(str(v)) for k, v in env.items()}


def redact_argv(argv: Sequence[str]) -> list[str]:
    """A command line fit to print: the value after ``--hub_token`` (or ``--hub_token=...``) hidden."""
    out: list[str] = []
    hide_next = False
    for arg in argv:
        if hide_next:
            out.append(REDACTED)
            hide_next = False
            continue
        name, eq, _ = arg.partition("=")
        if arg.startswith("--") and is_secret_key(name[2:].replace("-", "_")):
            out.append(f"{name}={REDACTED}" if eq else arg)
            hide_next = not eq
            continue
        out.append(scrub(arg))
    return out
