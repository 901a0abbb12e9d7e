"""Case folding that lets fast case-sensitive searches reproduce the official ``re.IGNORECASE`` matches.

The official regexes match ``Define``, ``as``, ``<answer>`` and ``[A-Za-z]`` ignoring case, which also
accepts ``İ``/``ı`` for ``i``, ``ſ`` for ``s`` and the Kelvin sign for ``k``. Case-insensitive patterns
lose CPython's literal-prefix search and run several times slower, so we search a folded copy instead.
:func:`fold_case` keeps every index (one character in, one out) and, for every code point ``c``,
``fold_case(c)`` is an ASCII letter ``L`` exactly when ``re.fullmatch(L, c, re.IGNORECASE)`` holds;
whitespace and punctuation are unchanged (``tests/test_verify_parser.py`` checks all of Unicode).
"""

from __future__ import annotations


def fold_case(text: str) -> str:
    """Lower-case ``text`` index-for-index, mapping ``İ``/``ı`` to ``i`` and ``ſ`` to ``s``."""
    if "\u0130" in text:  # the only character whose lower case is two characters long
        text = text.replace("\u0130", "i")
    folded = text.lower()
    if "\u017f" in folded:
        folded = folded.replace("\u017f", "s")
    if "\u0131" in folded:
        folded = folded.replace("\u0131", "i")
    return folded
