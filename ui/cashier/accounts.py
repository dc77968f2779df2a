"""顾客账户: balances, coupons and courses of one customer; 交定金, 预存, 购券, 住院押金, 退款, 出院退款, 疗程退款."""
# gui-thread: not yet moved to ui/operations (issue 15)

from __future__ import annotations

import uuid
from datetime import date, timedelta

from PySide6.QtCore import QDate, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from meike import clock, journal
from meike.db import Clinic
from meike.errors import MeikeError, ValidationError
from meike.models.ledger import ACCOUNT_DEPOSIT, ACCOUNT_INPATIENT, ACCOUNT_LABELS, ACCOUNT_PREPAID
from meike.money import yuan
from meike.permissions import Actor, Right
from meike.services import cashier, cashier_view, customers, dictionaries, ledger
from meike.services.dictionaries import Kind
from meike.services.ledger import AccountSummary, PackageView, ReceiptResult, Tender
from ui.cashier.common import (
    BIG_STYLE,
    SupervisorFields,
    TenderRows,
    external_methods,
    fill,
    hint,
    method_combo,
    money_text,
    parse_money,
    payment_methods,
    print_into,
    reverse_box,
    table,
)
from ui.widgets.form import ERROR_STYLE
from ui.widgets.form_dialog import FormDialog

TOP_UP_TITLES = {ACCOUNT_DEPOSIT: "交定金", ACCOUNT_PREPAID: "预存", ACCOUNT_INPATIENT: "住院押金"}


def _choice(name: str, entries: list[tuple[int, str]], none_text: str) -> QComboBox:
    combo = QComboBox(objectName=name)
    combo.addItem(none_text, None)
    for key, label in entries:
        combo.addItem(label, key)
    return combo


def _qdate(day: date) -> QDate:
    return QDate(day.year, day.month, day.day)


class _MoneyDialog(FormDialog):
    """A form that moves money for one customer: one idempotency key (written down on this PC before each
    call, ``meike.journal``); ``result`` after success."""

    def __init__(self, name: str, title: str, clinic: Clinic, actor: Actor, customer_id: int, customer: str,
                 parent: QWidget | None, ok_text: str) -> None:
        super().__init__(name, title, parent, ok_text=ok_text, min_width=640)
        self.clinic, self.actor, self.customer_id = clinic, actor, customer_id
        self.key = uuid.uuid4().hex
        self.result: ReceiptResult | None = None
        self.form.addRow("顾客", QLabel(customer))

    def submit(self) -> None:
        """As FormDialog.submit, with the tenders' errors under the tender rows."""
        rows = getattr(self, "rows", None)
        self.message.clear()
        self.form.clear_errors()
        if isinstance(rows, TenderRows):
            rows.clear_errors()
        try:
            self.save()
        except ValidationError as e:
            errors = rows.show_errors(e.errors) if isinstance(rows, TenderRows) else e.errors
            self.message.setText("；".join(self.form.show_errors(errors)))
            return
        except MeikeError as e:
            self.message.setText(e.message)
            return
        self.accept()


class TopUpDialog(_MoneyDialog):
    """交定金 (referring staff, credited department), 预存, 住院押金 (inpatient number)."""

    def __init__(self, clinic: Clinic, actor: Actor, customer_id: int, customer: str, account: str,
                 summary: AccountSummary, parent: QWidget | None = None) -> None:
        name = f"cashier_{account}"
        super().__init__(name, TOP_UP_TITLES[account], clinic, actor, customer_id, customer, parent, "确认收款")
        self.account = account
        self.rows = TenderRows(f"{name}_pay", external_methods(payment_methods(clinic, actor)))
        self.rows.add_row()
        self.form.add_field("tenders", "收款", self.rows, required=True)
        self.staff = self.department = None
        if account == ACCOUNT_DEPOSIT:
            staff = dictionaries.list_entries(clinic, actor, Kind.STAFF)
            departments = dictionaries.list_entries(clinic, actor, Kind.DEPARTMENT)
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
        self.finish_layout()

    def _staff_department(self, staff: list[dictionaries.Entry]) -> None:
        assert self.staff is not None and self.department is not None
        entry = next((e for e in staff if e.id == self.staff.currentData()), None)
        if entry is not None and entry.fields.get("department_id"):
            self.department.setCurrentIndex(max(0, self.department.findData(entry.fields["department_id"])))

    def save(self) -> None:
        tenders = [t for _r, t in self.rows.tenders()]
        self.result = journal.top_up(
            self.clinic, self.actor, self.customer_id, account=self.account, tenders=tenders,
            idempotency_key=self.key, staff_id=self.staff.currentData() if self.staff else None,
            department_id=self.department.currentData() if self.department else None,
            inpatient_no=self.inpatient_no.text(), note=self.note.text())


class CouponSaleDialog(_MoneyDialog):
    """购券: sold (price ≤ face value) or given free (赠券). What nobody pays for (a free coupon, a price below
    the face value) is given away: a supervisor with 审批低于最低价/赠送 confirms it with their password."""

    def __init__(self, clinic: Clinic, actor: Actor, customer_id: int, customer: str,
                 parent: QWidget | None = None) -> None:
        super().__init__("cashier_coupon", "购券", clinic, actor, customer_id, customer, parent, "确认")
        self.name = QLineEdit(objectName="cashier_coupon_name", placeholderText="例如：水光针体验券")
        self.face_value = QLineEdit(objectName="cashier_coupon_face_value", placeholderText="元")
        today = clock.now().date()
        self.valid_until = QDateEdit(_qdate(today + timedelta(days=365)), objectName="cashier_coupon_valid_until",
                                     calendarPopup=True, displayFormat="yyyy-MM-dd")
        self.valid_until.setMinimumDate(_qdate(today))
        self.free = QCheckBox("赠券（不收款）", objectName="cashier_coupon_free")
        self.rows = TenderRows("cashier_coupon_pay", external_methods(payment_methods(clinic, actor)))
        self.rows.add_row()
        self.form.add_field("name", "券名称", self.name, required=True)
        self.form.add_field("face_value", "面值（元）", self.face_value, required=True)
        self.form.add_field("valid_until", "有效期至", self.valid_until, required=True)
        self.form.add_field("free", "", self.free)
        self.form.add_field("tenders", "售价收款", self.rows)
        self.supervisor = SupervisorFields("cashier_coupon")
        self.supervisor.add_to(self.form, required=False)
        self.form.addRow("", hint("赠券或售价低于面值时，需主管输入用户名和密码确认。"))
        self.finish_layout()
        self.free.toggled.connect(lambda free: self.form.setRowVisible(self.rows.parentWidget(), not free))
        self.face_value.textChanged.connect(self._face_value_changed)

    def _face_value_changed(self, text: str) -> None:
        row = self.rows.rows[0]
        if len(self.rows.rows) == 1 and not row.amount.isModified():
            row.amount.setText(text.strip())

    def save(self) -> None:
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
        supervisor = self.supervisor.verify(self.clinic, Right.APPROVE_PRICE) if given else None
        self.result = journal.sell_coupon(self.clinic, self.actor, self.customer_id, name=self.name.text(),
                                          face_value_fen=face, valid_until=self.valid_until.date().toPython(),
                                          tenders=tenders, idempotency_key=self.key, supervisor=supervisor)


class BalanceRefundDialog(_MoneyDialog):
    """退款 from 预存 / 定金, or 出院退款 of the inpatient deposit; a supervisor confirms."""

    def __init__(self, clinic: Clinic, actor: Actor, customer_id: int, customer: str, summary: AccountSummary,
                 *, discharge: bool = False, parent: QWidget | None = None) -> None:
        name, title = ("cashier_discharge", "出院退款") if discharge else ("cashier_balance_refund", "退款")
        super().__init__(name, title, clinic, actor, customer_id, customer, parent, "确认退款")
        self.summary = summary
        self.account = QComboBox(objectName=f"{name}_account")
        accounts = [ACCOUNT_INPATIENT] if discharge else [ACCOUNT_PREPAID, ACCOUNT_DEPOSIT]
        for account in accounts:
            label = ACCOUNT_LABELS[account]
            if account == ACCOUNT_INPATIENT and summary.inpatient_no:
                label += f"（{summary.inpatient_no}）"
            self.account.addItem(f"{label}　余额 {yuan(summary.balances.get(account, 0))}", account)
        self.amount = QLineEdit(objectName=f"{name}_amount")
        self.method = method_combo(f"{name}_method", external_methods(payment_methods(clinic, actor)))
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
        self.finish_layout()
        self.account.currentIndexChanged.connect(lambda _i: self._account_changed())
        self._account_changed()

    def _account_changed(self) -> None:
        have = self.summary.balances.get(self.account.currentData(), 0)
        self.amount.setText(money_text(have) if have > 0 else "")
        self.form.setRowVisible(self.reverse.parentWidget(), self.account.currentData() != ACCOUNT_PREPAID)

    def save(self) -> None:
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
        supervisor = self.supervisor.verify(self.clinic, Right.REFUND)
        tenders = [Tender(self.method.currentData(), amount)]
        self.result = journal.guarded(
            self.clinic, self.actor, "refund_balance", self.key, lambda: ledger.refund_balance(
                self.clinic, self.actor, self.customer_id, account=self.account.currentData(), tenders=tenders,
                idempotency_key=self.key, supervisor=supervisor, reason=self.reason.text(),
                reverse_performance=self.reverse.isChecked()),
            customer_id=self.customer_id, tenders=tenders, account=self.account.currentData())


class PackageRefundDialog(_MoneyDialog):
    """疗程退款: unused sessions of a course at the price it was sold for (the quote is shown)."""

    def __init__(self, clinic: Clinic, actor: Actor, customer_id: int, customer: str, packages: list[PackageView],
                 parent: QWidget | None = None, *, package_id: int | None = None) -> None:
        super().__init__("cashier_package_refund", "疗程退款", clinic, actor, customer_id, customer, parent,
                         "确认退款")
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
                                   external_methods(payment_methods(clinic, actor), with_prepaid=True),
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
        self.finish_layout()
        self.amount_fen = 0
        self.arrears_fen = 0
        self.package.currentIndexChanged.connect(lambda _i: self._package_changed())
        self.sessions.valueChanged.connect(lambda _v: self._update_quote())
        self._package_changed()

    def current(self) -> PackageView | None:
        return next((p for p in self.packages if p.id == self.package.currentData()), None)

    def _package_changed(self) -> None:
        p = self.current()
        self.sessions.setMaximum(max(1, p.remaining if p else 1))
        self.sessions.setValue(p.remaining if p else 1)
        self.arrears_fen = cashier_view.package_arrears(self.clinic, self.actor, p.id) if p else 0
        self._update_quote()

    def _update_quote(self) -> None:
        p = self.current()
        if p is None:
            self.amount_fen = 0
            self.quote.setText("")
            return
        self.amount_fen = cashier.package_refund_quote(self.clinic, self.actor, p.id, self.sessions.value())
        owed = min(self.arrears_fen, self.amount_fen)
        self.quote.setText(yuan(self.amount_fen) + (f"（其中 {yuan(owed)} 冲减欠款）" if owed else ""))

    def save(self) -> None:
        p = self.current()
        errors: dict[str, str] = {}
        if p is None:
            errors["package"] = "请选择疗程"
        if not self.reason.text().strip():
            errors["reason"] = "请填写退款原因"
        if errors:
            raise ValidationError(errors)
        assert p is not None
        supervisor = self.supervisor.verify(self.clinic, Right.REFUND)
        out = self.amount_fen - min(self.arrears_fen, self.amount_fen)
        tenders = [Tender(self.method.currentData(), out)] if out else []
        self.result = journal.guarded(
            self.clinic, self.actor, "refund_package", self.key, lambda: cashier.refund_package(
                self.clinic, self.actor, p.id, sessions=self.sessions.value(), tenders=tenders,
                reason=self.reason.text(), supervisor=supervisor, reverse_performance=self.reverse.isChecked(),
                idempotency_key=self.key),
            customer_id=self.customer_id, tenders=tenders, package_id=p.id, sessions=self.sessions.value())


class CustomerAccountDialog(QDialog):
    """Shown with ``open()``. The customer comes from the selected order or is picked by search."""

    def __init__(self, clinic: Clinic, actor: Actor, customer_id: int | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.clinic, self.actor = clinic, actor
        self.customer_id: int | None = None
        self.customer_label = ""
        self.summary: AccountSummary | None = None
        self.dialog: QDialog | None = None
        self.last_receipt_id: int | None = None
        self.setObjectName("cashier_account_dialog")
        self.setWindowTitle("顾客账户")
        self.setMinimumSize(860, 600)

        self.search = QLineEdit(objectName="cashier_account_search",
                                placeholderText="查找顾客：姓名 / 拼音首字母 / 手机号或后四位 / 卡号")
        self.results = QListWidget(objectName="cashier_account_results")
        self.results.setMaximumHeight(90)
        self.results.hide()
        self.customer = QLabel("未选择顾客", objectName="cashier_account_customer")
        self.customer.setStyleSheet(BIG_STYLE)

        balances = QGroupBox("余额")
        grid = QGridLayout(balances)
        self.balance_labels: dict[str, QLabel] = {}
        for col, (account, title) in enumerate((("prepaid", "预存"), ("deposit", "定金"), ("coupon", "券"),
                                                ("inpatient", "住院押金"), ("arrears", "欠款"))):
            caption = QLabel(title)
            value = QLabel("—", objectName=f"cashier_account_{account}")
            value.setStyleSheet(BIG_STYLE)
            grid.addWidget(caption, 0, col)
            grid.addWidget(value, 1, col)
            grid.setColumnStretch(col, 1)
            self.balance_labels[account] = value
        self.inpatient_no = hint(name="cashier_account_inpatient_no")
        grid.addWidget(self.inpatient_no, 2, 3)

        self.coupons = table("cashier_account_coupons", ["券", "面值", "余额", "有效期至"])
        self.packages = table("cashier_account_packages", ["疗程项目", "总次数", "剩余", "购价", "购买日期"])
        lists = QHBoxLayout()
        for title, widget in (("券", self.coupons), ("疗程 / 店内预存", self.packages)):
            group = QGroupBox(title)
            QVBoxLayout(group).addWidget(widget)
            lists.addWidget(group, 1)

        self.buttons: dict[str, QPushButton] = {}
        actions = QHBoxLayout()
        for key, text in (("deposit", "交定金"), ("prepaid", "预存"), ("coupon", "购券"), ("inpatient", "住院押金"),
                          ("refund", "退款"), ("discharge", "出院退款"), ("package_refund", "疗程退款")):
            button = QPushButton(text, objectName=f"cashier_account_{key}_button")
            button.setAutoDefault(False)
            actions.addWidget(button)
            self.buttons[key] = button
        actions.addStretch(1)
        self.status = QLabel(objectName="cashier_account_status", wordWrap=True)
        self.print_button = QPushButton("打印收据", objectName="cashier_account_print")
        self.print_button.setAutoDefault(False)
        self.print_button.hide()
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.button(QDialogButtonBox.StandardButton.Close).setText("关闭")
        close.button(QDialogButtonBox.StandardButton.Close).setObjectName("cashier_account_close")
        close.rejected.connect(self.reject)
        bottom = QHBoxLayout()
        bottom.addWidget(self.status, 1)
        bottom.addWidget(self.print_button)
        bottom.addWidget(close)

        layout = QVBoxLayout(self)
        layout.addWidget(self.search)
        layout.addWidget(self.results)
        layout.addWidget(self.customer)
        layout.addWidget(balances)
        layout.addLayout(lists, 1)
        layout.addLayout(actions)
        layout.addLayout(bottom)

        self.search.textChanged.connect(self.search_customers)
        self.search.returnPressed.connect(lambda: self.pick(0))
        self.results.itemClicked.connect(lambda _i: self.pick(self.results.currentRow()))
        self.buttons["deposit"].clicked.connect(lambda: self.top_up(ACCOUNT_DEPOSIT))
        self.buttons["prepaid"].clicked.connect(lambda: self.top_up(ACCOUNT_PREPAID))
        self.buttons["inpatient"].clicked.connect(lambda: self.top_up(ACCOUNT_INPATIENT))
        self.buttons["coupon"].clicked.connect(self.sell_coupon)
        self.buttons["refund"].clicked.connect(lambda: self.refund_balance(discharge=False))
        self.buttons["discharge"].clicked.connect(lambda: self.refund_balance(discharge=True))
        self.buttons["package_refund"].clicked.connect(self.refund_package)
        self.packages.doubleClicked.connect(lambda _i: self.refund_package())
        self.print_button.clicked.connect(self.print_last)
        if customer_id is not None:
            self.set_customer(customer_id)
        else:
            self._update_buttons()
            self.search.setFocus()

    # --- customer ---------------------------------------------------------------------------

    def search_customers(self, text: str) -> None:
        self.results.clear()
        self.results.setVisible(bool(text.strip()))
        if not text.strip():
            return
        try:
            found = customers.search_customers(self.clinic, self.actor, text=text, limit=20)
        except ValidationError as e:  # too long, control characters
            self.results.addItem("；".join(e.errors.values()))
            return
        for row in found:
            item = QListWidgetItem(f"{row.name}　卡号 {row.card_no}　{row.mobile}")
            item.setData(Qt.ItemDataRole.UserRole, row.id)
            self.results.addItem(item)

    def pick(self, row: int) -> None:
        item = self.results.item(row)
        if item is not None and item.data(Qt.ItemDataRole.UserRole) is not None:  # not the line of a message
            self.set_customer(item.data(Qt.ItemDataRole.UserRole))
            self.results.hide()

    def set_customer(self, customer_id: int) -> None:
        detail = customers.get_customer(self.clinic, self.actor, customer_id)
        self.customer_id = customer_id
        self.customer_label = f"{detail.name}（卡号 {detail.card_no}）"
        self.customer.setText(self.customer_label)
        self.status.clear()
        self.print_button.hide()
        self.reload()

    def reload(self) -> None:
        if self.customer_id is None:
            return
        self.summary = s = ledger.customer_accounts(self.clinic, self.actor, self.customer_id)
        for account, label in self.balance_labels.items():
            label.setText(yuan(s.balances.get(account, 0)))
        self.balance_labels["arrears"].setStyleSheet(BIG_STYLE + (ERROR_STYLE if s.balances.get("arrears") else ""))
        self.inpatient_no.setText(f"住院号 {s.inpatient_no}" if s.inpatient_no else "")
        self.inpatient_no.setVisible(bool(s.inpatient_no))
        fill(self.coupons, [[c.name, yuan(c.face_value_fen), yuan(c.remaining_fen), f"{c.valid_until:%Y-%m-%d}"]
                            for c in s.coupons], money_columns=[1, 2])
        fill(self.packages, [[p.item_name, str(p.sessions), str(p.remaining), yuan(p.value_fen),
                              f"{p.created_at:%Y-%m-%d}"] for p in s.packages], money_columns=[1, 2, 3])
        self._update_buttons()

    def _update_buttons(self) -> None:
        s = self.summary
        has = self.customer_id is not None and s is not None
        for button in self.buttons.values():
            button.setEnabled(has)
        if s is not None and has:
            b = s.balances
            self.buttons["refund"].setEnabled(b.get(ACCOUNT_PREPAID, 0) > 0 or b.get(ACCOUNT_DEPOSIT, 0) > 0)
            self.buttons["discharge"].setEnabled(b.get(ACCOUNT_INPATIENT, 0) > 0)
            self.buttons["package_refund"].setEnabled(any(p.remaining > 0 for p in s.packages))

    # --- actions ----------------------------------------------------------------------------

    def _open(self, dialog: _MoneyDialog, done: str) -> _MoneyDialog:
        self.dialog = dialog
        dialog.accepted.connect(lambda: self._done(dialog, done))
        dialog.open()
        return dialog

    def _done(self, dialog: _MoneyDialog, done: str) -> None:
        self.reload()
        result = dialog.result
        if result is None:
            return
        self.last_receipt_id = result.receipt_id
        self.status.setText(f"{done}，收据号 {result.receipt_no}")
        self.print_button.show()

    def top_up(self, account: str) -> _MoneyDialog | None:
        if self.customer_id is None or self.summary is None:
            return None
        return self._open(TopUpDialog(self.clinic, self.actor, self.customer_id, self.customer_label, account,
                                      self.summary, self), f"{TOP_UP_TITLES[account]}成功")

    def sell_coupon(self) -> _MoneyDialog | None:
        if self.customer_id is None:
            return None
        return self._open(CouponSaleDialog(self.clinic, self.actor, self.customer_id, self.customer_label, self),
                          "购券成功")

    def refund_balance(self, *, discharge: bool) -> _MoneyDialog | None:
        if self.customer_id is None or self.summary is None:
            return None
        return self._open(BalanceRefundDialog(self.clinic, self.actor, self.customer_id, self.customer_label,
                                              self.summary, discharge=discharge, parent=self),
                          "出院退款成功" if discharge else "退款成功")

    def refund_package(self) -> _MoneyDialog | None:
        if self.customer_id is None or self.summary is None:
            return None
        row = self.packages.currentRow()
        chosen = self.summary.packages[row].id if 0 <= row < len(self.summary.packages) else None
        return self._open(PackageRefundDialog(self.clinic, self.actor, self.customer_id, self.customer_label,
                                              self.summary.packages, self, package_id=chosen), "疗程退款成功")

    def print_last(self) -> None:
        print_into(self.status, self.clinic, self.actor, self.last_receipt_id)
