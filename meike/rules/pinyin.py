"""Pinyin search keys: 双眼皮 → ``syp``, 张三 → ``zs`` (pypinyin, first letters)."""

from __future__ import annotations


def initials(text: str, *, limit: int = 20) -> str:
    """First letter of each Hanzi's pinyin; runs of Latin letters and digits are kept whole."""
    # Imported on first use: pypinyin's phrase tables are a large part of a cold start, and a window
    # that never registers a customer or an item never needs them.
    from pypinyin import Style, lazy_pinyin

    parts = lazy_pinyin(text, style=Style.FIRST_LETTER, errors="default", strict=False)
    return "".join(ch for part in parts for ch in part.lower() if ch.isascii() and ch.isalnum())[:limit]


def is_pinyin_query(text: str) -> bool:
    """True when a search text looks like pinyin initials (only Latin letters)."""
    return text.isascii() and text.isalpha()
