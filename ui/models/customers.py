"""Lazy customer grid model: pages of rows fetched from the service as the view scrolls."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal

from meike.db import Clinic
from meike.permissions import Actor
from meike.services import customers
from meike.services.customers import CustomerQuery, CustomerRow
from ui.tasks import run_in_background

COLUMNS: list[tuple[str, str]] = [
    ("card_no", "卡号"), ("name", "姓名"), ("gender", "性别"), ("mobile", "手机"), ("customer_class", "类别"),
    ("channel", "渠道"), ("cs_staff", "客服"), ("consultant", "现场咨询"), ("visit_type", "到诊类型"),
    ("visit_status", "成交"), ("appointment_at", "预约时间"), ("department", "部门"), ("created_at", "登记时间"),
]
TIME_COLUMNS = {"created_at", "appointment_at"}
PAGE_SIZE = 200
Index = QModelIndex | QPersistentModelIndex
ROOT = QModelIndex()


class CustomerTableModel(QAbstractTableModel):
    """Rows come a page at a time; the exact total is counted in the background and reported later."""

    total_changed = Signal(object)  # the count of the current query, once known

    def __init__(self, clinic: Clinic, actor: Actor, parent: Any = None) -> None:
        super().__init__(parent)
        self.clinic, self.actor = clinic, actor
        self.query = CustomerQuery()
        self.rows: list[CustomerRow] = []
        self.total: int | None = None
        self._more = False
        self._generation = 0

    def set_query(self, query: CustomerQuery | str) -> None:
        self.beginResetModel()
        self.query = CustomerQuery(text=query) if isinstance(query, str) else query
        self.rows = []
        self.total = None
        self._more = True
        self._generation += 1
        self.endResetModel()
        self.fetchMore(ROOT)
        generation, query_now = self._generation, self.query
        run_in_background(lambda: customers.count_customers(self.clinic, self.actor, query=query_now),
                          lambda n: self._counted(generation, n), owner=self)

    def _counted(self, generation: int, total: int) -> None:
        if generation == self._generation:  # an older query's count arriving late is dropped
            self.total = total
            self.total_changed.emit(total)

    def rowCount(self, parent: Index = ROOT) -> int:  # noqa: N802 (Qt override)
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = ROOT) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(COLUMNS)

    def canFetchMore(self, parent: Index) -> bool:  # noqa: N802
        return not parent.isValid() and self._more

    def fetchMore(self, parent: Index) -> None:  # noqa: N802
        if parent.isValid():
            return
        page = customers.search_customers(self.clinic, self.actor, query=self.query, offset=len(self.rows),
                                          limit=PAGE_SIZE)
        self._more = len(page) == PAGE_SIZE
        if not page:
            return
        self.beginInsertRows(QModelIndex(), len(self.rows), len(self.rows) + len(page) - 1)
        self.rows.extend(page)
        self.endInsertRows()

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self.rows):
            return None
        row = self.rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            key = COLUMNS[index.column()][0]
            value = getattr(row, key)
            if key in TIME_COLUMNS:
                return value.strftime("%Y-%m-%d %H:%M") if value is not None else ""
            return value
        if role == Qt.ItemDataRole.UserRole:
            return row.id
        return None

    def row_at(self, row: int) -> CustomerRow | None:
        return self.rows[row] if 0 <= row < len(self.rows) else None

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section][1]
        return None
