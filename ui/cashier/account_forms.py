"""The money forms of 顾客账户: 交定金, 预存, 住院押金, 购券, 退款 / 出院退款, 疗程退款. Each is an action
(``ui.operations.cashier``): the form is busy while it runs, and its errors show beside the fields."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

from PySide6.QtCore import QDate
from PySide6.QtWidgets import QCheckBox, QComboBox, QDateEdit, QLabel, QLineEdit, QSpinBox, QWidget

from meike import clock
from meike.db import Clinic
from meike.errors import ValidationError
from meike.models.ledger import ACCOUNT_DEPOSIT, ACCOUNT_INPATIENT, ACCOUNT_LABELS, ACCOUNT_PREPAID
from meike.money import yuan
from meike.permissions import Actor
from meike.services.cashier import PayResult
from meike.services.dictionaries import Entry
from meike.services.ledger import AccountSummary, PackageView, ReceiptResult, Tender
from ui.cashier.common import (
    BIG_STYLE,
    CashierFormDialog,
    SupervisorFields,
    TenderRows,
    external_methods,
    hint,
    method_combo,
    money_text,
    parse_money,
    reverse_box,
)
from ui.operations import Op
from ui.operations import cashier as ops
from ui.tasks import error_text

TOP_UP_TITLES = {ACCOUNT_DEPOSIT: "交定金", ACCOUNT_PREPAID: "预存", ACCOUNT_INPATIENT: "住院押金"}


def _choice(name: str, entries: list[tuple[int, str]], none_text: str) -> QComboBox:
    combo = QComboBox(objectName=name)
    combo.addItem(none_text, None)
    for key, label in entries:
        combo.addItem(label, key)
    return combo


def _qdate(day: date) -> QDate:
    return QDate(day.year, day.month, day.day)


class _MoneyDialog(CashierFormDialog):
    """A form that moves money for one customer: one idempotency key (written down on this PC before each
    call, ``meike.journal``); busy while the action runs; ``result`` after success. The tenders' errors show
    under the tender rows."""

    result: ReceiptResult | PayResult | None  # type: ignore[assignment]  # the answer, not QDialog.result()

    def __init__(self, name: str, title: str, clinic: Clinic, actor: Actor, customer_id: int, customer: str,
                 parent: QWidget | None, ok_text: str) -> None:
        super().__init__(name, title, parent, ok_text=ok_text, min_width=640)
        self.clinic, self.actor, self.customer_id = clinic, actor, customer_id
        self.key = uuid.uuid4().hex
        self.form.addRow("顾客", QLabel(customer))
        self.finish_layout()

    def _rows(self) -> TenderRows | None:
        rows = getattr(self, "rows", None)
        return rows if isinstance(rows, TenderRows) else None

    def clear_more(self) -> None:
        rows = self._rows()
        if rows is not None:
            rows.clear_errors()

    def more_errors(self, errors: dict[str, str]) -> dict[str, str]:
        rows = self._rows()
        return rows.show_errors(errors) if rows is not None else errors


    def _show_row(self, field: QWidget, visible: bool) -> None:
        row = field.parentWidget()
        if row is not None:
            self.form.setRowVisible(row, visible)


class TopUpDialog(_MoneyDialog):
    """交定金 (referring staff, credited department), 预存, 住院押金 (inpatient number)."""

    def __init__(self, clinic: Clinic, actor: Actor, customer_id: int, customer: str, account: str,
                 summary: AccountSummary, parent: QWidget | None = None) -> None:
        name = f"cashier_{account}"
        super().__init__(name, TOP_UP_TITLES[account], clinic, actor, customer_id, customer, parent, "确认收款")
        self.account, self.name_, self.summary = account, name, summary
        self.staff: QComboBox | None = None
        self.department: QComboBox | None = None
        self.load(ops.top_up_choices(self, clinic, actor, account == ACCOUNT_DEPOSIT), self._build)

    def _build(self, choices: ops.TopUpChoices) -> None:
        name, account, summary = self.name_, self.account, self.summary
        self.rows = TenderRows(f"{name}_pay", external_methods(choices.methods))
        self.rows.add_row()
        self.form.add_field("tenders", "收款", self.rows, required=True)
        if account == ACCOUNT_DEPOSIT:
            staff, departments = choices.staff, choices.departments
            self.staff = _choice(f"{name}_staff", [(e.id, e.name) for e in staff], "（无）")
            self.department = _choice(f"{name}_department", [(e.id, e.name) for e in departments], "（无）")
            self.staff.currentIndexChanged.connect(lambda _i: self._staff_department(staff))
            self.form.add_field("staff", "推介职员", self.staff)
            self.form.add_field("department", "业绩科室", self.department)
        self.inpatient_no = QLineEdit(summary.inpatient_no, objectName=f"{name}_no")
        if account == ACCOUNT_INPATIENT:
            self.form.add_field("inpatient_no", "住院编号", self.inpatient_no, required=True)
        self.note = QLineEdit(objectName=f"{name}_note")
        self.form.add_field("note", "备注", self.note)

    def _staff_department(self, staff: list[Entry]) -> None:
        assert self.staff is not None and self.department is not None
        entry = next((e for e in staff if e.id == self.staff.currentData()), None)
        if entry is not None and entry.fields.get("department_id"):
            self.department.setCurrentIndex(max(0, self.department.findData(entry.fields["department_id"])))

    def action(self) -> Op[ReceiptResult]:
        tenders = [t for _r, t in self.rows.tenders()]
        return ops.top_up(self, self.clinic, self.actor, self.customer_id, account=self.account, tenders=tenders,
                          key=self.key, staff_id=self.staff.currentData() if self.staff else None,
                          department_id=self.department.currentData() if self.department else None,
                          inpatient_no=self.inpatient_no.text(), note=self.note.text())


class CouponSaleDialog(_MoneyDialog):
    """购券: sold (price ≤ face value) or given free (赠券). What nobody pays for (a free coupon, a price below
    the face value) is given away: a supervisor with 审批低于最低价/赠送 confirms it with their password."""

    def __init__(self, clinic: Clinic, actor: Actor, customer_id: int, customer: str,
                 parent: QWidget | None = None) -> None:
        super().__init__("cashier_coupon", "购券", clinic, actor, customer_id, customer, parent, "确认")
        self.load(ops.top_up_choices(self, clinic, actor, False), self._build)

    def _build(self, choices: ops.TopUpChoices) -> None:
        self.name = QLineEdit(objectName="cashier_coupon_name", placeholderText="例如：水光针体验券")
        self.face_value = QLineEdit(objectName="cashier_coupon_face_value", placeholderText="元")
        today = clock.now().date()
        self.valid_until = QDateEdit(_qdate(today + timedelta(days=365)), objectName="cashier_coupon_valid_until",
                                     calendarPopup=True, displayFormat="yyyy-MM-dd")
        self.valid_until.setMinimumDate(_qdate(today))
        self.free = QCheckBox("赠券（不收款）", objectName="cashier_coupon_free")
        self.rows = TenderRows("cashier_coupon_pay", external_methods(choices.methods))
        self.rows.add_row()
        self.form.add_field("name", "券名称", self.name, required=True)
        self.form.add_field("face_value", "面值（元）", self.face_value, required=True)
        self.form.add_field("valid_until", "有效期至", self.valid_until, required=True)
        self.form.add_field("free", "", self.free)
        self.form.add_field("tenders", "售价收款", self.rows)
        self.supervisor = SupervisorFields("cashier_coupon")
        self.supervisor.add_to(self.form, required=False)
        self.form.addRow("", hint("赠券或售价低于面值时，需主管输入用户名和密码确认。"))
        self.free.toggled.connect(lambda free: self._show_row(self.rows, not free))
        self.face_value.textChanged.connect(self._face_value_changed)

    def _face_value_changed(self, text: str) -> None:
        row = self.rows.rows[0]
        if len(self.rows.rows) == 1 and not row.amount.isModified():
            row.amount.setText(text.strip())

    def action(self) -> Op[ReceiptResult]:
        errors: dict[str, str] = {}
        face = 0
        try:
            face = parse_money(self.face_value.text(), "face_value")
        except ValidationError as e:
            errors.update(e.errors)
        if not self.name.text().strip():
            errors["name"] = "请填写券名称"
        if errors:
            raise ValidationError(errors)
        tenders = [] if self.free.isChecked() else [t for _r, t in self.rows.tenders()]
        if not self.free.isChecked() and not tenders:
            raise ValidationError.single("amount", "请填写售价，或勾选“赠券”")
        given = sum(t.amount_fen for t in tenders) < face  # a free coupon, or sold below its face value
        valid_until = self.valid_until.date().toPython()
        assert isinstance(valid_until, date)
        return ops.sell_coupon(self, self.clinic, self.actor, self.customer_id, name=self.name.text(), face_fen=face,
                               valid_until=valid_until, tenders=tenders, key=self.key,
                               supervisor=self.supervisor.typed() if given else None)


class BalanceRefundDialog(_MoneyDialog):
    """退款 from 预存 / 定金, or 出院退款 of the inpatient deposit; a supervisor confirms."""

    def __init__(self, clinic: Clinic, actor: Actor, customer_id: int, customer: str, summary: AccountSummary,
                 *, discharge: bool = False, parent: QWidget | None = None) -> None:
        name, title = ("cashier_discharge", "出院退款") if discharge else ("cashier_balance_refund", "退款")
        super().__init__(name, title, clinic, actor, customer_id, customer, parent, "确认退款")
        self.summary, self.name_, self.discharge = summary, name, discharge
        self.load(ops.top_up_choices(self, clinic, actor, False), self._build)

    def _build(self, choices: ops.TopUpChoices) -> None:
        name, discharge, summary = self.name_, self.discharge, self.summary
        self.account = QComboBox(objectName=f"{name}_account")
        accounts = [ACCOUNT_INPATIENT] if discharge else [ACCOUNT_PREPAID, ACCOUNT_DEPOSIT]
        for account in accounts:
            label = ACCOUNT_LABELS[account]
            if account == ACCOUNT_INPATIENT and summary.inpatient_no:
                label += f"（{summary.inpatient_no}）"
            self.account.addItem(f"{label}　余额 {yuan(summary.balances.get(account, 0))}", account)
        self.amount = QLineEdit(objectName=f"{name}_amount")
        self.method = method_combo(f"{name}_method", external_methods(choices.methods))
        self.reason = QLineEdit(objectName=f"{name}_reason",
                                placeholderText="例如：出院结算" if discharge else "例如：顾客不再消费，退回余额")
        self.form.add_field("account", "账户", self.account, required=True)
        self.form.add_field("amount", "退款金额（元）", self.amount, required=True)
        self.form.add_field("payment_method", "退款方式", self.method, required=True)
        self.form.add_field("reason", "退款原因", self.reason, required=True)
        # A deposit's department credit goes back with it; the referrer's only when asked (seed 004).
        self.reverse = reverse_box(f"{name}_reverse", "冲减推介职员的定金业绩",
                                   "勾选后，推介职员的定金业绩随退款扣回（科室定金业绩总是扣回）")
        self.form.add_field("reverse", "业绩", self.reverse)
        self.supervisor = SupervisorFields(name)
        self.supervisor.add_to(self.form)
        self.account.currentIndexChanged.connect(lambda _i: self._account_changed())
        self._account_changed()

    def _account_changed(self) -> None:
        have = self.summary.balances.get(self.account.currentData(), 0)
        self.amount.setText(money_text(have) if have > 0 else "")
        self._show_row(self.reverse, self.account.currentData() != ACCOUNT_PREPAID)

    def action(self) -> Op[ReceiptResult]:
        errors: dict[str, str] = {}
        amount = 0
        try:
            amount = parse_money(self.amount.text(), "amount")
        except ValidationError as e:
            errors.update(e.errors)
        if not self.reason.text().strip():
            errors["reason"] = "请填写退款原因"
        if errors:
            raise ValidationError(errors)
        tenders = [Tender(self.method.currentData(), amount)]
        return ops.refund_balance(self, self.clinic, self.actor, self.customer_id, account=self.account.currentData(),
                                  tenders=tenders, key=self.key, reason=self.reason.text(),
                                  supervisor=self.supervisor.typed(), reverse=self.reverse.isChecked())


class PackageRefundDialog(_MoneyDialog):
    """疗程退款: unused sessions of a course at the price it was sold for (the quote is shown)."""

    def __init__(self, clinic: Clinic, actor: Actor, customer_id: int, customer: str, packages: list[PackageView],
                 parent: QWidget | None = None, *, package_id: int | None = None) -> None:
        super().__init__("cashier_package_refund", "疗程退款", clinic, actor, customer_id, customer, parent,
                         "确认退款")
        self.amount_fen = 0
        self.arrears_fen = 0
        self._asked: tuple[int, int] | None = None
        self.packages_, self.package_id = packages, package_id
        self.load(ops.top_up_choices(self, clinic, actor, False), self._build)

    def _build(self, choices: ops.TopUpChoices) -> None:
        packages, package_id = self.packages_, self.package_id
        self.packages = [p for p in packages if p.remaining > 0]
        self.package = QComboBox(objectName="cashier_package_refund_package")
        for p in self.packages:
            self.package.addItem(f"{p.item_name}　剩 {p.remaining}/{p.sessions} 次　购价 {yuan(p.value_fen)}", p.id)
        if not self.packages:
            self.package.addItem("（没有剩余次数的疗程）", None)
        if package_id is not None:
            self.package.setCurrentIndex(max(0, self.package.findData(package_id)))
        self.sessions = QSpinBox(objectName="cashier_package_refund_sessions", minimum=1)
        self.quote = QLabel(objectName="cashier_package_refund_quote")
        self.quote.setStyleSheet(BIG_STYLE)
        self.method = method_combo("cashier_package_refund_method",
                                   external_methods(choices.methods, with_prepaid=True),
                                   prepaid_label="退入预存")
        self.reason = QLineEdit(objectName="cashier_package_refund_reason", placeholderText="例如：顾客不再做了")
        self.reverse = reverse_box("cashier_package_refund_reverse")
        self.form.add_field("package", "疗程", self.package, required=True)
        self.form.add_field("sessions", "退款次数", self.sessions, required=True)
        self.form.add_field("amount", "退款金额", self.quote)
        self.form.add_field("payment_method", "退款方式", self.method, required=True)
        self.form.add_field("reason", "退款原因", self.reason, required=True)
        self.supervisor = SupervisorFields("cashier_package_refund")
        self.supervisor.add_to(self.form)
        self.form.add_field("reverse", "业绩", self.reverse)
        self.package.currentIndexChanged.connect(lambda _i: self._package_changed())
        self.sessions.valueChanged.connect(lambda _v: self._update_quote())
        self._package_changed()

    def current(self) -> PackageView | None:
        return next((p for p in self.packages if p.id == self.package.currentData()), None)

    def _package_changed(self) -> None:
        p = self.current()
        self.sessions.setMaximum(max(1, p.remaining if p else 1))
        self.sessions.setValue(p.remaining if p else 1)
        self._update_quote()

    def _update_quote(self) -> None:
        """The refund of the chosen sessions, read off the GUI thread (确认退款 waits for it)."""
        p = self.current()
        if p is None:
            self.amount_fen = self.arrears_fen = 0
            self.quote.setText("")
            return
        asked = (p.id, self.sessions.value())
        self._asked = asked
        self.ok.setEnabled(False)
        ops.package_quote(self, self.clinic, self.actor, p.id, self.sessions.value()).success(
            lambda q: self._quoted(asked, q)).failure(lambda e: self.message.setText(error_text(e))).run()

    def _quoted(self, asked: tuple[int, int], quote: ops.PackageQuote) -> None:
        if asked != self._asked:  # another course or count was chosen meanwhile
            return
        self.amount_fen, self.arrears_fen = quote.amount_fen, quote.arrears_fen
        owed = min(self.arrears_fen, self.amount_fen)
        self.quote.setText(yuan(self.amount_fen) + (f"（其中 {yuan(owed)} 冲减欠款）" if owed else ""))
        self.ok.setEnabled(True)

    def action(self) -> Op[PayResult]:
        p = self.current()
        errors: dict[str, str] = {}
        if p is None:
            errors["package"] = "请选择疗程"
        if not self.reason.text().strip():
            errors["reason"] = "请填写退款原因"
        if errors:
            raise ValidationError(errors)
        assert p is not None
        out = self.amount_fen - min(self.arrears_fen, self.amount_fen)
        tenders = [Tender(self.method.currentData(), out)] if out else []
        return ops.refund_package(self, self.clinic, self.actor, self.customer_id, p.id, sessions=self.sessions.value(),
                                  tenders=tenders, key=self.key, reason=self.reason.text(),
                                  supervisor=self.supervisor.typed(), reverse=self.reverse.isChecked())
