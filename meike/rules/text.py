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


# --- stored text -----------------------------------------------------------------------------------
#
# What a user types into a field that is stored (a name, an address, a note, a reason, an invoice
# number) passes ``clean_text`` at the service boundary: NFC, line breaks made ``\n`` (and, in a
# one-line field, any tab or line break a paste brought made one space), trimmed; then refused, with
# a Chinese message naming the field, when it is longer than the field holds or keeps a character no
# database should hold: NUL (PostgreSQL refuses it outright), other control characters, lone
# surrogates. Astral characters (𠮷, emoji), right-to-left marks, quotes, ``%``, ``_`` and ``\`` are
# text like any other and come back as typed. Lengths count characters, as VARCHAR(n) does.

NOTE_MAX = 2000  # a note, a reason, a follow-up's result: a page of text
CONTENT_MAX = 10_000  # a consultation's text

_ONE_LINE = str.maketrans({"\t": " ", "\n": " ", "\r": " ", "\v": " ", "\f": " ",
                           "\x85": " ", "\u2028": " ", "\u2029": " "})


def normalise_text(value: object, *, multiline: bool = False) -> str:
    """``value`` as it would be stored: NFC, ``\\r\\n`` and ``\\r`` → ``\\n`` (one-line: whitespace
    controls → a space), trimmed. Nothing is refused here; ``clean_text`` does that."""
    text = "" if value is None else str(value)
    text = unicodedata.normalize("NFC", text)
    if multiline:
        text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n").replace("\u2029", "\n")
    else:
        text = text.translate(_ONE_LINE)
    return text.strip()


def unsafe_char(text: str, *, multiline: bool = False) -> str | None:
    """The first character of ``text`` that cannot be stored: a control character (only ``\\n`` and
    ``\\t`` in a multi-line text) or a lone surrogate."""
    for ch in text:
        if unicodedata.category(ch) in ("Cc", "Cs") and not (multiline and ch in "\n\t"):
            return ch
    return None


def text_error(text: str, *, label: str, limit: int, multiline: bool = False) -> str | None:
    """Why ``text`` (already normalised) cannot be stored in the field called ``label``; None when it can."""
    if len(text) > limit:
        return f"{label}不能超过 {limit:,} 个字"
    bad = unsafe_char(text, multiline=multiline)
    if bad is not None:
        return f"{label}含有无法保存的字符（U+{ord(bad):04X}）"
    return None


def clean_text(value: object, *, field: str, label: str, limit: int, multiline: bool = False,
               required: bool = False) -> str:
    """``value`` normalised and checked, ready to store.

    Raises:
        ValidationError: ``{field: message}``: too long, an unsafe character, or empty when required.
    """
    text = normalise_text(value, multiline=multiline)
    problem = text_error(text, label=label, limit=limit, multiline=multiline)
    if problem is None and required and not text:
        problem = f"请填写{label}"
    if problem is not None:
        raise ValidationError.single(field, problem)
    return text


def take_text(errors: dict[str, str], value: object, *, field: str, label: str, limit: int,
              multiline: bool = False, required: bool = False) -> str:
    """``clean_text`` for a form checked all at once: a problem goes into ``errors`` and the
    normalised text is returned anyway (it is not stored while ``errors`` holds anything)."""
    try:
        return clean_text(value, field=field, label=label, limit=limit, multiline=multiline, required=required)
    except ValidationError as e:
        errors.setdefault(field, e.errors[field])
        return normalise_text(value, multiline=multiline)
