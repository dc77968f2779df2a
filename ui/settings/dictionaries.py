"""系统管理 → the dictionaries (项目, 科室, 员工, 会员等级, 支付方式 …): each a list with a filter box and the
right-click menu (添加 / 编辑 / 停用 / 删除)."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QCheckBox, QDialog, QLabel, QLineEdit, QWidget

from meike.db import Clinic
from meike.money import yuan
from meike.permissions import Actor
from meike.services.dictionaries import KIND_LABELS, PAYMENT_KINDS, STAFF_ROLES, Entry, Kind
from ui.operations import Op
from ui.operations import settings as ops
from ui.settings.dictionary_entry import EntryDialog, format_discount
from ui.widgets.list_tab import ListTab

COLUMNS: dict[Kind, list[str]] = {
    Kind.ITEM: ["名称", "拼音码", "单价", "最低价", "单位", "分类", "科室", "状态"],
    Kind.STAFF: ["姓名", "部门", "岗位", "电话", "状态"],
    Kind.MEMBER_LEVEL: ["名称", "折扣", "状态"],
    Kind.PAYMENT_METHOD: ["名称", "类型", "状态"],
}


def cells(e: Entry) -> list[str]:
    f = e.fields
    state = "正常" if e.is_active else "已停用"
    if e.kind is Kind.ITEM:
        return [e.name, f["pinyin_code"], yuan(f["price_fen"]), yuan(f["min_price_fen"]), f["unit"],
                f["category_name"], f["department_name"], state]
    if e.kind is Kind.STAFF:
        roles = "、".join(label for code, label in STAFF_ROLES.items() if code in f["roles"])
        return [e.name, f["department_name"], roles, f["mobile"], state]
    if e.kind is Kind.MEMBER_LEVEL:
        permille = f["discount_permille"]
        return [e.name, "不打折" if permille == 1000 else f"{format_discount(permille)}%", state]
    if e.kind is Kind.PAYMENT_METHOD:
        return [e.name, PAYMENT_KINDS.get(f["kind"], f["kind"]), state]
    return [e.name, state]


class DictionaryTable(ListTab):
    """One dictionary: a table, a filter box, 显示已停用 and the right-click menu."""

    def __init__(self, clinic: Clinic, actor: Actor, kind: Kind, parent: QWidget | None = None) -> None:
        self.COLUMNS = COLUMNS.get(kind, ["名称", "状态"])
        self.clinic, self.actor, self.kind = clinic, actor, kind
        super().__init__(f"dict_{kind.value}", "dict", f"添加{KIND_LABELS[kind]}", parent, stretch=None)
        self.entries = self.rows  # the name the tests and callers know
        self.filter = QLineEdit(objectName=f"dict_{kind.value}_filter", placeholderText="按名称或拼音码筛选")
        self.filter.textChanged.connect(lambda _t: self.reload())
        self.show_inactive = QCheckBox("显示已停用", objectName=f"dict_{kind.value}_show_inactive")
        self.show_inactive.toggled.connect(lambda _c: self.reload())
        hint = QLabel("右击列表：添加、编辑、停用、删除")
        hint.setStyleSheet("color: #888;")
        self.bar.addWidget(self.filter, 1)
        self.bar.addWidget(self.show_inactive)
        self.bar.addWidget(hint)
        self.reload()

    def load(self) -> Op[list[Any]]:
        return ops.list_entries(self, self.clinic, self.actor, self.kind,
                                include_inactive=self.show_inactive.isChecked())  # type: ignore[return-value]

    def _loaded(self, rows: list[Any]) -> None:
        super()._loaded(rows)
        self.entries = self.rows

    def keep(self, row: Any) -> bool:
        needle = self.filter.text().strip().lower()
        return not needle or needle in row.name.lower() or needle in str(row.fields.get("pinyin_code", ""))

    def cells(self, row: Any) -> list[str]:
        return cells(row)

    def shown(self, count: int) -> None:
        self.status.setText(f"共 {count} 条")

    def delete_question(self, row: Any) -> str:
        return f"确定删除“{row.name}”吗？已被使用的条目只能停用。"

    def open_dialog(self, row: Any | None) -> QDialog:
        return EntryDialog(self.clinic, self.actor, self.kind, row, self)

    def toggle_op(self, row: Any) -> Op[Any]:
        return ops.set_entry_active(self, self.clinic, self.actor, self.kind, row.id, not row.is_active)

    def delete_op(self, row: Any) -> Op[Any]:
        return ops.delete_entry(self, self.clinic, self.actor, self.kind, row.id)
