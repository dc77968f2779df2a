"""A lazy table model: rows are fetched a page at a time, off the GUI thread, as the view scrolls; the
exact total is counted in the background and reported through ``total_changed``.

Pages and counts run on the task manager's read lane (``ui.operations.read``): the first page of a new
list arrives a moment after ``restart`` (``rows_arrived``) and replaces the rows shown until then (no
empty flash while it is read), never while the window waits. An answer for an older list (the search text
changed meanwhile) is dropped. A failed read is reported through ``failed`` (the Chinese error); a list
whose first page failed is empty.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal

from ui.operations import Op, read

Index = QModelIndex | QPersistentModelIndex
ROOT = QModelIndex()


class PagedTableModel(QAbstractTableModel):
    """Subclasses set ``headers`` and ``page_size`` and implement ``data`` and either ``fetch_page``
    (called on the read lane) or ``page_op`` (an operation that reads the page)."""

    total_changed = Signal(object)  # the count of the current list, once known
    rows_arrived = Signal(int)  # a page arrived: the number of rows now loaded
    failed = Signal(object)  # a page or the count could not be read: the (Chinese) error
    headers: list[str] = []
    page_size = 200

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.rows: list[Any] = []
        self.total: int | None = None
        self._more = False
        self._fetching = False
        self._fresh = False  # the next page starts the list again (it replaces the rows shown)
        self._generation = 0
        self._first_limit = self.page_size  # the first page's size (restart(keep=…) reads more at once)

    def fetch_page(self, offset: int, limit: int) -> list[Any]:
        raise NotImplementedError

    def page_op(self, offset: int, limit: int) -> Op[list[Any]]:
        """The read of one page (by default ``fetch_page`` on the read lane)."""
        return read(None, lambda: self.fetch_page(offset, limit))

    def restart(self, count: Callable[[], int] | Op[int], keep: int = 0) -> None:
        """Start the list again: the first page and the total, both read off the GUI thread. ``keep``: read
        at least that many rows at once (the list read again after a change keeps what was scrolled to)."""
        self._first_limit = max(self.page_size, keep)
        self.total = None
        self._more = True
        self._fetching = False
        self._fresh = True
        self._generation += 1
        generation = self._generation
        self.fetchMore(ROOT)
        op = count if isinstance(count, Op) else read(None, count)
        op.success(lambda n: self._counted(generation, n)).failure(lambda e: self._failed(generation, e)).run()

    @property
    def loading(self) -> bool:
        """A page is being read."""
        return self._fetching

    def _current(self, generation: int) -> bool:
        return shiboken6.isValid(self) and generation == self._generation

    def _counted(self, generation: int, total: int) -> None:
        if self._current(generation):  # an older list's count arriving late is dropped
            self.total = total
            self.total_changed.emit(total)

    def _failed(self, generation: int, error: Exception) -> None:
        if self._current(generation):
            self._fetching = False
            self._more = False
            if self._fresh:
                self._replace([])
            self.failed.emit(error)

    def _replace(self, rows: list[Any]) -> None:
        self._fresh = False
        self.beginResetModel()
        self.rows = rows
        self.endResetModel()

    def rowCount(self, parent: Index = ROOT) -> int:  # noqa: N802 (Qt override)
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = ROOT) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self.headers)

    def canFetchMore(self, parent: Index) -> bool:  # noqa: N802
        return not parent.isValid() and self._more and not self._fetching

    def fetchMore(self, parent: Index) -> None:  # noqa: N802
        if parent.isValid() or self._fetching or not self._more:
            return
        self._fetching = True
        generation = self._generation
        limit = self._first_limit if self._fresh else self.page_size
        self.page_op(0 if self._fresh else len(self.rows), limit).success(
            lambda page: self._arrived(generation, page, limit)).failure(lambda e: self._failed(generation, e)).run()

    def _arrived(self, generation: int, page: list[Any], limit: int) -> None:
        if not self._current(generation):
            return
        self._fetching = False
        self._more = len(page) == limit
        if self._fresh:
            self._replace(page)
        elif page:
            self.beginInsertRows(QModelIndex(), len(self.rows), len(self.rows) + len(page) - 1)
            self.rows.extend(page)
            self.endInsertRows()
        self.rows_arrived.emit(len(self.rows))

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self.headers[section]
        return None

    def row_at(self, row: int) -> Any:
        return self.rows[row] if 0 <= row < len(self.rows) else None
