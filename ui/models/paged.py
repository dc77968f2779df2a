"""A lazy table model: rows are fetched a page at a time as the view scrolls; the exact total is
counted in the background and reported through ``total_changed``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal

from ui.tasks import run_in_background

Index = QModelIndex | QPersistentModelIndex
ROOT = QModelIndex()


class PagedTableModel(QAbstractTableModel):
    """Subclasses set ``headers`` and ``page_size`` and implement ``fetch_page`` and ``data``."""

    total_changed = Signal(object)  # the count of the current list, once known
    headers: list[str] = []
    page_size = 200

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.rows: list[Any] = []
        self.total: int | None = None
        self._more = False
        self._generation = 0

    def fetch_page(self, offset: int, limit: int) -> list[Any]:
        raise NotImplementedError

    def restart(self, count: Callable[[], int]) -> None:
        """Start the list again: the first page at once, the total counted off the GUI thread."""
        self.beginResetModel()
        self.rows = []
        self.total = None
        self._more = True
        self._generation += 1
        self.endResetModel()
        self.fetchMore(ROOT)
        generation = self._generation
        run_in_background(count, lambda n: self._counted(generation, n), owner=self)

    def _counted(self, generation: int, total: int) -> None:
        if generation == self._generation:  # an older list's count arriving late is dropped
            self.total = total
            self.total_changed.emit(total)

    def rowCount(self, parent: Index = ROOT) -> int:  # noqa: N802 (Qt override)
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = ROOT) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self.headers)

    def canFetchMore(self, parent: Index) -> bool:  # noqa: N802
        return not parent.isValid() and self._more

    def fetchMore(self, parent: Index) -> None:  # noqa: N802
        if parent.isValid():
            return
        page = self.fetch_page(len(self.rows), self.page_size)
        self._more = len(page) == self.page_size
        if not page:
            return
        self.beginInsertRows(QModelIndex(), len(self.rows), len(self.rows) + len(page) - 1)
        self.rows.extend(page)
        self.endInsertRows()

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self.headers[section]
        return None

    def row_at(self, row: int) -> Any:
        return self.rows[row] if 0 <= row < len(self.rows) else None
