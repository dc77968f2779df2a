"""Lazy customer grid model: pages of rows fetched from the service as the view scrolls."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

from meike.db import Clinic
from meike.permissions import Actor
from meike.services import customers
from meike.services.customers import CustomerRow

COLUMNS: list[tuple[str, str]] = [
    ("card_no", "卡号"), ("name", "姓名"), ("gender", "性别"), ("mobile", "手机"), ("channel", "渠道"),
    ("cs_staff", "客服"), ("consultant", "现场咨询"), ("department", "部门"), ("created_at", "登记时间"),
]
PAGE_SIZE = 200
Index = QModelIndex | QPersistentModelIndex
ROOT = QModelIndex()


class CustomerTableModel(QAbstractTableModel):
    def __init__(self, clinic: Clinic, actor: Actor, parent: Any = None) -> None:
        super().__init__(parent)
        self.clinic, self.actor = clinic, actor
        self.text = ""
        self.rows: list[CustomerRow] = []
        self.total = 0

    def set_query(self, text: str) -> None:
        self.beginResetModel()
        self.text = text
        self.rows = []
        self.total = customers.count_customers(self.clinic, self.actor, text=text)
        self.endResetModel()
        if self.canFetchMore(QModelIndex()):
            self.fetchMore(QModelIndex())

    def rowCount(self, parent: Index = ROOT) -> int:  # noqa: N802 (Qt override)
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = ROOT) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(COLUMNS)

    def canFetchMore(self, parent: Index) -> bool:  # noqa: N802
        return not parent.isValid() and len(self.rows) < self.total

    def fetchMore(self, parent: Index) -> None:  # noqa: N802
        if parent.isValid():
            return
        page = customers.search_customers(self.clinic, self.actor, text=self.text, offset=len(self.rows),
                                          limit=PAGE_SIZE)
        if not page:
            self.total = len(self.rows)
            return
        self.beginInsertRows(QModelIndex(), len(self.rows), len(self.rows) + len(page) - 1)
        self.rows.extend(page)
        self.endInsertRows()

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self.rows):
            return None
        row = self.rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            value = getattr(row, COLUMNS[index.column()][0])
            return value.strftime("%Y-%m-%d %H:%M") if COLUMNS[index.column()][0] == "created_at" else value
        if role == Qt.ItemDataRole.UserRole:
            return row.id
        return None

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section][1]
        return None
