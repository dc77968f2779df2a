"""Prefix search written as a range, ``text <= column < upper_bound(text)``, so that it uses the index.

Both databases compare text by code point here: SQLite's BINARY collation compares the UTF-8 bytes,
whose order is the code points' order, and the PostgreSQL databases Meike makes and tests are in the
``C`` / ``C.UTF-8`` collation. Every string that starts with ``text`` sorts at or after it and before
``text`` with its last character replaced by the next code point; nothing else does.

The old bound ``text + "\\uffff"`` sorted below every character outside the Basic Multilingual Plane:
a name 王𠮷 (CJK Extension B) or one with an emoji was not found by 王.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_

_MAX = 0x10FFFF
_SURROGATES = range(0xD800, 0xE000)  # not characters: UTF-8 cannot encode them


def upper_bound(text: str) -> str:
    """The smallest string after every string that starts with ``text`` (``text`` not empty).

    ``"王"`` → ``"玌"``, ``"zs"`` → ``"zt"``, ``"138"`` → ``"139"``. Trailing U+10FFFF characters (the
    last code point, which has no next one) are dropped first; a ``text`` of nothing else has no such
    string, and ``text + U+10FFFF`` is the nearest there is.
    """
    if not text:
        raise ValueError("an empty prefix has no upper bound")
    stem = text.rstrip(chr(_MAX))
    if not stem:
        return text + chr(_MAX)
    following = ord(stem[-1]) + 1
    if following in _SURROGATES:
        following = _SURROGATES.stop
    return stem[:-1] + chr(following)


def prefix_clause(column: Any, text: str) -> Any:
    """``column LIKE 'text%'`` as a range (``LIKE`` would need escaping and, on PostgreSQL, a special
    index); ``text`` not empty."""
    return and_(column >= text, column < upper_bound(text))
