"""Excel files the program writes: what was typed is written as text, never as a live formula.

openpyxl takes any string that starts with ``=`` for a formula, and Excel itself evaluates text that
starts with ``+ - @`` (or a tab / line break before one of them) when a cell is edited or the sheet is
saved as CSV and opened again — so ``=HYPERLINK("http://…","点此")`` typed into a note would become a
link, or worse, in whoever opens the export. Every export writes its rows with ``append_row``: each
string is a text cell, and one that starts with one of those characters also gets Excel's "quote
prefix" (the cell behaves as if typed with a leading apostrophe, and stays text when edited). Characters
an Excel file cannot hold (control characters) are dropped, and a text longer than a cell can hold is cut.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell, WriteOnlyCell

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")
MAX_CELL_CHARS = 32_767  # Excel's limit for one cell


def clean_text(text: str) -> str:
    """Text an Excel cell can hold: no control characters, at most ``MAX_CELL_CHARS`` characters."""
    text = ILLEGAL_CHARACTERS_RE.sub("", text)
    return text if len(text) <= MAX_CELL_CHARS else text[:MAX_CELL_CHARS - 1] + "…"


def cell(sheet: Any, value: Any) -> Any:
    """One cell for ``sheet`` (a worksheet, write-only or not): strings become text cells, other values
    (numbers, dates, None) are written as they are."""
    if not isinstance(value, str):
        return value
    text = clean_text(value)
    out: Cell = WriteOnlyCell(sheet, value=None)
    out.value = text
    out.data_type = "s"  # never "f", whatever the text starts with
    if text.lstrip(" ").startswith(FORMULA_STARTS):
        out.quotePrefix = True
    return out


def append_row(sheet: Any, values: Iterable[Any]) -> None:
    """``sheet.append`` with every string written as text (see the module's docstring)."""
    sheet.append([cell(sheet, v) for v in values])
