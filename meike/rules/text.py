"""Search text as the services take it: trimmed, of a sane length, without control characters.

Every search box, filter and picker passes its text through ``search_text`` at the service boundary.
A search is a few characters (a name, pinyin initials, a number, a receipt number): a pasted page of
100,000 characters raised SQLite's raw "LIKE pattern too complex" (its limit is 50,000 bytes), and a
NUL byte a raw ``psycopg.DataError`` on PostgreSQL. Both are refused here with a Chinese message for
the field instead.
"""

from __future__ import annotations

import unicodedata

from meike.errors import ValidationError

MAX_SEARCH = 50  # characters: longer than any name, number, receipt number or phrase one looks for


def search_error(text: str, *, limit: int = MAX_SEARCH) -> str | None:
    """Why ``text`` (already trimmed) cannot be searched for, in Chinese; None when it can."""
    if len(text) > limit:
        return f"搜索内容太长（{len(text):,} 个字），最多 {limit} 个字"
    for ch in text:
        if unicodedata.category(ch) in ("Cc", "Cs"):  # NUL, tabs, line breaks, lone surrogates
            return f"搜索内容里有不能搜索的控制字符（U+{ord(ch):04X}）"
    return None


def search_text(text: str | None, *, field: str = "text", limit: int = MAX_SEARCH) -> str:
    """``text`` trimmed, ready for a query.

    Raises:
        ValidationError: ``{field: message}`` when it is too long or holds control characters.
    """
    text = (text or "").strip()
    problem = search_error(text, limit=limit)
    if problem is not None:
        raise ValidationError.single(field, problem)
    return text
