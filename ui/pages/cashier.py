"""收费中心: unpaid and paid orders; 新建收费单, 收款 and 消单."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from meike.db import Clinic
from meike.models.cashier import ORDER_NEW, ORDER_SETTLED
from meike.money import format_fen
from meike.permissions import Actor, Page
from meike.services import cashier
from meike.services.cashier import OrderRow
from ui.dialogs.new_order import NewOrderDialog
from ui.dialogs.payment import CancelOrderDialog, PaymentDialog

PAGE_SIZE = 500
UNPAID_COLUMNS = ["顾客", "卡号", "手机", "项目", "应收", "开单时间", "开单人"]
PAID_COLUMNS = ["收据号", "顾客", "卡号", "手机", "项目", "应收", "实收", "收款时间"]
MONEY_COLUMNS = {"应收", "实收"}


def _cells(status: str, r: OrderRow) -> list[str]:
    if status == ORDER_NEW:
        return [r.customer_name, r.card_no, r.mobile, r.items, format_fen(r.total_fen),
                f"{r.created_at:%Y-%m-%d %H:%M}", r.created_by]
    settled = f"{r.settled_at:%Y-%m-%d %H:%M}" if r.settled_at else ""
    return [r.receipt_no, r.customer_name, r.card_no, r.mobile, r.items, format_fen(r.total_fen),
            format_fen(r.paid_fen), settled]


class OrderTable(QTableView):
    """The orders of one status; rebuilt from the service on ``reload``."""

    def __init__(self, clinic: Clinic, actor: Actor, status: str, name: str, columns: list[str]) -> None:
        super().__init__(objectName=name)
        self.clinic, self.actor, self.status = clinic, actor, status
        self.columns = columns
        self.rows: list[OrderRow] = []
        self.total = 0
        self.model_ = QStandardItemModel(0, len(columns), self)
        self.model_.setHorizontalHeaderLabels(columns)
        self.setModel(self.model_)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setAlternatingRowColors(True)
        self.verticalHeader().hide()
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(columns.index("项目"), QHeaderView.ResizeMode.Stretch)

    def reload(self, text: str) -> None:
        self.total = cashier.count_orders(self.clinic, self.actor, status=self.status, text=text)
        self.rows = cashier.list_orders(self.clinic, self.actor, status=self.status, offset=0, limit=PAGE_SIZE,
                                        text=text)
        self.model_.setRowCount(0)
        right = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        for r in self.rows:
            items = []
            for column, text_ in zip(self.columns, _cells(self.status, r), strict=True):
                item = QStandardItem(text_)
                item.setData(r.id, Qt.ItemDataRole.UserRole)
                if column in MONEY_COLUMNS:
                    item.setTextAlignment(right)
                items.append(item)
            self.model_.appendRow(items)

    def current(self) -> OrderRow | None:
        rows = self.selectionModel().selectedRows()
        return self.rows[rows[0].row()] if rows else None

    def row_of(self, order_id: int) -> int:
        return next(i for i, r in enumerate(self.rows) if r.id == order_id)


class CashierPage(QWidget):
    def __init__(self, clinic: Clinic, actor: Actor, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        actor.require_page(Page.CASHIER)
        self.clinic, self.actor = clinic, actor
        self.dialog: QDialog | None = None
        self.setObjectName("page_cashier")
        self.search = QLineEdit(objectName="cashier_search", placeholderText="顾客姓名 / 拼音首字母 / 手机号 / 卡号 / 收据号")
        self.new_button = QPushButton("新建收费单", objectName="cashier_new_order")
        self.settle_button = QPushButton("收款", objectName="cashier_settle")
        self.cancel_button = QPushButton("消单", objectName="cashier_cancel")
        self.refresh_button = QPushButton("刷新", objectName="cashier_refresh")
        self.status = QLabel(objectName="cashier_status")
        self.unpaid = OrderTable(clinic, actor, ORDER_NEW, "cashier_unpaid_table", UNPAID_COLUMNS)
        self.paid = OrderTable(clinic, actor, ORDER_SETTLED, "cashier_paid_table", PAID_COLUMNS)
        self.tabs = QTabWidget(objectName="cashier_tabs")
        self.tabs.addTab(self.unpaid, "未付款")
        self.tabs.addTab(self.paid, "已付款")

        top = QHBoxLayout()
        top.addWidget(self.search, 1)
        for button in (self.new_button, self.settle_button, self.cancel_button, self.refresh_button):
            top.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.status)

        self._debounce = QTimer(self, singleShot=True, interval=250)
        self._debounce.timeout.connect(self.refresh)
        self.search.textChanged.connect(lambda _t: self._debounce.start())
        self.search.returnPressed.connect(self.refresh)
        self.new_button.clicked.connect(self.new_order)
        self.settle_button.clicked.connect(self.take_payment)
        self.cancel_button.clicked.connect(self.cancel_order)
        self.refresh_button.clicked.connect(self.refresh)
        self.tabs.currentChanged.connect(lambda _i: self._update_buttons())
        self.unpaid.selectionModel().selectionChanged.connect(lambda *_a: self._update_buttons())
        self.unpaid.doubleClicked.connect(lambda _i: self.take_payment())
        self.refresh()

    def refresh(self) -> None:
        self._debounce.stop()
        text = self.search.text()
        self.unpaid.reload(text)
        self.paid.reload(text)
        self.tabs.setTabText(0, f"未付款（{self.unpaid.total}）")
        self.tabs.setTabText(1, f"已付款（{self.paid.total}）")
        self._update_buttons()

    def _update_buttons(self) -> None:
        on_unpaid = self.tabs.currentWidget() is self.unpaid
        has_row = on_unpaid and self.unpaid.current() is not None
        self.settle_button.setEnabled(has_row)
        self.cancel_button.setEnabled(has_row)

    def _show(self, dialog: QDialog) -> QDialog:
        self.dialog = dialog
        dialog.open()
        return dialog

    def new_order(self) -> NewOrderDialog:
        dialog = NewOrderDialog(self.clinic, self.actor, self)
        dialog.accepted.connect(lambda: self._order_saved(dialog))
        self._show(dialog)
        return dialog

    def _order_saved(self, dialog: NewOrderDialog) -> None:
        self.tabs.setCurrentWidget(self.unpaid)
        self.refresh()
        if dialog.saved_id is not None:
            self.unpaid.selectRow(self.unpaid.row_of(dialog.saved_id))
        self.status.setText("已新建收费单，请收款")

    def take_payment(self) -> PaymentDialog | None:
        row = self.unpaid.current()
        if row is None or self.tabs.currentWidget() is not self.unpaid:
            self.status.setText("请先在“未付款”中选择一张收费单")
            return None
        dialog = PaymentDialog(self.clinic, self.actor, row.id, self)
        dialog.accepted.connect(lambda: self._paid(dialog))
        self._show(dialog)
        return dialog

    def _paid(self, dialog: PaymentDialog) -> None:
        self.refresh()
        self.tabs.setCurrentWidget(self.paid)
        self.paid.selectRow(self.paid.row_of(dialog.order_id))
        self.status.setText(f"收款成功，收据号 {dialog.receipt_no}")

    def cancel_order(self) -> CancelOrderDialog | None:
        row = self.unpaid.current()
        if row is None or self.tabs.currentWidget() is not self.unpaid:
            self.status.setText("请先在“未付款”中选择一张收费单")
            return None
        summary = f"{row.customer_name}　{row.items}　¥{format_fen(row.total_fen)}"
        dialog = CancelOrderDialog(self.clinic, self.actor, row.id, summary, self)
        dialog.accepted.connect(self._cancelled)
        self._show(dialog)
        return dialog

    def _cancelled(self) -> None:
        self.refresh()
        self.status.setText("已消单")
