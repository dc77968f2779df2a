"""Lazy customer grid model: pages of rows read off the GUI thread as the view scrolls."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt

from meike.db import Clinic
from meike.permissions import Actor
from meike.services.customers import CustomerQuery, CustomerRow
from ui.models.paged import Index, PagedTableModel
from ui.operations import Op
from ui.operations import front_desk as ops

COLUMNS: list[tuple[str, str]] = [
    ("card_no", "卡号"), ("name", "姓名"), ("gender", "性别"), ("mobile", "手机"), ("customer_class", "类别"),
    ("channel", "渠道"), ("cs_staff", "客服"), ("consultant", "现场咨询"), ("visit_type", "到诊类型"),
    ("visit_status", "成交"), ("appointment_at", "预约时间"), ("department", "部门"), ("created_at", "登记时间"),
]
TIME_COLUMNS = {"created_at", "appointment_at"}
PAGE_SIZE = 200


class CustomerTableModel(PagedTableModel):
    """Rows come a page at a time; the exact total is counted in the background and reported later."""

    headers = [label for _key, label in COLUMNS]
    page_size = PAGE_SIZE

    def __init__(self, clinic: Clinic, actor: Actor, parent: Any = None) -> None:
        super().__init__(parent)
        self.clinic, self.actor = clinic, actor
        self.query = CustomerQuery()

    def set_query(self, query: CustomerQuery | str, keep: int = 0) -> None:
        self.query = query_now = CustomerQuery(text=query) if isinstance(query, str) else query
        self.restart(ops.count(self.clinic, self.actor, query_now), keep)

    def page_op(self, offset: int, limit: int) -> Op[list[CustomerRow]]:
        return ops.search_page(self.clinic, self.actor, self.query, offset, limit)

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
