"""收款 / 收欠款: split tender across methods, coupons, change for cash, arrears; and 消单 with a reason."""

from __future__ import annotations

import uuid

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from meike.db import Clinic
from meike.errors import ValidationError
from meike.models.cashier import ORDER_NEW, ORDER_SETTLED
from meike.money import yuan
from meike.permissions import Actor
from meike.services.cashier import PayResult
from meike.services.cashier_view import OrderFacts
from meike.services.ledger import AccountSummary, Tender
from ui.cashier.common import BIG_STYLE, TenderRow, TenderRows, balances_text, hint, wrap
from ui.operations import cashier as ops
from ui.tasks import error_text
from ui.widgets.form import ERROR_STYLE, ErrorForm


def _buttons(dialog: QDialog, ok_text: str, ok_name: str, cancel_name: str | None = None,
             ) -> tuple[QDialogButtonBox, QLabel]:
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
    ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
    ok.setText(ok_text)
    ok.setObjectName(ok_name)
    cancel = buttons.button(QDialogButtonBox.StandardButton.Cancel)
    cancel.setText("取消")
    cancel.setObjectName(cancel_name or f"{ok_name}_close")
    buttons.rejected.connect(dialog.reject)
    message = QLabel(objectName=f"{ok_name}_message")
    message.setStyleSheet(ERROR_STYLE)
    message.setWordWrap(True)
    return buttons, message


def cash_change(due: int, entered: int, cash: int) -> int:
    """找零: what the customer over-tendered, if cash covers it (only cash is given back as change)."""
    over = entered - due
    return over if 0 < over <= cash else 0


def capped(tenders: list[tuple[str, Tender]], change: int) -> list[Tender]:
    """The tenders to record: cash rows reduced by the change, last first; rows brought to 0 dropped."""
    out = [t for _k, t in tenders]
    left = change
    for i in range(len(out) - 1, -1, -1):
        kind, t = tenders[i]
        if left and kind == "cash":
            take = min(left, t.amount_fen)
            out[i] = Tender(t.payment_method_id, t.amount_fen - take, t.coupon_id)
            left -= take
    return [t for t in out if t.amount_fen > 0]


class PaymentDialog(QDialog):
    """Shown with ``open()``. One idempotency key per dialog, and the dialog is busy while the payment runs
    (off the GUI thread): pressing 确认收款 twice pays once. The call is written down on this PC before it is
    sent (``meike.journal``), so a crash does not lose the key.

    The order's facts are read off the GUI thread; ``loaded`` is set when they are shown (``failed_text``
    says why not, and the dialog closes). A new order is settled; a settled order with arrears collects
    them (title 收欠款). After ``accepted``, ``result`` holds the receipt and ``change_fen`` the change given.
    """

    def __init__(self, clinic: Clinic, actor: Actor, order_id: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.clinic, self.actor, self.order_id = clinic, actor, order_id
        self.idempotency_key = uuid.uuid4().hex
        self.result: PayResult | None = None  # type: ignore[assignment]  # the answer (QDialog.result() unused)
        self.receipt_no: str | None = None
        self.change_fen = 0
        self.loaded = False
        self.failed_text = ""
        self.collecting = False
        self.due = 0
        self.setObjectName("payment_dialog")
        self.setWindowTitle("收款")
        self.setMinimumWidth(720)
        self.form = ErrorForm()
        buttons, self.message = _buttons(self, "确认收款", "cashier_pay_ok", "cashier_pay_cancel")
        self.message.setObjectName("cashier_pay_message")
        self.ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok.setEnabled(False)
        buttons.accepted.connect(self.submit)
        layout = QVBoxLayout(self)
        layout.addLayout(self.form)
        layout.addWidget(self.message)
        layout.addWidget(buttons)
        ops.payment_facts(self, clinic, actor, order_id).success(self._loaded).failure(self._failed).run()

    def _failed(self, error: Exception) -> None:
        self.failed_text = error_text(error)
        self.message.setText(self.failed_text)
        self.reject()

    def _loaded(self, loaded: ops.PaymentFacts) -> None:
        assert loaded.summary is not None
        self.facts: OrderFacts = loaded.facts
        self.summary: AccountSummary = loaded.summary
        self.collecting = self.facts.status == ORDER_SETTLED
        self.due = self.facts.arrears_fen if self.collecting else self.facts.total_fen
        self.setWindowTitle("收欠款" if self.collecting else "收款")
        items = "、".join(line.label for line in self.facts.lines)
        self.form.addRow("顾客", QLabel(f"{self.facts.customer_name}（卡号 {self.facts.card_no}）",
                                        objectName="cashier_pay_customer"))
        self.form.addRow("项目", wrap(items, "cashier_pay_items"))
        if self.collecting:
            self.form.addRow("收据号", QLabel(f"{self.facts.receipt_no}　单据金额 {yuan(self.facts.net_fen)}"))
        due = QLabel(yuan(self.due), objectName="cashier_pay_due")
        due.setStyleSheet(BIG_STYLE)
        self.form.addRow("欠款" if self.collecting else "应收", due)
        self.balances = hint(balances_text(self.summary), "cashier_pay_balances")
        self.balances.setWordWrap(False)
        self.form.addRow("顾客余额", self.balances)

        self.rows = TenderRows("cashier_pay", loaded.methods, self.summary.coupons)
        self.rows.add_row(amount_fen=self.due)
        self.rows.still_due = lambda: self.due - self.rows.entered()
        self.form.add_field("tenders", "支付方式", self.rows, required=True)

        totals = QWidget(objectName="cashier_pay_totals")
        box = QHBoxLayout(totals)
        box.setContentsMargins(0, 0, 0, 0)
        self.received = QLabel(objectName="cashier_pay_received")
        self.change = QLabel(objectName="cashier_pay_change")
        self.change.setStyleSheet(BIG_STYLE)
        self.left = QLabel(objectName="cashier_pay_left")
        for w in (self.received, self.change, self.left):
            box.addWidget(w)
        box.addStretch(1)
        self.form.addRow("已收", totals)
        self.allow_arrears = QCheckBox("余额记欠款", objectName="cashier_pay_arrears")
        self.allow_arrears.setToolTip("收款少于应收时，把差额记为顾客在这张单上的欠款，以后再收")
        if not self.collecting:
            self.form.add_field("arrears", "", self.allow_arrears)
        self.rows.changed.connect(self._update_totals)
        self._update_totals()
        self.loaded = True
        if self.facts.status not in (ORDER_NEW, ORDER_SETTLED) or (self.collecting and self.due <= 0):
            self.message.setText("该单不需要收款")
        else:
            self.ok.setEnabled(True)
        self.amount.selectAll()
        self.amount.setFocus()

    # The first row, for callers that pay with one method.
    @property
    def method(self) -> QComboBox:
        return self.rows.rows[0].method

    @property
    def amount(self) -> QLineEdit:
        return self.rows.rows[0].amount

    def row(self, i: int) -> TenderRow:
        return self.rows.rows[i]

    def _update_totals(self) -> None:
        entered = self.rows.entered()
        change = cash_change(self.due, entered, self.rows.entered_by_kind("cash"))
        self.received.setText(yuan(entered))
        self.change.setText(f"找零 {yuan(change)}" if change else "")
        self.change.setVisible(bool(change))
        if entered > self.due and not change:
            self.left.setText(f"超出{'欠款' if self.collecting else '应收'} {yuan(entered - self.due)}（只有现金可以找零）")
            self.left.setStyleSheet(ERROR_STYLE)
        elif entered < self.due:
            what = "仍欠" if self.collecting else "未收"
            self.left.setText(f"{what} {yuan(self.due - entered)}")
            self.left.setStyleSheet(ERROR_STYLE if not self.collecting else "")
        else:
            self.left.setText("")

    def submit(self) -> None:
        if not self.loaded:
            return
        self.message.clear()
        self.form.clear_errors()
        self.rows.clear_errors()
        try:
            filled = self.rows.tenders()
            entered = sum(t.amount_fen for _r, t in filled)
            change = cash_change(self.due, entered, sum(t.amount_fen for r, t in filled if self.rows.kind(r) == "cash"))
            if entered > self.due and not change:
                what = "欠款" if self.collecting else "应收"
                raise ValidationError.single("amount", f"收款合计 {yuan(entered)} 超过{what} {yuan(self.due)}；"
                                                       "只有现金可以找零")
            tenders = capped([(self.rows.kind(r), t) for r, t in filled], change)
        except ValidationError as e:
            self._refused(e)
            return
        op = ops.pay(self, self.clinic, self.actor, self.order_id, tenders, version=self.facts.version,
                     key=self.idempotency_key, customer_id=self.facts.customer_id,
                     allow_arrears=self.allow_arrears.isChecked() and not self.collecting)
        op.success(lambda result: self._paid(result, change)).failure(self._refused).run()

    def _refused(self, error: Exception) -> None:
        if isinstance(error, ValidationError):
            rest = self.rows.show_errors(error.errors)
            self.message.setText("；".join(self.form.show_errors(rest)))
        else:
            self.message.setText(error_text(error))

    def _paid(self, result: PayResult, change: int) -> None:
        if self.result is not None:  # a replayed second payment (same key): the first was paid and shown
            return
        self.change_fen = change
        self.result = result
        self.receipt_no = result.receipt_no
        self.accept()


class CancelOrderDialog(QDialog):
    """消单: the reason is required and kept on the order."""

    def __init__(self, clinic: Clinic, actor: Actor, order_id: int, summary: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.clinic, self.actor, self.order_id = clinic, actor, order_id
        self.setObjectName("cancel_order_dialog")
        self.setWindowTitle("消单")
        self.setMinimumWidth(440)
        self.form = ErrorForm()
        self.form.addRow("收费单", wrap(summary, "cancel_order_summary"))
        self.reason = QLineEdit(objectName="cancel_reason", placeholderText="例如：顾客暂不做了")
        self.form.add_field("reason", "消单原因", self.reason, required=True)
        buttons, self.message = _buttons(self, "确认消单", "cancel_confirm")
        self.ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
        buttons.accepted.connect(self.submit)
        layout = QVBoxLayout(self)
        layout.addLayout(self.form)
        layout.addWidget(self.message)
        layout.addWidget(buttons)

    def submit(self) -> None:
        self.message.clear()
        self.form.clear_errors()
        ops.cancel_order(self, self.clinic, self.actor, self.order_id, self.reason.text()).success(
            lambda _none: self.accept()).failure(self._refused).run()

    def _refused(self, error: Exception) -> None:
        if isinstance(error, ValidationError):
            self.message.setText("；".join(self.form.show_errors(error.errors)))
        else:
            self.message.setText(error_text(error))
