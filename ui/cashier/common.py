"""Pieces every cashier dialog shares: money text, supervisor fields, rows of tenders, small tables."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from meike.db import Clinic
from meike.errors import ValidationError
from meike.models.ledger import ASSET_ACCOUNTS
from meike.money import format_fen, parse_yuan, yuan
from meike.permissions import Actor
from meike.services.dictionaries import Entry
from meike.services.ledger import AccountSummary, CouponView, Tender
from ui.operations import Op
from ui.operations import cashier as ops
from ui.tasks import error_text
from ui.widgets.form import ERROR_STYLE, ErrorForm
from ui.widgets.form_dialog import OpFormDialog

HINT_STYLE = "color: #7a8794;"
BIG_STYLE = "font-size: 18px; font-weight: bold;"


def money_text(fen: int) -> str:
    """What a money field is prefilled with: "1280.00" (no grouping, so it parses back as typed)."""
    return format_fen(fen).replace(",", "")


def parse_money(text: str, field: str, *, allow_zero: bool = False) -> int:
    """A typed amount in fen (``meike.money.parse_yuan``: negatives refused); the message is shown beside ``field``."""
    try:
        fen = parse_yuan(text)
    except ValueError as e:
        raise ValidationError.single(field, str(e)) from None
    if fen == 0 and not allow_zero:
        raise ValidationError.single(field, "金额必须大于 0")
    return fen


def method_kind(entry: Entry) -> str:
    return str(entry.fields.get("kind", ""))


def is_account_method(entry: Entry) -> bool:
    """A method that draws on (or, paid out, puts into) a customer account: 预存, 定金, 券, 住院押金."""
    return method_kind(entry) in ASSET_ACCOUNTS


def external_methods(methods: Iterable[Entry], *, with_prepaid: bool = False) -> list[Entry]:
    """Money that leaves or enters the clinic (cash, card, …); ``with_prepaid`` adds 退入预存."""
    return [m for m in methods if not is_account_method(m) or (with_prepaid and method_kind(m) == "prepaid")]


def balances_text(summary: AccountSummary) -> str:
    b = summary.balances
    coupons = [c for c in summary.coupons if c.remaining_fen > 0]
    parts = [f"预存 {yuan(b.get('prepaid', 0))}", f"定金 {yuan(b.get('deposit', 0))}",
             f"券 {yuan(b.get('coupon', 0))}（{len(coupons)} 张）"]
    if b.get("inpatient"):
        parts.append(f"住院押金 {yuan(b['inpatient'])}" + (f"（{summary.inpatient_no}）" if summary.inpatient_no else ""))
    if b.get("arrears"):
        parts.append(f"欠款 {yuan(b['arrears'])}")
    return "　".join(parts)


def open_file(path: Path) -> None:
    """Open a receipt PDF with the system viewer (tests replace this)."""
    QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))


def receipt_text(path: Path | None) -> str:
    """What to tell the user after a receipt was printed (or written as a PDF, which opens)."""
    if path is None:
        return "收据已发送到打印机"
    open_file(path)
    return f"已生成收据 PDF：{path}"


def print_into(label: QLabel, clinic: Clinic, actor: Actor, receipt_id: int | None,
               button: QWidget | None = None) -> None:
    """打印收据 of the last receipt on the I/O lane, saying in ``label`` what happened (sent, the PDF, or why not).
    ``button`` (the one clicked) is busy meanwhile: a second click on a slow printer does not print twice."""
    if receipt_id is None:
        return
    label.setText("正在打印收据…")
    ops.print_receipt(label, clinic, actor, receipt_id).success(
        lambda path: label.setText(receipt_text(path))).failure(lambda e: label.setText(error_text(e))).busy(
        *(w for w in (label, button) if w is not None)).run()


def method_combo(name: str, methods: Sequence[Entry], *, prepaid_label: str = "") -> QComboBox:
    combo = QComboBox(objectName=name)
    for m in methods:
        combo.addItem(prepaid_label if prepaid_label and method_kind(m) == "prepaid" else m.name, m.id)
    return combo


def wrap(text: str = "", name: str = "") -> QLabel:
    """A word-wrapped label that takes the form's full field width (so its height is computed for it)."""
    label = QLabel(text, objectName=name, wordWrap=True)
    label.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
    return label


def hint(text: str = "", name: str = "") -> QLabel:
    label = wrap(text, name)
    label.setStyleSheet(HINT_STYLE)
    return label


# --- supervisor confirmation ------------------------------------------------------------------


REVERSE_TEXT = "冲减咨询、医生业绩"


def reverse_box(name: str, text: str = REVERSE_TEXT,
                tip: str = "勾选后，这笔退款从开单咨询师、医生、科室的业绩中扣回") -> QCheckBox:
    """Whether a refund takes back the staff's performance (seed 004 asks each time); ticked by default."""
    box = QCheckBox(text, objectName=name)
    box.setChecked(True)
    box.setToolTip(tip)
    return box


class SupervisorFields(QWidget):
    """主管用户名 + 密码 inline in a form; the error shows beside them under the key ``supervisor``."""

    def __init__(self, prefix: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(f"{prefix}_supervisor")
        box = QHBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        self.user = QLineEdit(objectName=f"{prefix}_supervisor_user", placeholderText="主管用户名")
        self.password = QLineEdit(objectName=f"{prefix}_supervisor_password", placeholderText="主管密码")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        box.addWidget(self.user)
        box.addWidget(self.password)

    def add_to(self, form: ErrorForm, label: str = "主管确认", *, required: bool = True) -> None:
        form.add_field("supervisor", label, self, required=required)

    @property
    def filled(self) -> bool:
        return bool(self.user.text().strip() or self.password.text())

    def typed(self) -> ops.Supervisor:
        """What was typed, for an action that checks it on its worker (``ui.operations.cashier``)."""
        return ops.Supervisor(self.user.text(), self.password.text())

    def refused(self, errors: dict[str, str]) -> None:
        """A refused supervisor's password is cleared (to be typed again)."""
        if "supervisor" in errors:
            self.password.clear()


# --- rows of tenders --------------------------------------------------------------------------


@dataclass
class TenderRow:
    method: QComboBox
    coupon: QComboBox
    amount: QLineEdit
    remove: QPushButton
    error: QLabel


TENDER_KEYS = ("amount", "payment_method", "coupon")


class TenderRows(QWidget):
    """Rows of (支付方式, 券, 金额) with 添加 / 删除; a coupon method shows a picker of the customer's coupons.

    Widgets are named ``<prefix>_method_<i>``, ``_coupon_<i>``, ``_amount_<i>``, ``_remove_<i>``,
    ``_row_error_<i>``, plus ``<prefix>_add`` and ``<prefix>_error`` (errors of the whole payment).
    """

    changed = Signal()

    def __init__(self, prefix: str, methods: Sequence[Entry], coupons: Sequence[CouponView] = (),
                 parent: QWidget | None = None, *, max_rows: int = 8) -> None:
        super().__init__(parent)
        self.setObjectName(f"{prefix}_rows")
        self.prefix, self.methods, self.max_rows = prefix, list(methods), max_rows
        self.coupons = [c for c in coupons if c.remaining_fen > 0]
        self.rows: list[TenderRow] = []
        self.still_due: Callable[[], int] | None = None  # what a new row is prefilled with
        self.grid = QGridLayout()
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setColumnStretch(4, 1)
        self.add_button = QPushButton("＋ 添加支付方式", objectName=f"{prefix}_add")
        self.add_button.setAutoDefault(False)
        self.add_button.clicked.connect(lambda: self.add_row())
        self.error = QLabel(objectName=f"{prefix}_error", wordWrap=True)
        self.error.setStyleSheet(ERROR_STYLE)
        self.error.hide()
        bottom = QHBoxLayout()
        bottom.addWidget(self.add_button)
        bottom.addWidget(self.error, 1)
        bottom.addStretch(0)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self.grid)
        layout.addLayout(bottom)

    def entry(self, row: TenderRow) -> Entry | None:
        method_id = row.method.currentData()
        return next((m for m in self.methods if m.id == method_id), None)

    def kind(self, row: TenderRow) -> str:
        entry = self.entry(row)
        return method_kind(entry) if entry is not None else ""

    def add_row(self, method_id: int | None = None, amount_fen: int | None = None) -> TenderRow | None:
        if len(self.rows) >= self.max_rows:
            return None
        if amount_fen is None and self.still_due is not None:
            amount_fen = max(0, self.still_due())
        method = method_combo("", self.methods)
        if method_id is not None:
            method.setCurrentIndex(max(0, method.findData(method_id)))
        coupon = QComboBox()
        coupon.setMinimumContentsLength(18)
        for c in self.coupons:
            coupon.addItem(f"{c.name}　余 {yuan(c.remaining_fen)}　至 {c.valid_until:%Y-%m-%d}", c.id)
        if not self.coupons:
            coupon.addItem("（顾客没有可用的券）", None)
        amount = QLineEdit(money_text(amount_fen) if amount_fen else "", placeholderText="金额（元）")
        amount.setMinimumWidth(110)
        remove = QPushButton("删除")
        remove.setAutoDefault(False)
        error = QLabel(wordWrap=True)
        error.setStyleSheet(ERROR_STYLE)
        error.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        row = TenderRow(method, coupon, amount, remove, error)
        self.rows.append(row)
        method.currentIndexChanged.connect(lambda _i: self._method_changed(row))
        coupon.currentIndexChanged.connect(lambda _i: self._coupon_changed(row))
        amount.textChanged.connect(lambda _t: self.changed.emit())
        remove.clicked.connect(lambda: self.remove_row(row))
        self._relayout()
        self._method_changed(row)
        return row

    def remove_row(self, row: TenderRow) -> None:
        if len(self.rows) <= 1 or row not in self.rows:
            return
        self.rows.remove(row)
        for w in (row.method, row.coupon, row.amount, row.remove, row.error):
            self.grid.removeWidget(w)
            w.deleteLater()
        self._relayout()
        self.changed.emit()

    def _relayout(self) -> None:
        p = self.prefix
        for i, row in enumerate(self.rows):
            for col, (w, name) in enumerate(((row.method, "method"), (row.amount, "amount"), (row.coupon, "coupon"),
                                             (row.remove, "remove"), (row.error, "row_error"))):
                w.setObjectName(f"{p}_{name}_{i}")
                self.grid.addWidget(w, i, col)
            row.remove.setEnabled(len(self.rows) > 1)
        self.add_button.setEnabled(len(self.rows) < self.max_rows)

    def _method_changed(self, row: TenderRow) -> None:
        is_coupon = self.kind(row) == "coupon"
        row.coupon.setVisible(is_coupon)
        row.coupon.setEnabled(bool(self.coupons))
        if is_coupon:
            self._coupon_changed(row)
        self.changed.emit()

    def _coupon_changed(self, row: TenderRow) -> None:
        """A coupon row pays at most what is left on the coupon."""
        coupon = next((c for c in self.coupons if c.id == row.coupon.currentData()), None)
        if coupon is not None and self.kind(row) == "coupon":
            current = self.amount_of(row) or 0
            if not current or current > coupon.remaining_fen:
                row.amount.setText(money_text(coupon.remaining_fen if not current else
                                              min(current, coupon.remaining_fen)))

    @staticmethod
    def amount_of(row: TenderRow) -> int | None:
        try:
            fen = parse_yuan(row.amount.text())
        except ValueError:
            return None
        return fen if fen > 0 else None

    def entered(self) -> int:
        return sum(self.amount_of(r) or 0 for r in self.rows)

    def entered_by_kind(self, kind: str) -> int:
        return sum(self.amount_of(r) or 0 for r in self.rows if self.kind(r) == kind)

    def tenders(self) -> list[tuple[TenderRow, Tender]]:
        """The filled rows as tenders (empty rows are skipped); a wrong row shows its error beside it."""
        errors: dict[int, str] = {}
        out: list[tuple[TenderRow, Tender]] = []
        for i, row in enumerate(self.rows):
            text = row.amount.text().strip()
            if not text:
                continue
            try:
                fen = parse_yuan(text)
            except ValueError as e:
                errors[i] = str(e)
                continue
            if fen == 0:
                continue
            coupon_id = None
            if self.kind(row) == "coupon":
                coupon_id = row.coupon.currentData()
                if coupon_id is None:
                    errors[i] = "请选择顾客的一张券"
                    continue
            out.append((row, Tender(row.method.currentData(), fen, coupon_id)))
        if errors:
            for i, message in errors.items():
                self.rows[i].error.setText(message)
            raise ValidationError.single("tenders", "")
        return out

    def show_errors(self, errors: dict[str, str]) -> dict[str, str]:
        """Show the payment's errors under the rows (a coupon's beside its row); returns the others."""
        rest = {}
        general = []
        for key, message in errors.items():
            if key == "coupon":
                row = next((r for r in self.rows if self.kind(r) == "coupon"), None)
                if row is not None:
                    row.error.setText(message)
                    continue
            if key in TENDER_KEYS:
                general.append(message)
            elif key != "tenders":
                rest[key] = message
        self.error.setText("；".join(general))
        self.error.setVisible(bool(general))
        return rest

    def clear_errors(self) -> None:
        for row in self.rows:
            row.error.clear()
        self.error.clear()
        self.error.hide()


# --- forms whose save is an action ------------------------------------------------------------


class CashierFormDialog(OpFormDialog):
    """The cashier's form dialogs: 保存 waits for the order's facts (``load``), ``action()`` is the
    operation, and a supervisor's fields show their own errors."""

    def __init__(self, name: str, title: str, parent: QWidget | None = None, *, ok_text: str = "保存",
                 min_width: int = 480) -> None:
        super().__init__(name, title, parent, ok_text=ok_text, min_width=min_width, wait_for_load=True)

    def action(self) -> Op[Any]:
        raise NotImplementedError

    def operation(self) -> Op[Any]:
        return self.action()

    def refused(self, error: Exception) -> None:
        if isinstance(error, ValidationError):
            supervisor = getattr(self, "supervisor", None)
            if isinstance(supervisor, SupervisorFields):
                supervisor.refused(error.errors)
        super().refused(error)
