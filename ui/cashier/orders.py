"""Dialogs on a settled order: 退单, 项目退款, 改价（多退少补）, 登记发票, 重印."""

from __future__ import annotations

import uuid
from pathlib import Path

from PySide6.QtWidgets import QComboBox, QLabel, QLineEdit, QWidget

from meike.db import Clinic
from meike.errors import ValidationError
from meike.money import yuan
from meike.permissions import Actor
from meike.services.cashier import PayResult, VoidResult
from meike.services.cashier_view import LineFacts, OrderFacts
from meike.services.ledger import RECEIPT_KINDS, Tender
from ui.cashier.common import (
    CashierFormDialog,
    SupervisorFields,
    external_methods,
    hint,
    method_combo,
    money_text,
    parse_money,
    receipt_text,
    reverse_box,
    wrap,
)
from ui.operations import Op
from ui.operations import cashier as ops


def order_summary(facts: OrderFacts) -> str:
    items = "、".join(line.label for line in facts.lines)
    return f"{facts.receipt_no}　{facts.customer_name}（卡号 {facts.card_no}）　{items}　{yuan(facts.net_fen)}"


def _reason(name: str, placeholder: str) -> QLineEdit:
    return QLineEdit(objectName=name, placeholderText=placeholder)


class VoidDialog(CashierFormDialog):
    """退单: a supervisor confirms; the order is voided and comes back as a new unpaid order."""

    result: VoidResult | None  # type: ignore[assignment]  # the answer (QDialog.result() is not used)

    def __init__(self, clinic: Clinic, actor: Actor, order_id: int, parent: QWidget | None = None) -> None:
        super().__init__("cashier_void", "退单", parent, ok_text="确认退单", min_width=620)
        self.clinic, self.actor, self.order_id = clinic, actor, order_id
        self.key = uuid.uuid4().hex
        self.finish_layout()
        self.load(ops.order_facts(self, clinic, actor, order_id), self._build)

    def _build(self, loaded: ops.PaymentFacts) -> None:
        facts = loaded.facts
        self.form.addRow("收费单", wrap(order_summary(facts), "cashier_order_summary"))
        self.form.addRow("", hint("退单后收款按原支付方式退回，账户余额和欠款冲回；原单作废保留，"
                                  "同时生成一张相同项目的未付款单，可修改后重新收款。"))
        self.reason = _reason("cashier_void_reason", "例如：收错项目、顾客取消手术")
        self.form.add_field("reason", "退单原因", self.reason, required=True)
        self.supervisor = SupervisorFields("cashier_void")
        self.supervisor.add_to(self.form)
        self.reverse = reverse_box("cashier_void_reverse")
        self.form.add_field("reverse", "业绩", self.reverse)

    def action(self) -> Op[VoidResult]:
        if not self.reason.text().strip():
            errors = {"reason": "请填写退单原因"}
            if not self.supervisor.filled:
                errors["supervisor"] = "请主管输入用户名和密码"
            raise ValidationError(errors)
        return ops.void(self, self.clinic, self.actor, self.order_id, key=self.key, reason=self.reason.text(),
                        supervisor=self.supervisor.typed(), reverse=self.reverse.isChecked())


def _line_combo(name: str, lines: list[LineFacts]) -> QComboBox:
    combo = QComboBox(objectName=name)
    for line in lines:
        combo.addItem(f"{line.label}　现值 {yuan(line.net_fen)}", line.id)
    if not lines:
        combo.addItem("（没有可办理的项目）", None)
        combo.setEnabled(False)
    return combo


class RefundLineDialog(CashierFormDialog):
    """项目退款: part or all of one line, out through a method or into 预存; arrears are reduced first."""

    result: PayResult | None  # type: ignore[assignment]  # the answer (QDialog.result() is not used)

    def __init__(self, clinic: Clinic, actor: Actor, order_id: int, parent: QWidget | None = None) -> None:
        super().__init__("cashier_refund", "项目退款", parent, ok_text="确认退款", min_width=640)
        self.clinic, self.actor, self.order_id = clinic, actor, order_id
        self.key = uuid.uuid4().hex
        self.finish_layout()
        self.load(ops.order_facts(self, clinic, actor, order_id), self._build)

    def _build(self, loaded: ops.PaymentFacts) -> None:
        self.facts = loaded.facts
        self.lines = [li for li in self.facts.lines if not li.is_course and li.net_fen > 0]
        self.form.addRow("收费单", wrap(order_summary(self.facts), "cashier_order_summary"))
        self.line = _line_combo("cashier_refund_line", self.lines)
        self.form.add_field("line", "退款项目", self.line, required=True)
        if any(li.package_sessions for li in self.facts.lines):
            self.form.addRow("", hint("疗程项目请在“顾客账户”中按次数办理疗程退款"))
        self.amount = QLineEdit(objectName="cashier_refund_amount")
        self.form.add_field("amount", "退款金额（元）", self.amount, required=True)
        self.split = hint(name="cashier_refund_split")
        self.form.addRow("", self.split)
        self.method = method_combo("cashier_refund_method",
                                   external_methods(loaded.methods, with_prepaid=True),
                                   prepaid_label="退入预存")
        self.form.add_field("payment_method", "退款方式", self.method, required=True)
        self.reason = _reason("cashier_refund_reason", "例如：顾客放弃部分疗程")
        self.form.add_field("reason", "退款原因", self.reason, required=True)
        self.supervisor = SupervisorFields("cashier_refund")
        self.supervisor.add_to(self.form)
        self.reverse = reverse_box("cashier_refund_reverse")
        self.form.add_field("reverse", "业绩", self.reverse)
        self.line.currentIndexChanged.connect(lambda _i: self._line_changed())
        self.amount.textChanged.connect(lambda _t: self._update_split())
        self._line_changed()

    def current_line(self) -> LineFacts | None:
        return next((li for li in self.lines if li.id == self.line.currentData()), None)

    def _line_changed(self) -> None:
        line = self.current_line()
        self.amount.setText(money_text(line.net_fen) if line else "")

    def pay_out(self, amount: int) -> int:
        return amount - min(self.facts.arrears_fen, amount)

    def _update_split(self) -> None:
        try:
            amount = parse_money(self.amount.text(), "amount")
        except ValidationError:
            self.split.clear()
            return
        owed = min(self.facts.arrears_fen, amount)
        self.split.setText(f"其中 {yuan(owed)} 冲减欠款，实退 {yuan(amount - owed)}" if owed else
                           f"实退 {yuan(amount)}")

    def action(self) -> Op[PayResult]:
        errors: dict[str, str] = {}
        line = self.current_line()
        if line is None:
            errors["line"] = "请选择退款项目"
        amount = 0
        try:
            amount = parse_money(self.amount.text(), "amount")
        except ValidationError as e:
            errors.update(e.errors)
        if line is not None and amount > line.net_fen:
            errors["amount"] = f"退款金额不能超过该项目现值 {yuan(line.net_fen)}"
        if not self.reason.text().strip():
            errors["reason"] = "请填写退款原因"
        if errors:
            if not self.supervisor.filled:
                errors["supervisor"] = "请主管输入用户名和密码"
            raise ValidationError(errors)
        assert line is not None
        out = self.pay_out(amount)
        tenders = [Tender(self.method.currentData(), out)] if out else []
        return ops.refund_line(self, self.clinic, self.actor, self.order_id, line.id, key=self.key, amount_fen=amount,
                               tenders=tenders, reason=self.reason.text(), supervisor=self.supervisor.typed(),
                               reverse=self.reverse.isChecked())


class RepriceDialog(CashierFormDialog):
    """改价（多退少补）: a settled line's unit price changes; the difference is collected or refunded."""

    result: PayResult | None  # type: ignore[assignment]  # the answer (QDialog.result() is not used)

    def __init__(self, clinic: Clinic, actor: Actor, order_id: int, parent: QWidget | None = None) -> None:
        super().__init__("cashier_reprice", "改价（多退少补）", parent, ok_text="确认改价", min_width=640)
        self.clinic, self.actor, self.order_id = clinic, actor, order_id
        self.key = uuid.uuid4().hex
        self.finish_layout()
        self.load(ops.order_facts(self, clinic, actor, order_id), self._build)

    def _build(self, loaded: ops.PaymentFacts) -> None:
        self.facts = loaded.facts
        self.lines = [li for li in self.facts.lines if not li.is_course]
        methods = loaded.methods
        self.form.addRow("收费单", wrap(order_summary(self.facts), "cashier_order_summary"))
        self.line = _line_combo("cashier_reprice_line", self.lines)
        self.form.add_field("line", "项目", self.line, required=True)
        self.price = QLineEdit(objectName="cashier_reprice_price")
        self.form.add_field("price", "新单价（元）", self.price, required=True)
        self.diff = QLabel(objectName="cashier_reprice_diff")
        self.form.addRow("差额", self.diff)
        self.collect_method = method_combo("cashier_reprice_collect_method", external_methods(methods))
        self.refund_method = method_combo("cashier_reprice_refund_method",
                                          external_methods(methods, with_prepaid=True), prepaid_label="退入预存")
        self.collect_amount = QLineEdit(objectName="cashier_reprice_amount", placeholderText="不填则记为欠款")
        self.form.add_field("payment_method", "补收方式", self.collect_method)
        self.form.add_field("amount", "本次补收（元）", self.collect_amount)
        self.form.add_field("refund_method", "退款方式", self.refund_method)
        self.reverse = reverse_box("cashier_reprice_reverse")
        self.form.add_field("reverse", "业绩", self.reverse)
        self.reason = _reason("cashier_reprice_reason", "例如：按活动价补差、医生调整方案")
        self.form.add_field("reason", "改价原因", self.reason, required=True)
        self.supervisor = SupervisorFields("cashier_reprice")
        self.supervisor.add_to(self.form, "主管确认", required=False)
        self.form.addRow("", hint("退差价或单价低于最低价时需要主管确认"))
        self.line.currentIndexChanged.connect(lambda _i: self._line_changed())
        self.price.textChanged.connect(lambda _t: self._update_diff())
        self._line_changed()

    def current_line(self) -> LineFacts | None:
        return next((li for li in self.lines if li.id == self.line.currentData()), None)

    def _line_changed(self) -> None:
        line = self.current_line()
        self.price.setText(money_text(line.net_fen // line.quantity) if line else "")
        self._update_diff()

    def difference(self) -> int | None:
        line = self.current_line()
        try:
            price = parse_money(self.price.text(), "price", allow_zero=True)
        except ValidationError:
            return None
        return None if line is None else price * line.quantity - line.net_fen

    def _update_diff(self) -> None:
        diff = self.difference()
        collect, refund = diff is not None and diff > 0, diff is not None and diff < 0
        for key, visible in (("payment_method", collect), ("amount", collect), ("refund_method", refund),
                             ("reverse", refund)):
            widget = {"payment_method": self.collect_method, "amount": self.collect_amount,
                      "refund_method": self.refund_method, "reverse": self.reverse}[key]
            self.form.setRowVisible(widget.parentWidget(), visible)
        if diff is None:
            self.diff.setText("")
        elif diff > 0:
            self.diff.setText(f"补收 {yuan(diff)}")
            self.collect_amount.setText(money_text(diff))
        elif diff < 0:
            owed = min(self.facts.arrears_fen, -diff)
            self.diff.setText(f"退还 {yuan(-diff)}" + (f"（其中 {yuan(owed)} 冲减欠款）" if owed else ""))
        else:
            self.diff.setText("价格没有变化")

    def action(self) -> Op[PayResult]:
        line = self.current_line()
        if line is None:
            raise ValidationError.single("line", "请选择项目")
        price = parse_money(self.price.text(), "price", allow_zero=True)
        diff = price * line.quantity - line.net_fen
        tenders: list[Tender] = []
        if diff > 0 and self.collect_amount.text().strip():
            paying = parse_money(self.collect_amount.text(), "amount", allow_zero=True)
            if paying > diff:
                raise ValidationError.single("amount", f"补收金额不能超过差价 {yuan(diff)}")
            if paying:
                tenders = [Tender(self.collect_method.currentData(), paying)]
        elif diff < 0:
            out = -diff - min(self.facts.arrears_fen, -diff)
            if out:
                tenders = [Tender(self.refund_method.currentData(), out)]
        supervisor = self.supervisor.typed() if diff < 0 or self.supervisor.filled else None
        return ops.reprice_line(self, self.clinic, self.actor, self.order_id, line.id, key=self.key, price_fen=price,
                                tenders=tenders, reason=self.reason.text(), supervisor=supervisor, refund=diff < 0,
                                reverse=self.reverse.isChecked())


class InvoiceDialog(CashierFormDialog):
    """登记发票 on a settled order (a second registration replaces the first; both are audited)."""

    def __init__(self, clinic: Clinic, actor: Actor, order_id: int, parent: QWidget | None = None) -> None:
        super().__init__("cashier_invoice", "登记发票", parent, ok_text="保存", min_width=560)
        self.clinic, self.actor, self.order_id = clinic, actor, order_id
        self.finish_layout()
        self.load(ops.order_facts(self, clinic, actor, order_id), self._build)

    def _build(self, loaded: ops.PaymentFacts) -> None:
        facts = loaded.facts
        self.form.addRow("收费单", wrap(order_summary(facts), "cashier_order_summary"))
        self.invoice_no = QLineEdit(facts.invoice_no, objectName="cashier_invoice_no")
        self.invoice_title = QLineEdit(facts.invoice_title or facts.customer_name, objectName="cashier_invoice_title")
        self.amount = QLineEdit(money_text(facts.invoice_fen or facts.net_fen), objectName="cashier_invoice_amount")
        self.form.add_field("invoice_no", "发票号", self.invoice_no, required=True)
        self.form.add_field("invoice_title", "发票抬头", self.invoice_title, required=True)
        self.form.add_field("invoice_amount", "发票金额（元）", self.amount, required=True)

    def action(self) -> Op[None]:
        amount = parse_money(self.amount.text(), "invoice_amount")
        return ops.register_invoice(self, self.clinic, self.actor, self.order_id, invoice_no=self.invoice_no.text(),
                                    title=self.invoice_title.text(), amount_fen=amount)


class ReprintDialog(CashierFormDialog):
    """重印: any receipt of the order, confirmed by a supervisor with the reprint right (logged); the printing
    runs on the I/O lane (the dialog is busy meanwhile, the window is not)."""

    def __init__(self, clinic: Clinic, actor: Actor, order_id: int, parent: QWidget | None = None) -> None:
        super().__init__("cashier_reprint", "重印收据", parent, ok_text="重印", min_width=560)
        self.clinic, self.actor, self.order_id = clinic, actor, order_id
        self.outcome = ""
        self.finish_layout()
        self.load(ops.order_facts(self, clinic, actor, order_id), self._build)

    def _build(self, loaded: ops.PaymentFacts) -> None:
        facts = loaded.facts
        self.receipt = QComboBox(objectName="cashier_reprint_receipt")
        for r in reversed(facts.receipts):
            state = "（已作废）" if r.status == "voided" else ""
            self.receipt.addItem(f"{r.receipt_no}　{RECEIPT_KINDS.get(r.kind, '收据')}{state}　{yuan(r.amount_fen)}",
                                 r.id)
        if not facts.receipts:
            self.receipt.addItem("（这张单没有收据）", None)
        self.form.addRow("顾客", QLabel(f"{facts.customer_name}（卡号 {facts.card_no}）"))
        self.form.add_field("receipt", "收据", self.receipt, required=True)
        self.supervisor = SupervisorFields("cashier_reprint")
        self.supervisor.add_to(self.form)

    def action(self) -> Op[Path | None]:
        receipt_id = self.receipt.currentData()
        if receipt_id is None:
            raise ValidationError.single("receipt", "请选择收据")
        if not self.supervisor.filled:
            raise ValidationError.single("supervisor", "请主管输入用户名和密码")
        return ops.print_receipt(self, self.clinic, self.actor, receipt_id, self.supervisor.typed())

    def saved(self, result: object) -> None:
        assert result is None or isinstance(result, Path)
        self.outcome = receipt_text(result)
        super().saved(result)
