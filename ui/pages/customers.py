"""顾客管理: search customers within the data scope (name, pinyin initials, mobile, last 4, card no)."""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from meike.db import Clinic
from meike.permissions import Actor, Page
from ui.models.customers import CustomerTableModel


class CustomersPage(QWidget):
    def __init__(self, clinic: Clinic, actor: Actor, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        actor.require_page(Page.CUSTOMERS)
        self.setObjectName("page_customers")
        self.search = QLineEdit(objectName="customer_search",
                                placeholderText="姓名 / 拼音首字母(如 zs) / 手机号或后四位 / 卡号")
        self.search_button = QPushButton("查询", objectName="customer_search_button")
        self.count = QLabel(objectName="customer_count")
        self.model = CustomerTableModel(clinic, actor, self)
        self.view = QTableView(objectName="customer_table")
        self.view.setModel(self.model)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.verticalHeader().hide()
        self.view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self._debounce = QTimer(self, singleShot=True, interval=250)
        self._debounce.timeout.connect(self.run_query)
        self.search.textChanged.connect(lambda _t: self._debounce.start())
        self.search.returnPressed.connect(self.run_query)
        self.search_button.clicked.connect(self.run_query)
        top = QHBoxLayout()
        top.addWidget(self.search, 1)
        top.addWidget(self.search_button)
        top.addWidget(self.count)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.view, 1)
        self.run_query()

    def run_query(self) -> None:
        self._debounce.stop()
        self.model.set_query(self.search.text())
        self.count.setText(f"共 {self.model.total} 位顾客")

    def refresh(self) -> None:
        self.run_query()
