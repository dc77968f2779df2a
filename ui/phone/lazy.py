"""The call log's and the SMS log's model: ``PagedTableModel`` with every page and the count read off the
GUI thread (an Op each), the rows appended when they arrive."""

from __future__ import annotations

from typing import Any

import shiboken6
from PySide6.QtCore import QModelIndex, Signal

from ui.models.paged import ROOT, Index, PagedTableModel
from ui.operations import Op


class LazyTableModel(PagedTableModel):
    """Subclasses implement ``count_op`` and ``page_op`` (``read`` Ops) and ``data``."""

    page_loaded = Signal()  # a page was read (and its rows, if any, appended)

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._fetching = False

    def count_op(self) -> Op[int]:
        raise NotImplementedError

    def page_op(self, offset: int, limit: int) -> Op[list[Any]]:
        raise NotImplementedError

    def reload(self) -> None:
        """Start the list again: the first page and the total, both read in the background."""
        self.beginResetModel()
        self.rows = []
        self.total = None
        self._more = True
        self._fetching = False
        self._generation += 1
        self.endResetModel()
        self.fetchMore(ROOT)
        generation = self._generation

        def counted(total: int) -> None:
            if self._alive():
                self._counted(generation, total)

        self.count_op().success(counted).failure(lambda _exc: None).run()

    def fetchMore(self, parent: Index) -> None:  # noqa: N802 (Qt override)
        if parent.isValid() or self._fetching or not self._more:
            return
        self._fetching = True
        generation = self._generation

        def arrived(page: list[Any]) -> None:
            if self._alive():
                self._arrived(generation, page)

        def failed(_exc: Exception) -> None:
            if self._alive():
                self._failed(generation)

        self.page_op(len(self.rows), self.page_size).success(arrived).failure(failed).run()

    def _alive(self) -> bool:
        return shiboken6.isValid(self)

    def _failed(self, generation: int) -> None:
        if generation == self._generation:
            self._fetching = False
            self._more = False

    def _arrived(self, generation: int, page: list[Any]) -> None:
        if generation != self._generation:  # an older list's page arriving late is dropped
            return
        self._fetching = False
        self._more = len(page) == self.page_size
        if page:
            self.beginInsertRows(QModelIndex(), len(self.rows), len(self.rows) + len(page) - 1)
            self.rows.extend(page)
            self.endInsertRows()
        self.page_loaded.emit()
