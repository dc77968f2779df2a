"""Add / edit one dictionary entry (item, staff, member level, …) with errors beside the fields.

The pickers of other dictionaries (category, department) are filled off the GUI thread when the dialog
opens; 保存 is an Op: a refusal keeps everything typed, with the errors beside the fields."""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal
from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from meike.db import Clinic
from meike.errors import ValidationError
from meike.money import format_fen, parse_yuan
from meike.permissions import Actor
from meike.rules.pinyin import initials
from meike.services.dictionaries import KIND_LABELS, PAYMENT_KINDS, SHARE_ROLES, STAFF_ROLES, Entry, Kind
from ui.operations import settings as ops
from ui.widgets.form import ErrorForm
from ui.widgets.list_tab import submit_op


def format_discount(permille: int) -> str:
    return f"{Decimal(permille) / 10:g}"


_DISCOUNT_TYPED = frozenset("0123456789０１２３４５６７８９.．%％ \u3000")
_DISCOUNT = re.compile(r"([0-9]{1,3})(?:\.([0-9]*))?\s*%?")


def parse_discount(text: str) -> int:
    """"95" (percent of the price) → 950‰; at most one decimal. Full-width digits are fine (NFKC);
    an exponent, ``_`` or digits of other scripts are not."""
    typed = text.strip()
    if not typed or not set(typed) <= _DISCOUNT_TYPED:
        raise ValueError("请输入百分比，例如 95 表示九五折")
    m = _DISCOUNT.fullmatch(unicodedata.normalize("NFKC", typed))
    if m is None:
        raise ValueError("请输入百分比，例如 95 表示九五折")
    decimals = (m[2] or "").rstrip("0")
    if len(decimals) > 1:
        raise ValueError("折扣最多一位小数")
    return int(m[1]) * 10 + int(decimals or 0)


class EntryDialog(QDialog):
    """Shown with ``open()``; on a successful save ``saved_id`` holds the entry's id."""

    def __init__(self, clinic: Clinic, actor: Actor, kind: Kind, entry: Entry | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.clinic, self.actor, self.kind, self.entry = clinic, actor, kind, entry
        self.saved_id: int | None = None
        self.setObjectName("dictionary_dialog")
        self.setWindowTitle(f"{'编辑' if entry else '添加'}{KIND_LABELS[kind]}")
        self.setMinimumWidth(520)
        self.form = ErrorForm()
        self.name = QLineEdit(objectName="entry_name")
        self.form.add_field("name", "名称", self.name, required=True)
        self._pinyin_touched = False
        self._pickers: list[tuple[QComboBox, Kind]] = []
        if kind is Kind.ITEM:
            self.price = QLineEdit(objectName="entry_price", placeholderText="元，例如 8800")
            self.min_price = QLineEdit(objectName="entry_min_price", placeholderText="元，低于此价需主管审批")
            self.pinyin = QLineEdit(objectName="entry_pinyin")
            self.unit = QLineEdit("次", objectName="entry_unit")
            self.category = self._combo("entry_category", Kind.ITEM_CATEGORY)
            self.department = self._combo("entry_department", Kind.DEPARTMENT)
            self.form.add_field("price_fen", "单价（元）", self.price, required=True)
            self.form.add_field("min_price_fen", "最低价（元）", self.min_price)
            self.form.add_field("pinyin_code", "拼音码", self.pinyin)
            self.form.add_field("unit", "单位", self.unit)
            self.form.add_field("category_id", "分类", self.category)
            self.form.add_field("department_id", "科室", self.department)
            self.shares: dict[str, QSpinBox] = {}
            for role, label in SHARE_ROLES.items():
                spin = QSpinBox(objectName=f"entry_share_{role}", minimum=0, maximum=100, value=100, suffix=" %")
                spin.setToolTip(f"结单时{label}业绩按收费金额的这个比例计入（科室业绩总是全额）")
                self.shares[role] = spin
                self.form.add_field(f"share_{role}_pct", f"{label}业绩比例", spin)
            self.name.textEdited.connect(self._name_edited)
            self.pinyin.textEdited.connect(lambda _t: setattr(self, "_pinyin_touched", True))
        elif kind is Kind.STAFF:
            self.department = self._combo("entry_department", Kind.DEPARTMENT)
            self.mobile = QLineEdit(objectName="entry_mobile")
            roles = QWidget(objectName="entry_roles")
            grid = QGridLayout(roles)
            grid.setContentsMargins(0, 0, 0, 0)
            self.role_boxes: dict[str, QCheckBox] = {}
            for i, (code, label) in enumerate(STAFF_ROLES.items()):
                cb = QCheckBox(label, objectName=f"entry_role_{code}")
                self.role_boxes[code] = cb
                grid.addWidget(cb, i // 4, i % 4)
            self.form.add_field("department_id", "部门", self.department)
            self.form.add_field("roles", "岗位", roles)
            self.form.add_field("mobile", "电话", self.mobile)
        elif kind is Kind.MEMBER_LEVEL:
            self.discount = QLineEdit("100", objectName="entry_discount", placeholderText="95 表示九五折")
            self.form.add_field("discount_permille", "折扣（%）", self.discount, required=True)
        elif kind is Kind.PAYMENT_METHOD:
            self.pay_kind = QComboBox(objectName="entry_pay_kind")
            for code, label in PAYMENT_KINDS.items():
                self.pay_kind.addItem(label, code)
            self.form.add_field("kind", "类型", self.pay_kind)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.ok = buttons.button(QDialogButtonBox.StandardButton.Save)
        self.ok.setText("保存")
        self.ok.setObjectName("entry_save")
        buttons.button(QDialogButtonBox.StandardButton.Cancel).setText("取消")
        buttons.accepted.connect(self.submit)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(self.form)
        layout.addWidget(buttons)
        if self._pickers:  # the entry is shown once its pickers are filled
            self.ok.setEnabled(False)
            ops.entry_choices(self, clinic, actor, tuple(kind for _c, kind in self._pickers)).success(
                self._fill_pickers).run()
        elif entry is not None:
            self._load(entry)

    def _combo(self, name: str, kind: Kind) -> QComboBox:
        combo = QComboBox(objectName=name)
        combo.addItem("（无）", None)
        self._pickers.append((combo, kind))
        return combo

    def _fill_pickers(self, choices: dict[Kind, list[Entry]]) -> None:
        for combo, kind in self._pickers:
            for e in choices.get(kind, []):
                combo.addItem(e.name, e.id)
        if self.entry is not None:
            self._load(self.entry)
        self.ok.setEnabled(True)

    @staticmethod
    def _select(combo: QComboBox, value: Any, label: str = "") -> None:
        index = combo.findData(value)
        if index < 0 and value is not None:  # a disabled entry still shows on old records
            combo.addItem(f"{label}（已停用）", value)
            index = combo.count() - 1
        combo.setCurrentIndex(max(index, 0))

    def _name_edited(self, text: str) -> None:
        if not self._pinyin_touched:
            self.pinyin.setText(initials(text))

    def _load(self, e: Entry) -> None:
        self.name.setText(e.name)
        f = e.fields
        if self.kind is Kind.ITEM:
            self.price.setText(format_fen(f["price_fen"]).replace(",", ""))
            self.min_price.setText(format_fen(f["min_price_fen"]).replace(",", ""))
            self.pinyin.setText(f["pinyin_code"])
            self._pinyin_touched = True
            self.unit.setText(f["unit"])
            self._select(self.category, f["category_id"], f["category_name"])
            self._select(self.department, f["department_id"], f["department_name"])
            for role, spin in self.shares.items():
                spin.setValue(f[f"share_{role}_pct"])
        elif self.kind is Kind.STAFF:
            self._select(self.department, f["department_id"], f["department_name"])
            self.mobile.setText(f["mobile"])
            for code, cb in self.role_boxes.items():
                cb.setChecked(code in f["roles"])
        elif self.kind is Kind.MEMBER_LEVEL:
            self.discount.setText(format_discount(f["discount_permille"]))
        elif self.kind is Kind.PAYMENT_METHOD:
            self.pay_kind.setCurrentIndex(max(0, self.pay_kind.findData(f["kind"])))

    def values(self) -> dict[str, Any]:
        """The typed values of the form; raises ValidationError for text that is not a number."""
        values: dict[str, Any] = {"name": self.name.text()}
        errors: dict[str, str] = {}
        if self.kind is Kind.ITEM:
            for key, widget, required in (("price_fen", self.price, True), ("min_price_fen", self.min_price, False)):
                text = widget.text().strip()
                if not text and not required:
                    values[key] = 0
                    continue
                try:
                    values[key] = parse_yuan(text)
                except ValueError as e:
                    errors[key] = str(e)
            values.update(pinyin_code=self.pinyin.text(), unit=self.unit.text(),
                          category_id=self.category.currentData(), department_id=self.department.currentData(),
                          **{f"share_{role}_pct": spin.value() for role, spin in self.shares.items()})
        elif self.kind is Kind.STAFF:
            values.update(department_id=self.department.currentData(), mobile=self.mobile.text(),
                          roles=[c for c, cb in self.role_boxes.items() if cb.isChecked()])
        elif self.kind is Kind.MEMBER_LEVEL:
            try:
                values["discount_permille"] = parse_discount(self.discount.text())
            except ValueError as e:
                errors["discount_permille"] = str(e)
        elif self.kind is Kind.PAYMENT_METHOD:
            values["kind"] = self.pay_kind.currentData()
        if errors:
            raise ValidationError(errors)
        return values

    def submit(self) -> None:
        self.form.clear_errors()
        try:
            values = self.values()
        except ValidationError as e:  # refused as typed, before the service
            self.form.show_errors(e.errors)
            return
        submit_op(self, self.form, ops.save_entry(self, self.clinic, self.actor, self.kind,
                                                  self.entry.id if self.entry else None, values),
                  done=lambda saved_id: setattr(self, "saved_id", saved_id))
