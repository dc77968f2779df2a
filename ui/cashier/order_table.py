"""One tab of the cashier page: a page of orders (unpaid, paid, or closed), read off the GUI thread."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QShowEvent, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QTableView

from meike.db import Clinic
from meike.errors import MeikeError
from meike.models.cashier import ORDER_CANCELLED, ORDER_NEW, ORDER_SETTLED
from meike.money import yuan
from meike.permissions import Actor
from meike.services.cashier import STATUS_LABELS, OrderRow
from ui.operations import cashier as ops
from ui.operations.cashier import PAGE_SIZE, OrdersPage
from ui.tasks import error_text
from ui.widgets.tables import RIGHT, read_only

MONEY_COLUMNS = {"应收", "实收", "欠款", "金额"}


class OrderTable(QTableView):
    """The orders of one tab, read off the GUI thread (``ui.operations.cashier.orders``). The history tabs
    (paid, closed: millions of rows in a clinic's years) load only when in view. A full page's exact total is
    counted in the background.
    """

    def __init__(self, clinic: Clinic, actor: Actor, status: str, name: str, columns: list[str], *,
                 background: bool = False) -> None:  # background: a history tab, loaded only when in view
        super().__init__(objectName=name)
        self.clinic, self.actor, self.status = clinic, actor, status
        self.columns = columns
        self.background = background
        self.rows: list[OrderRow] = []
        self.arrears: dict[int, int] = {}
        self.reasons: dict[int, str] = {}
        self.total: int | None = 0
        self.loading = False
        self.stale = False  # a hidden history tab: reloaded when shown
        self.pending: int | None = None  # the order to select once the rows are here
        self.on_change: Callable[[], None] = lambda: None
        self.on_error: Callable[[str], None] = lambda _m: None
        self.on_loaded: Callable[[], None] | None = None  # once, when the next rows are shown
        self._generation = 0
        self.model_ = QStandardItemModel(0, len(columns), self)
        self.model_.setHorizontalHeaderLabels(columns)
        self.setModel(self.model_)
        self._stretch = columns.index("项目")
        read_only(self, stretch=self._stretch, single=status != ORDER_NEW)
        self.horizontalHeader().setStretchLastSection(False)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)

    def fit_columns(self) -> None:
        """Columns as wide as their contents (a tab filled while hidden is fitted again when shown)."""
        for column in range(self.model_.columnCount()):
            if column != self._stretch:
                self.resizeColumnToContents(column)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 (Qt's name)
        super().showEvent(event)
        self.fit_columns()

    def reload(self, text: str) -> None:
        self._generation += 1
        self.stale = False
        current = self.current()
        if self.pending is None and current is not None:
            self.pending = current.id
        generation = self._generation
        self.loading = True
        self.on_change()
        ops.orders(self, self.clinic, self.actor, self.status, text).success(
            lambda page: self._arrived(generation, page, text)).failure(
            lambda exc: self._failed(generation, exc)).run()

    def _arrived(self, generation: int, page: OrdersPage, text: str) -> None:
        if generation == self._generation:  # an older search's rows arriving late are dropped
            self.loading = False
            self._show(page, text)
            if self.on_loaded is not None:
                self.on_loaded()

    def _failed(self, generation: int, exc: Exception) -> None:
        if generation == self._generation:
            self.loading = False
            self.on_error(exc.message if isinstance(exc, MeikeError) else f"列表加载失败：{error_text(exc)}")
            self.on_change()

    def _show(self, page: OrdersPage, text: str) -> None:
        self.rows, self.arrears, self.reasons = page.rows, dict(page.arrears), page.reasons
        self._fill()
        self._select_pending()
        if len(self.rows) < PAGE_SIZE:  # the whole list is here: its length is the total
            self.total = len(self.rows)
        else:
            self.total = None
            generation = self._generation
            ops.count_orders(self, self.clinic, self.actor, self.status, text).success(
                lambda n: self._counted(generation, n)).failure(lambda exc: self._failed(generation, exc)).run()
        self.on_change()

    def _select_pending(self) -> None:
        if self.pending is not None and any(r.id == self.pending for r in self.rows):
            self.select_order(self.pending)
        self.pending = None

    def show_now(self, row: OrderRow, arrears_fen: int) -> None:
        """Show an order that just changed at the top at once, before the list comes back from the database."""
        self.rows = [row, *(r for r in self.rows if r.id != row.id)]
        self.arrears[row.id] = arrears_fen
        self._fill()
        self.select_order(row.id)
        self.pending = row.id

    def _counted(self, generation: int, total: int) -> None:
        if generation == self._generation:
            self.total = total
            self.on_change()

    def cells(self, r: OrderRow) -> list[str]:
        created = f"{r.created_at:%Y-%m-%d %H:%M}"
        if self.status == ORDER_NEW:
            return [r.customer_name, r.card_no, r.mobile, r.items, yuan(r.total_fen), created, r.created_by]
        if self.status == ORDER_SETTLED:
            owed = self.arrears.get(r.id, 0)
            settled = f"{r.settled_at:%Y-%m-%d %H:%M}" if r.settled_at else ""
            return [r.receipt_no, r.customer_name, r.card_no, r.mobile, r.items, yuan(r.total_fen),
                    yuan(r.paid_fen), yuan(owed) if owed else "", settled]
        reason = r.cancel_reason if r.status == ORDER_CANCELLED else self.reasons.get(r.id, "")
        return [STATUS_LABELS.get(r.status, r.status), r.receipt_no, r.customer_name, r.card_no, r.mobile, r.items,
                yuan(r.total_fen), created, reason]

    def _fill(self) -> None:
        self.model_.setRowCount(0)
        for r in self.rows:
            items = []
            for column, text in zip(self.columns, self.cells(r), strict=True):
                item = QStandardItem(text)
                item.setData(r.id, Qt.ItemDataRole.UserRole)
                if column in MONEY_COLUMNS:
                    item.setTextAlignment(RIGHT)
                if column == "欠款" and text:
                    item.setForeground(Qt.GlobalColor.red)
                items.append(item)
            self.model_.appendRow(items)
        self.fit_columns()

    def current(self) -> OrderRow | None:
        rows = self.selected()
        return rows[0] if rows else None

    def selected(self) -> list[OrderRow]:
        return [self.rows[i.row()] for i in sorted(self.selectionModel().selectedRows(), key=lambda i: i.row())]

    def row_of(self, order_id: int) -> int:
        return next(i for i, r in enumerate(self.rows) if r.id == order_id)

    def select_order(self, order_id: int) -> None:
        self.selectRow(self.row_of(order_id))

    def column(self, name: str) -> int:
        return self.columns.index(name)

    def text(self, row: int, column: str) -> str:
        return self.model_.item(row, self.column(column)).text()
