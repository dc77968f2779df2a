"""Read-only tables, set up one way everywhere: whole rows selected, no editing in place, no row numbers,
rows a line of text high, alternating colours, the last (or a chosen) column taking the spare width."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QTableWidget, QTableWidgetItem

from meike.money import format_fen

RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter


def read_only(view: QTableView, *, stretch: int | None = None, fit_contents: bool = False,
              single: bool = True) -> QTableView:
    """Make ``view`` a read-only list. ``stretch``: the column that takes the spare width (default the
    last); ``fit_contents``: the other columns sized to their text."""
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection if single
                          else QAbstractItemView.SelectionMode.ExtendedSelection)
    view.verticalHeader().hide()
    view.verticalHeader().setDefaultSectionSize(view.fontMetrics().height() + 8)
    view.setAlternatingRowColors(True)
    header = view.horizontalHeader()
    if fit_contents:
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    if stretch is None:
        header.setStretchLastSection(True)
    else:
        header.setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)
    return view


def table(name: str, columns: list[str], *, stretch: int = 0) -> QTableWidget:
    """A small read-only table of text cells (a dialog's list): columns fit their text, ``stretch`` fills."""
    widget = QTableWidget(0, len(columns), objectName=name)
    widget.setHorizontalHeaderLabels(columns)
    read_only(widget, stretch=stretch, fit_contents=True)
    return widget


def fill(widget: QTableWidget, rows: Sequence[Sequence[str]], money_columns: Iterable[int] = ()) -> None:
    money = set(money_columns)
    widget.setRowCount(len(rows))
    for r, cells in enumerate(rows):
        for c, text in enumerate(cells):
            item = QTableWidgetItem(text)
            if c in money:
                item.setTextAlignment(RIGHT)
            widget.setItem(r, c, item)


def fill_amounts(widget: QTableWidget, amounts: dict[str, int], *, total_label: str = "") -> None:
    rows = [[name, format_fen(fen)] for name, fen in amounts.items()]
    if total_label and amounts:
        rows.append([total_label, format_fen(sum(amounts.values()))])
    if not rows:
        rows = [["（无）", ""]]
    fill(widget, rows, money_columns=[1])
