"""收费中心: 未付款 / 已付款 / 已退单·已消单 orders, the right-click money actions, customer accounts and 日结."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date

from PySide6.QtCore import QPoint, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from meike import clock
from meike.db import Clinic
from meike.models.cashier import ORDER_NEW, ORDER_SETTLED
from meike.money import yuan
from meike.permissions import Actor, Page
from meike.services.cashier import OrderRow
from meike.services.dayclose import BusinessDay
from ui.cashier.accounts import CustomerAccountDialog
from ui.cashier.common import print_into
from ui.cashier.day import BusinessDateDialog, ClosedDaysDialog, DayCloseDialog, RevenueDialog
from ui.cashier.new_order import NewOrderDialog
from ui.cashier.order_table import OrderTable
from ui.cashier.orders import InvoiceDialog, RefundLineDialog, RepriceDialog, ReprintDialog, VoidDialog
from ui.cashier.payment import CancelOrderDialog, PaymentDialog
from ui.cashier.shares import SharesDialog
from ui.operations import cashier as ops
from ui.operations.cashier import CLOSED, PAGE_SIZE
from ui.pages.base import PageWidget, need_page
from ui.tasks import error_text
from ui.widgets import messages
from ui.widgets.form import ERROR_STYLE

UNPAID_COLUMNS = ["顾客", "卡号", "手机", "项目", "应收", "开单时间", "开单人"]
PAID_COLUMNS = ["收据号", "顾客", "卡号", "手机", "项目", "应收", "实收", "欠款", "收款时间"]
CLOSED_COLUMNS = ["状态", "收据号", "顾客", "卡号", "手机", "项目", "金额", "开单时间", "原因"]


class CashierPage(PageWidget):
    """Refreshed from ``bus().changed`` (what it ``WATCHES``): an action of any of its dialogs, or of
    another desk, that wrote money or customers reloads the lists; no dialog pokes the page."""

    WATCHES = ("money", "customers")

    def __init__(self, clinic: Clinic, actor: Actor, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        need_page(actor, Page.CASHIER)
        self.clinic, self.actor = clinic, actor
        self.dialog: QDialog | None = None
        self.last_receipt_id: int | None = None
        self.day: BusinessDay | None = None
        self.setObjectName("page_cashier")
        self.search = QLineEdit(objectName="cashier_search", placeholderText="顾客姓名 / 拼音首字母 / 手机号 / 卡号 / 收据号")
        self.new_button = QPushButton("新建收费单", objectName="cashier_new_order")
        self.settle_button = QPushButton("收款", objectName="cashier_settle")
        self.cancel_button = QPushButton("消单", objectName="cashier_cancel")
        self.account_button = QPushButton("顾客账户", objectName="cashier_accounts")
        self.refresh_button = QPushButton("刷新", objectName="cashier_refresh")
        self.business_date = QLabel(objectName="cashier_business_date")
        self.day_close_button = QPushButton("日结", objectName="cashier_day_close")
        self.date_button = QPushButton("营业日期", objectName="cashier_set_business_date")
        self.history_button = QPushButton("历史", objectName="cashier_closed_days")
        self.revenue_button = QPushButton("营收统计", objectName="cashier_revenue")
        self.status = QLabel(objectName="cashier_status", wordWrap=True)
        self.print_button = QPushButton("打印收据", objectName="cashier_print_receipt")
        self.print_button.hide()
        self.unpaid = OrderTable(clinic, actor, ORDER_NEW, "cashier_unpaid_table", UNPAID_COLUMNS)
        self.paid = OrderTable(clinic, actor, ORDER_SETTLED, "cashier_paid_table", PAID_COLUMNS, background=True)
        self.closed = OrderTable(clinic, actor, CLOSED, "cashier_closed_table", CLOSED_COLUMNS, background=True)
        self.tables = (self.unpaid, self.paid, self.closed)
        self.tabs = QTabWidget(objectName="cashier_tabs")
        for table, title in zip(self.tables, ("未付款", "已付款", "已退单·已消单"), strict=True):
            self.tabs.addTab(table, title)
            table.on_change = self._tables_changed
            table.on_error = self.status.setText
        self._setup_actions()

        top = QHBoxLayout()
        top.addWidget(self.search, 1)
        for button in (self.new_button, self.settle_button, self.cancel_button, self.account_button,
                       self.refresh_button):
            top.addWidget(button)
        day = QHBoxLayout()
        day.addWidget(self.business_date)
        day.addStretch(1)
        for button in (self.day_close_button, self.date_button, self.history_button, self.revenue_button):
            day.addWidget(button)
        bottom = QHBoxLayout()
        bottom.addWidget(self.status, 1)
        bottom.addWidget(self.print_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(day)
        layout.addWidget(self.tabs, 1)
        layout.addLayout(bottom)

        self._debounce = QTimer(self, singleShot=True, interval=250)
        self._debounce.timeout.connect(self.refresh)
        self.search.textChanged.connect(lambda _t: self._debounce.start())
        self.search.returnPressed.connect(self.refresh)
        self.new_button.clicked.connect(self.new_order)
        self.settle_button.clicked.connect(self.take_payment)
        self.cancel_button.clicked.connect(self.cancel_order)
        self.account_button.clicked.connect(self.open_accounts)
        self.refresh_button.clicked.connect(self.refresh)
        self.day_close_button.clicked.connect(self.close_day)
        self.date_button.clicked.connect(self.change_business_date)
        self.history_button.clicked.connect(self.show_closed_days)
        self.revenue_button.clicked.connect(self.show_revenue)
        self.print_button.clicked.connect(self.print_last_receipt)
        self.tabs.currentChanged.connect(lambda _i: self._tab_shown())
        for table in self.tables:
            table.selectionModel().selectionChanged.connect(lambda *_a: self._update_buttons())
            table.customContextMenuRequested.connect(lambda pos, t=table: self._on_context_menu(t, pos))
        self.unpaid.doubleClicked.connect(lambda _i: self.take_payment())
        self.paid.doubleClicked.connect(lambda _i: self.take_payment() if self._owed(self.current()) else None)
        self.refresh()

    def _setup_actions(self) -> None:
        def action(text: str, name: str, slot: Callable[[], object]) -> QAction:
            act = QAction(text, self, objectName=name)
            act.triggered.connect(lambda: slot())
            return act

        self.act_pay = action("收款…", "cashier_action_pay", self.take_payment)
        self.act_collect = action("收欠款…", "cashier_action_collect", self.take_payment)
        self.act_cancel = action("消单…", "cashier_action_cancel", self.cancel_order)
        self.act_merge = action("合并收费…", "cashier_action_merge", self.merge_orders)
        self.act_shares = action("业绩分配…", "cashier_action_shares", self.edit_shares)
        self.act_void = action("退单…", "cashier_action_void", self.void_order)
        self.act_refund = action("退款…", "cashier_action_refund", self.refund_line)
        self.act_reprice = action("改价（多退少补）…", "cashier_action_reprice", self.reprice_line)
        self.act_invoice = action("登记发票…", "cashier_action_invoice", self.register_invoice)
        self.act_reprint = action("重印收据…", "cashier_action_reprint", self.reprint)
        self.act_account = action("顾客账户…", "cashier_action_account", self.open_accounts)

    # --- lists ------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Reload the unpaid queue and the tab in view; a hidden history tab reloads when it is shown."""
        self._debounce.stop()
        text = self.search.text()
        for table in self.tables:
            if table.background and table is not self.tabs.currentWidget():
                table.stale = True
            else:
                table.reload(text)
        self._show_totals()
        self._show_business_date()
        self._update_buttons()

    @property
    def loading(self) -> bool:
        return any(table.loading for table in self.tables)

    def _tab_shown(self) -> None:
        table = self.current_table
        if table.stale:
            table.reload(self.search.text())
        self._update_buttons()

    def _tables_changed(self) -> None:
        self._show_totals()
        self._update_buttons()

    def _show_totals(self) -> None:
        for i, (table, title) in enumerate(zip(self.tables, ("未付款", "已付款", "已退单·已消单"), strict=True)):
            if table.stale:
                self.tabs.setTabText(i, title)
                continue
            if table.loading and not table.rows:
                total = "…"
            else:
                total = f"{table.total:,}" if table.total is not None else f"{PAGE_SIZE:,}+"
            self.tabs.setTabText(i, f"{title}（{total}）")

    def _show_business_date(self) -> None:
        ops.business_day(self, self.clinic, self.actor).success(self._business_day).failure(
            lambda e: self.business_date.setText(error_text(e))).run()

    def _business_day(self, day: BusinessDay) -> None:
        self.day = day
        text = f"营业日期：{day.business_date:%Y-%m-%d}"
        if not day.is_today:
            text += "（不是今天）"
        if day.last_closed is not None:
            text += f"　上次日结：{day.last_closed:%Y-%m-%d}"
        self.business_date.setText(text)
        self.business_date.setStyleSheet("font-weight: bold;" + ("" if day.is_today else ERROR_STYLE))

    @property
    def current_table(self) -> OrderTable:
        widget = self.tabs.currentWidget()
        assert isinstance(widget, OrderTable)
        return widget

    def current(self) -> OrderRow | None:
        return self.current_table.current()

    def _owed(self, row: OrderRow | None) -> int:
        return self.paid.arrears.get(row.id, 0) if row is not None and row.status == ORDER_SETTLED else 0

    def _update_buttons(self) -> None:
        row = self.current()
        on_unpaid = self.current_table is self.unpaid and row is not None
        self.settle_button.setEnabled(on_unpaid or self._owed(row) > 0)
        self.settle_button.setText("收欠款" if self.current_table is self.paid else "收款")
        self.cancel_button.setEnabled(on_unpaid)

    def _show(self, dialog: QDialog) -> QDialog:
        self.dialog = dialog
        dialog.open()
        return dialog

    def _reselect(self, table: OrderTable, order_id: int) -> None:
        """Show the tab and select the order now, or as soon as the tab's rows arrive."""
        self.tabs.setCurrentWidget(table)
        if table.loading:
            table.pending = order_id
        elif any(r.id == order_id for r in table.rows):
            table.select_order(order_id)

    # --- the right-click menu ---------------------------------------------------------------

    def build_menu(self, table: OrderTable) -> QMenu:
        """The menu for the selected rows of a tab; built apart from exec() so tests can read it."""
        menu = QMenu(self)
        menu.setObjectName("cashier_menu")
        rows = table.selected()
        row = rows[0] if rows else None
        if row is None:
            return menu
        if table is self.unpaid:
            same_customer = len({r.customer_id for r in rows}) == 1
            self.act_merge.setEnabled(len(rows) > 1 and same_customer)
            self.act_pay.setEnabled(len(rows) == 1)
            self.act_cancel.setEnabled(len(rows) == 1)
            self.act_shares.setEnabled(len(rows) == 1)
            for act in (self.act_pay, self.act_shares, self.act_cancel, self.act_merge):
                menu.addAction(act)
        elif table is self.paid:
            self.act_collect.setEnabled(self._owed(row) > 0)
            for act in (self.act_collect, self.act_void, self.act_refund, self.act_reprice, self.act_invoice,
                        self.act_reprint):
                menu.addAction(act)
        else:
            menu.addAction(self.act_reprint)
        self.act_reprint.setEnabled(bool(row.receipt_no))
        menu.addSeparator()
        menu.addAction(self.act_account)
        return menu

    def _on_context_menu(self, table: OrderTable, pos: QPoint) -> None:
        index = table.indexAt(pos)
        if not index.isValid():
            return
        if not table.selectionModel().isRowSelected(index.row(), index.parent()):
            table.selectRow(index.row())
        menu = self.build_menu(table)
        menu.exec(table.viewport().mapToGlobal(pos))
        menu.deleteLater()

    def _need(self, table: OrderTable | None, what: str) -> OrderRow | None:
        row = self.current() if table is None or self.current_table is table else None
        if row is None:
            where = "“未付款”中" if table is self.unpaid else "“已付款”中" if table is self.paid else ""
            self.status.setText(f"请先在{where}选择一张{what}")
        return row

    def _guard(self, make: Callable[[], QDialog]) -> QDialog:
        """Open a dialog that reads its facts; an order that changed meanwhile (or left the scope) is
        reported in the status line when the dialog closes for it (its ``failed_text``)."""
        dialog = self._show(make())
        dialog.rejected.connect(lambda: self.status.setText(getattr(dialog, "failed_text", "") or self.status.text()))
        return dialog

    # --- orders -----------------------------------------------------------------------------

    def new_order(self) -> NewOrderDialog:
        dialog = NewOrderDialog(self.clinic, self.actor, self)
        dialog.accepted.connect(lambda: self._order_saved(dialog))
        self._show(dialog)
        return dialog

    def _order_saved(self, dialog: NewOrderDialog) -> None:
        if dialog.saved_id is not None:
            self._reselect(self.unpaid, dialog.saved_id)
        self.status.setText("已新建收费单，请收款")

    def take_payment(self) -> PaymentDialog | None:
        row = self.current()
        if row is None or not (self.current_table is self.unpaid or self._owed(row) > 0):
            self.status.setText("请先在“未付款”中选择一张收费单，或在“已付款”中选择有欠款的单")
            return None
        dialog = self._guard(lambda: PaymentDialog(self.clinic, self.actor, row.id, self))
        if isinstance(dialog, PaymentDialog):
            dialog.accepted.connect(lambda: self._paid(dialog))
            return dialog
        return None

    def _paid(self, dialog: PaymentDialog) -> None:
        result = dialog.result
        assert result is not None
        before = next((r for t in (self.unpaid, self.paid) for r in t.rows if r.id == dialog.order_id), None)
        self.tabs.setCurrentWidget(self.paid)
        if before is not None:  # at once, while the paid list reloads
            self.paid.show_now(replace(before, status=ORDER_SETTLED, paid_fen=before.paid_fen + result.paid_fen,
                                       receipt_no=before.receipt_no or result.receipt_no,
                                       settled_at=before.settled_at or clock.now()), result.arrears_fen)
        else:
            self._reselect(self.paid, dialog.order_id)
        what = "收欠款成功" if dialog.collecting else "收款成功"
        text = f"{what}，收据号 {result.receipt_no}"
        if dialog.change_fen:
            text += f"，找零 {yuan(dialog.change_fen)}"
        if result.arrears_fen:
            text += f"，仍欠 {yuan(result.arrears_fen)}"
        self.status.setText(text)
        self._offer_print(result.receipt_id)

    def _offer_print(self, receipt_id: int) -> None:
        self.last_receipt_id = receipt_id
        self.print_button.show()

    def print_last_receipt(self) -> None:
        print_into(self.status, self.clinic, self.actor, self.last_receipt_id, self.print_button)

    def cancel_order(self) -> CancelOrderDialog | None:
        row = self._need(self.unpaid, "收费单")
        if row is None:
            return None
        summary = f"{row.customer_name}　{row.items}　{yuan(row.total_fen)}"
        dialog = CancelOrderDialog(self.clinic, self.actor, row.id, summary, self)
        dialog.accepted.connect(self._cancelled)
        self._show(dialog)
        return dialog

    def _cancelled(self) -> None:
        self.status.setText("已消单")

    def merge_orders(self) -> None:
        """合并收费: the selected orders of one customer become one, which is then paid (its dialog opens)."""
        rows = self.unpaid.selected() if self.current_table is self.unpaid else []
        if len(rows) < 2 or len({r.customer_id for r in rows}) != 1:
            self.status.setText("请在“未付款”中按住 Ctrl 选择同一位顾客的两张以上收费单")
            return
        total = sum(r.total_fen for r in rows)
        if not messages.ask(self, "合并收费", f"把 {rows[0].customer_name} 的 {len(rows)} 张收费单合并为一张"
                                              f"（合计 {yuan(total)}）并收款？"):
            return
        ops.merge_orders(self, self.clinic, self.actor, [r.id for r in rows]).success(
            lambda merged: self._merged(merged, len(rows))).failure(
            lambda e: self.status.setText(error_text(e))).run()

    def _merged(self, merged: int, count: int) -> None:
        self.status.setText(f"已合并 {count} 张收费单，请收款")
        self.unpaid.pending = merged
        self.tabs.setCurrentWidget(self.unpaid)
        self.unpaid.on_loaded = lambda: self._pay_merged(merged)
        if not self.unpaid.loading:  # the page was hidden: nothing reloads it from the change
            self.unpaid.reload(self.search.text())

    def _pay_merged(self, merged: int) -> None:
        self.unpaid.on_loaded = None
        row = self.unpaid.current()
        if row is not None and row.id == merged:
            self.take_payment()

    def _order_dialog(self, make: Callable[[int], QDialog], done: Callable[[QDialog], None]) -> QDialog | None:
        row = self._need(self.paid, "已付款的单")
        if row is None:
            return None
        dialog = self._guard(lambda: make(row.id))
        dialog.accepted.connect(lambda: done(dialog))
        return dialog

    def edit_shares(self) -> SharesDialog | None:
        """业绩分配 of an unpaid order before it is settled."""
        row = self._need(self.unpaid, "未付款的单")
        if row is None:
            return None
        dialog = SharesDialog(self.clinic, self.actor, row.id, self)
        self._guard(lambda: dialog)
        dialog.accepted.connect(lambda: self.status.setText(f"已保存 {row.customer_name} 这张单的业绩分配"))
        return dialog

    def void_order(self) -> VoidDialog | None:
        dialog = self._order_dialog(lambda i: VoidDialog(self.clinic, self.actor, i, self), self._voided)
        return dialog if isinstance(dialog, VoidDialog) else None

    def _voided(self, dialog: QDialog) -> None:
        assert isinstance(dialog, VoidDialog) and dialog.result is not None
        result = dialog.result
        self._reselect(self.unpaid, result.reopened_order_id)
        self.status.setText(f"已退单，退单收据号 {result.receipt_no}，退回 {yuan(result.refunded_fen)}；"
                            "原单已作废，已生成新的未付款单")

    def refund_line(self) -> RefundLineDialog | None:
        dialog = self._order_dialog(lambda i: RefundLineDialog(self.clinic, self.actor, i, self),
                                    lambda d: self._money_done(d, "退款成功"))
        return dialog if isinstance(dialog, RefundLineDialog) else None

    def reprice_line(self) -> RepriceDialog | None:
        dialog = self._order_dialog(lambda i: RepriceDialog(self.clinic, self.actor, i, self),
                                    lambda d: self._money_done(d, "改价成功"))
        return dialog if isinstance(dialog, RepriceDialog) else None

    def _money_done(self, dialog: QDialog, what: str) -> None:
        result = getattr(dialog, "result", None)
        order_id = getattr(dialog, "order_id", None)
        if order_id is not None:
            self._reselect(self.paid, order_id)
        if result is not None:
            text = f"{what}，收据号 {result.receipt_no}"
            if result.arrears_fen:
                text += f"，仍欠 {yuan(result.arrears_fen)}"
            self.status.setText(text)
            self._offer_print(result.receipt_id)

    def register_invoice(self) -> InvoiceDialog | None:
        def done(_d: QDialog) -> None:
            self.status.setText("已登记发票")

        dialog = self._order_dialog(lambda i: InvoiceDialog(self.clinic, self.actor, i, self), done)
        return dialog if isinstance(dialog, InvoiceDialog) else None

    def reprint(self) -> ReprintDialog | None:
        row = self._need(None, "有收据的单")
        if row is None:
            return None
        dialog = ReprintDialog(self.clinic, self.actor, row.id, self)
        self._guard(lambda: dialog)
        dialog.accepted.connect(lambda: self.status.setText(dialog.outcome))
        return dialog

    # --- customer accounts and the business day ---------------------------------------------

    def open_accounts(self) -> CustomerAccountDialog | None:
        row = self.current()
        dialog = CustomerAccountDialog(self.clinic, self.actor, row.customer_id if row else None, self)
        self._guard(lambda: dialog)
        return dialog

    def close_day(self) -> DayCloseDialog:
        dialog = DayCloseDialog(self.clinic, self.actor, self)
        dialog.accepted.connect(lambda: self._day_closed(dialog))
        self._show(dialog)
        return dialog

    def _day_closed(self, dialog: DayCloseDialog) -> None:
        closed = dialog.closed
        assert closed is not None
        ops.business_day(self, self.clinic, self.actor).success(lambda day: self._after_close(closed.business_date, day)).failure(
            lambda e: self.status.setText(error_text(e))).run()

    def _after_close(self, closed: date, day: BusinessDay) -> None:
        self._business_day(day)
        self.status.setText(f"{closed:%Y-%m-%d} 已日结；之后的收款记入 {day.business_date:%Y-%m-%d}")

    def change_business_date(self) -> BusinessDateDialog:
        """营业日期, from the business day the page shows (read with the lists)."""
        current = self.day.business_date if self.day is not None else clock.now().date()
        dialog = BusinessDateDialog(self.clinic, self.actor, current, self)
        dialog.accepted.connect(lambda: self._date_changed(dialog))
        self._show(dialog)
        return dialog

    def _date_changed(self, dialog: BusinessDateDialog) -> None:
        self._show_business_date()
        if dialog.chosen is not None:
            self.status.setText(f"营业日期已改为 {dialog.chosen:%Y-%m-%d}")

    def show_closed_days(self) -> ClosedDaysDialog:
        dialog = ClosedDaysDialog(self.clinic, self.actor, self)
        self._show(dialog)
        return dialog

    def show_revenue(self) -> RevenueDialog:
        dialog = RevenueDialog(self.clinic, self.actor, self)
        self._show(dialog)
        return dialog
