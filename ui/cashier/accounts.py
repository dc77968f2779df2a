"""顾客账户: balances, coupons and courses of one customer; 交定金, 预存, 购券, 住院押金, 退款, 出院退款, 疗程退款."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
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
    QVBoxLayout,
    QWidget,
)

from meike.changes import Changes
from meike.db import Clinic
from meike.errors import ValidationError
from meike.models.ledger import ACCOUNT_DEPOSIT, ACCOUNT_INPATIENT, ACCOUNT_PREPAID
from meike.money import yuan
from meike.permissions import Actor
from meike.services.customers import CustomerRow
from meike.services.ledger import AccountSummary
from ui.cashier.account_forms import (
    TOP_UP_TITLES,
    BalanceRefundDialog,
    CouponSaleDialog,
    PackageRefundDialog,
    TopUpDialog,
    _MoneyDialog,
)
from ui.cashier.common import BIG_STYLE, hint, print_into
from ui.operations import bus
from ui.operations import cashier as ops
from ui.tasks import error_text
from ui.widgets.form import ERROR_STYLE
from ui.widgets.tables import fill, table

__all__ = ["BalanceRefundDialog", "CouponSaleDialog", "CustomerAccountDialog", "PackageRefundDialog", "TopUpDialog"]


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
        bus().changed.connect(self._changed)
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
        ops.search_customers(self, self.clinic, self.actor, text).success(
            lambda found: self._found(text, found)).failure(lambda e: self._refused(text, e)).run()

    def _refused(self, text: str, error: Exception) -> None:
        """Too long, control characters: said in the list."""
        if text == self.search.text():
            self.results.clear()
            self.results.addItem("；".join(error.errors.values()) if isinstance(error, ValidationError)
                                 else error_text(error))

    def _found(self, text: str, found: list[CustomerRow]) -> None:
        if text != self.search.text():  # typed on meanwhile: a newer search is under way
            return
        self.results.clear()
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
        self.customer_id = customer_id
        self.summary = None
        self.status.clear()
        self.print_button.hide()
        self.reload()

    def _changed(self, what: Changes) -> None:
        """An action (here or elsewhere) that moved money: the balances shown are read again."""
        if what.touches("money", "customers"):
            self.reload()

    def reload(self) -> None:
        if self.customer_id is None:
            return
        customer_id = self.customer_id
        ops.customer_account(self, self.clinic, self.actor, customer_id).success(
            lambda facts: self._show(customer_id, facts)).failure(
            lambda e: self.status.setText(error_text(e))).run()

    def _show(self, customer_id: int, facts: ops.AccountFacts) -> None:
        if customer_id != self.customer_id:
            return
        self.customer_label = facts.label
        self.customer.setText(self.customer_label)
        self.summary = s = facts.summary
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
        dialog.rejected.connect(lambda: self._closed(dialog))
        dialog.open()
        return dialog

    def _closed(self, dialog: _MoneyDialog) -> None:
        """A dialog that closed because its facts could not be read says why here (not a silent flash)."""
        if dialog.failed_text:
            self.status.setText(dialog.failed_text)

    def _done(self, dialog: _MoneyDialog, done: str) -> None:
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
        print_into(self.status, self.clinic, self.actor, self.last_receipt_id, self.print_button)
