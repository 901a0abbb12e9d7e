"""The one exception type for mistakes a user can make (bad recipe, bad flag, missing file).

Internal invariants use ``assert``; everything a user can cause raises :class:`ConfigError`
with a message that names the field and says how to fix it. The CLI prints it without a traceback.
"""


class ConfigError(ValueError):
    """A user-facing configuration or input error (names the offending field and the fix)."""
