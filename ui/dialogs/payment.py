"""收款 (take the payment of an order) and 消单 (cancel an unpaid order with a reason) dialogs."""

from __future__ import annotations

import uuid

from PySide6.QtWidgets import QComboBox, QDialog, QDialogButtonBox, QLabel, QLineEdit, QVBoxLayout, QWidget

from meike.db import Clinic
from meike.errors import MeikeError, ValidationError
from meike.money import format_fen, parse_yuan
from meike.permissions import Actor
from meike.services import cashier, dictionaries
from meike.services.dictionaries import Kind
from ui.widgets.form import ERROR_STYLE, ErrorForm


def _buttons(dialog: QDialog, ok_text: str, ok_name: str) -> tuple[QDialogButtonBox, QLabel]:
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
    ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
    ok.setText(ok_text)
    ok.setObjectName(ok_name)
    cancel = buttons.button(QDialogButtonBox.StandardButton.Cancel)
    cancel.setText("取消")
    cancel.setObjectName(f"{ok_name}_close")
    buttons.rejected.connect(dialog.reject)
    message = QLabel(objectName=f"{ok_name}_message")
    message.setStyleSheet(ERROR_STYLE)
    message.setWordWrap(True)
    return buttons, message


class PaymentDialog(QDialog):
    """Shown with ``open()``. One idempotency key per dialog: pressing 确认收款 twice pays once."""

    def __init__(self, clinic: Clinic, actor: Actor, order_id: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.clinic, self.actor, self.order_id = clinic, actor, order_id
        self.idempotency_key = uuid.uuid4().hex
        self.receipt_no: str | None = None
        self.order = cashier.get_order(clinic, actor, order_id)
        self.setObjectName("payment_dialog")
        self.setWindowTitle("收款")
        self.setMinimumWidth(480)
        self.form = ErrorForm()
        items = "、".join(line.item_name if line.quantity == 1 else f"{line.item_name}×{line.quantity}"
                         for line in self.order.lines)
        self.form.addRow("顾客", QLabel(f"{self.order.customer_name}（卡号 {self.order.card_no}）"))
        self.form.addRow("项目", QLabel(items, wordWrap=True))
        due = QLabel(f"¥{format_fen(self.order.total_fen)}", objectName="payment_due")
        due.setStyleSheet("font-size: 18px; font-weight: bold;")
        self.form.addRow("应收", due)
        self.method = QComboBox(objectName="payment_method")
        for entry in dictionaries.list_entries(clinic, actor, Kind.PAYMENT_METHOD):
            self.method.addItem(entry.name, entry.id)
        self.amount = QLineEdit(format_fen(self.order.total_fen).replace(",", ""), objectName="payment_amount")
        self.form.add_field("payment_method", "支付方式", self.method, required=True)
        self.form.add_field("amount", "实收（元）", self.amount, required=True)
        buttons, self.message = _buttons(self, "确认收款", "payment_confirm")
        self.ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
        buttons.accepted.connect(self.submit)
        layout = QVBoxLayout(self)
        layout.addLayout(self.form)
        layout.addWidget(self.message)
        layout.addWidget(buttons)
        self.amount.selectAll()

    def submit(self) -> None:
        self.message.clear()
        try:
            try:
                amount = parse_yuan(self.amount.text())
            except ValueError as e:
                raise ValidationError.single("amount", str(e)) from None
            self.receipt_no = cashier.settle(self.clinic, self.actor, self.order_id,
                                             payment_method_id=self.method.currentData(), amount_fen=amount,
                                             idempotency_key=self.idempotency_key)
        except ValidationError as e:
            self.message.setText("；".join(self.form.show_errors(e.errors)))
            return
        except MeikeError as e:
            self.form.clear_errors()
            self.message.setText(e.message)
            return
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
        self.form.addRow("收费单", QLabel(summary, wordWrap=True))
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
        try:
            cashier.cancel(self.clinic, self.actor, self.order_id, reason=self.reason.text())
        except ValidationError as e:
            self.message.setText("；".join(self.form.show_errors(e.errors)))
            return
        except MeikeError as e:
            self.message.setText(e.message)
            return
        self.accept()
