"""The call log's and the SMS log's model: ``PagedTableModel`` (pages and the count read off the GUI
thread) asked through two operations, with a notice after each page."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal

from ui.models.paged import PagedTableModel
from ui.operations import Op


class LazyTableModel(PagedTableModel):
    """Subclasses implement ``count_op`` and ``page_op`` (``read`` Ops) and ``data``."""

    page_loaded = Signal()  # a page was read (and its rows, if any, are in the model)

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.rows_arrived.connect(lambda _rows: self.page_loaded.emit())

    def count_op(self) -> Op[int]:
        raise NotImplementedError

    def page_op(self, offset: int, limit: int) -> Op[list[Any]]:
        raise NotImplementedError

    def reload(self) -> None:
        """Start the list again: the first page and the total, both read in the background (the rows
        shown stay until the first page replaces them)."""
        self.restart(self.count_op())
