"""The customer detail's small forms: 咨询记录, 手术记录, 提醒 and 作废到诊 (each opened with ``open()``).

Their lists are read off the GUI thread after the dialog opens; saving is an operation (``OpFormDialog``).
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

from PySide6.QtCore import QDate, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QCompleter,
    QDateEdit,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QSpinBox,
    QWidget,
)

from meike import clock
from meike.db import Clinic
from meike.errors import ValidationError
from meike.money import format_fen, parse_yuan, yuan
from meike.permissions import Actor
from meike.rules.validation import nfkc
from meike.services.dictionaries import Entry
from ui.front_desk.reminders import AddReminderDialog
from ui.operations import Op
from ui.operations import front_desk as ops
from ui.widgets.form import ERROR_STYLE
from ui.widgets.form_dialog import OpFormDialog

HINT_STYLE = "color: #7a8794;"
SUPERVISOR_NEEDED = "低于最低价，请主管输入用户名和密码确认"


def _today() -> date:
    return clock.now().date()


def _pydate(value: QDate) -> date:
    return date(value.year(), value.month(), value.day())


def date_edit(name: str, value: date, *, not_before_today: bool = False) -> QDateEdit:
    edit = QDateEdit(QDate(value.year, value.month, value.day), objectName=name)
    edit.setCalendarPopup(True)
    edit.setDisplayFormat("yyyy-MM-dd")
    if not_before_today:
        today = _today()
        edit.setMinimumDate(QDate(today.year, today.month, today.day))
    return edit


def choice_combo(name: str, choices: list[tuple[int, str]], current: int | None, none_text: str) -> QComboBox:
    combo = QComboBox(objectName=name)
    combo.addItem(none_text, None)
    fill_choices(combo, choices, current)
    return combo


def fill_choices(combo: QComboBox, choices: list[tuple[int, str]], current: object) -> None:
    """The choices after the "none" entry, ``current`` chosen if it is one of them."""
    while combo.count() > 1:
        combo.removeItem(1)
    for key, label in choices:
        combo.addItem(label, key)
    combo.setCurrentIndex(max(0, combo.findData(current)))


class ConsultationDialog(OpFormDialog):
    """添加咨询记录, optionally with a chase reminder 追单."""

    def __init__(self, clinic: Clinic, actor: Actor, customer_id: int, customer_label: str,
                 parent: QWidget | None = None, default_consultant: str = "") -> None:
        super().__init__("consultation_dialog", f"添加咨询记录 — {customer_label}", parent)
        self.clinic, self.actor, self.customer_id = clinic, actor, customer_id
        self.new_id: int | None = None
        self.default_consultant = default_consultant
        self.consultant = choice_combo("consultation_consultant", [], None, "（未指定）")
        self.items = QLineEdit(objectName="consultation_items", placeholderText="例如：双眼皮、开眼角")
        self.content = QPlainTextEdit(objectName="consultation_content")
        self.content.setPlaceholderText("顾客的需求、顾虑、报价与答复……")
        self.content.setFixedHeight(100)
        self.remind = QCheckBox("设置追单提醒", objectName="consultation_remind")
        self.remind_date = date_edit("consultation_remind_date", _today() + timedelta(days=3), not_before_today=True)
        self.assignee = choice_combo("consultation_remind_assignee", [], None, "（本人）")
        self.remind_note = QLineEdit(objectName="consultation_remind_note", placeholderText="留空则用意向项目")
        for widget in (self.remind_date, self.assignee, self.remind_note):
            widget.setEnabled(False)
            self.remind.toggled.connect(widget.setEnabled)
        self.form.add_field("consultant_id", "现场咨询", self.consultant)
        self.form.add_field("items", "意向项目", self.items)
        self.form.add_field("content", "咨询内容", self.content, required=True)
        self.form.addRow("", self.remind)
        self.form.add_field("reminder_due", "提醒日期", self.remind_date)
        self.form.add_field("assignee_id", "追单负责人", self.assignee)
        self.form.add_field("reminder_note", "提醒备注", self.remind_note)
        self.finish_layout()
        ops.consultation_choices(self, clinic, actor).success(self._choices).failure(self.refused).run()

    def _choices(self, choices: ops.RecordChoices) -> None:
        fill_choices(self.consultant, choices.staff, self.actor.staff_id)
        if self.consultant.currentData() is None and self.default_consultant:  # the visit's consultant
            self.consultant.setCurrentIndex(max(0, self.consultant.findText(self.default_consultant)))
        fill_choices(self.assignee, choices.assignees, self.actor.user_id)

    def operation(self) -> Op[Any]:
        remind = self.remind.isChecked()
        return ops.add_consultation(
            self, self.clinic, self.actor, self.customer_id, content=self.content.toPlainText(),
            items=self.items.text(), consultant_id=self.consultant.currentData(),
            reminder_due=_pydate(self.remind_date.date()) if remind else None,
            reminder_assignee_id=self.assignee.currentData() if remind else None,
            reminder_note=self.remind_note.text() if remind else "")

    def saved(self, result: Any) -> None:
        self.new_id = result


def parse_days(text: str) -> list[int]:
    """"2,7，15" → [2, 7, 15]; anything else than whole numbers is an error beside the field."""
    parts = [p for p in re.split(r"[\s,，、;；]+", nfkc(text)) if p]
    if not parts or not all(p.isascii() and p.isdigit() for p in parts):
        raise ValidationError.single("followup_days", "回访天数格式如 2,7,15")
    return [int(p) for p in parts]


class TreatmentDialog(OpFormDialog):
    """添加手术记录: item (name or pinyin code), price, doctor; below the minimum a supervisor confirms."""

    def __init__(self, clinic: Clinic, actor: Actor, customer_id: int, customer_label: str,
                 parent: QWidget | None = None) -> None:
        super().__init__("treatment_dialog", f"添加手术记录 — {customer_label}", parent)
        self.clinic, self.actor, self.customer_id = clinic, actor, customer_id
        self.new_id: int | None = None
        self.entries: list[Entry] = []
        self.item = QComboBox(objectName="treatment_item")
        self.item.setEditable(True)
        self.item.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        line = self.item.lineEdit()
        assert line is not None
        line.setPlaceholderText("输入名称或拼音首字母，如 syp")
        completer = QCompleter(self.item.model(), self.item)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self.item.setCompleter(completer)
        self.item.currentIndexChanged.connect(self._item_chosen)
        line.editingFinished.connect(self.resolve_item)
        self.quantity = QSpinBox(objectName="treatment_quantity", minimum=1, maximum=999)
        self.price = QLineEdit(objectName="treatment_price", placeholderText="单价（元）")
        self.price.textChanged.connect(self._update_supervisor)
        self.price_hint = QLabel(objectName="treatment_price_hint")
        self.price_hint.setStyleSheet(HINT_STYLE)
        self.doctor = choice_combo("treatment_doctor", [], None, "（请选择）")
        self.performed_on = date_edit("treatment_date", _today())
        self.notes = QLineEdit(objectName="treatment_notes")
        self.followup = QCheckBox("术后回访", objectName="treatment_followup", checked=True)
        self.followup_days = QLineEdit(objectName="treatment_followup_days")
        self.assignee = choice_combo("treatment_followup_assignee", [], None, "（本人）")
        for widget in (self.followup_days, self.assignee):
            self.followup.toggled.connect(widget.setEnabled)
        self.supervisor_user = QLineEdit(objectName="treatment_supervisor_user", placeholderText="主管用户名")
        self.supervisor_password = QLineEdit(objectName="treatment_supervisor_password", placeholderText="主管密码")
        self.supervisor_password.setEchoMode(QLineEdit.EchoMode.Password)

        self.form.add_field("item_id", "项目", self.item, required=True)
        self.form.add_field("quantity", "数量", self.quantity)
        self.form.add_field("price_fen", "单价（元）", self.price, required=True)
        self.form.addRow("", self.price_hint)
        self._hint_row = self.form.rowCount() - 1
        self.form.add_field("supervisor_user", "主管用户名", self.supervisor_user)
        self.form.add_field("supervisor_password", "主管密码", self.supervisor_password)
        self._supervisor_rows = (self.form.rowCount() - 2, self.form.rowCount() - 1)
        self.form.add_field("doctor_id", "医生", self.doctor, required=True)
        self.form.add_field("performed_on", "手术日期", self.performed_on)
        self.form.add_field("notes", "备注", self.notes)
        self.form.addRow("", self.followup)
        self.form.add_field("followup_days", "术后第几天", self.followup_days)
        self.form.add_field("followup_assignee_id", "回访负责人", self.assignee)
        self.finish_layout()
        self._item_chosen(-1)
        ops.treatment_choices(self, clinic, actor).success(self._choices).failure(self.refused).run()

    def _choices(self, choices: ops.RecordChoices) -> None:
        typed = self.item.currentText()
        self.entries = choices.items
        self.item.blockSignals(True)
        for e in self.entries:
            self.item.addItem(f"{e.name} ({e.fields['pinyin_code']})", e.id)
        self.item.setCurrentIndex(-1)
        self.item.setEditText(typed)
        self.item.blockSignals(False)
        fill_choices(self.doctor, choices.staff, self.doctor.currentData())
        fill_choices(self.assignee, choices.assignees, self.actor.user_id)
        if not self.followup_days.text():
            self.followup_days.setText(",".join(str(d) for d in choices.postop_days))

    def current_entry(self) -> Entry | None:
        index = self.item.currentIndex()
        return self.entries[index] if 0 <= index < len(self.entries) else None

    def match_items(self, text: str) -> list[Entry]:
        """Items whose name or pinyin code contains ``text``; exact names and codes first."""
        text = text.strip().lower()
        if not text:
            return []
        exact = [e for e in self.entries if text in (e.name.lower(), e.fields["pinyin_code"])]
        starts = [e for e in self.entries if e not in exact and
                  (e.name.lower().startswith(text) or e.fields["pinyin_code"].startswith(text))]
        contains = [e for e in self.entries if e not in exact and e not in starts and
                    (text in e.name.lower() or text in e.fields["pinyin_code"])]
        return exact + starts + contains

    def resolve_item(self) -> Entry | None:
        """Turn what was typed ("syp", "双眼") into the best matching item and select it."""
        text = self.item.currentText()
        current = self.current_entry()
        if current is not None and text == self.item.itemText(self.item.currentIndex()):
            return current
        exact = self.item.findText(text)
        if exact >= 0:
            self.item.setCurrentIndex(exact)
            return self.current_entry()
        found = self.match_items(text.split(" (")[0])
        self.item.setCurrentIndex(self.entries.index(found[0]) if found else -1)
        if not found:
            self.item.setEditText(text)
        return self.current_entry()

    def _item_chosen(self, _index: int) -> None:
        entry = self.current_entry()
        if entry is None:
            self.price_hint.clear()
        else:
            self.price.setText(format_fen(entry.fields["price_fen"]).replace(",", ""))
            self.price_hint.setText(f"标价 {yuan(entry.fields['price_fen'])}　"
                                    f"最低价 {yuan(entry.fields['min_price_fen'])}")
        self.form.setRowVisible(self._hint_row, entry is not None)
        self._update_supervisor()

    def needs_supervisor(self) -> bool:
        entry = self.current_entry()
        try:
            price = parse_yuan(self.price.text())
        except ValueError:
            return False
        # below the minimum, or given free where the item has a price
        return entry is not None and (price < entry.fields["min_price_fen"]
                                      or price == 0 < entry.fields["price_fen"])

    def _update_supervisor(self) -> None:
        below = self.needs_supervisor()
        self.price_hint.setStyleSheet(ERROR_STYLE if below else HINT_STYLE)
        text = self.price_hint.text().split("　—")[0]
        self.price_hint.setText(f"{text}　— 低于最低价，需主管审批" if below else text)
        self._show_supervisor(below)

    def _show_supervisor(self, visible: bool) -> None:
        for row in self._supervisor_rows:
            self.form.setRowVisible(row, visible)

    def supervisor_visible(self) -> bool:
        return self.form.isRowVisible(self._supervisor_rows[0])

    def operation(self) -> Op[Any]:
        """What the form itself refuses is said at once; the price approval and the save run as one
        operation (a refused supervisor password is said beside it, and cleared)."""
        entry = self.resolve_item()
        errors: dict[str, str] = {}
        if entry is None:
            errors["item_id"] = "请从列表中选择项目（可输入名称或拼音首字母）"
        price = 0
        try:
            price = parse_yuan(self.price.text())
        except ValueError as e:
            errors["price_fen"] = str(e)
        days: list[int] = []
        if self.followup.isChecked():
            try:
                days = parse_days(self.followup_days.text())
            except ValidationError as e:
                errors.update(e.errors)
        if errors:
            raise ValidationError(errors)
        supervisor = None
        if self.needs_supervisor():
            if not self.supervisor_user.text().strip() or not self.supervisor_password.text():
                raise ValidationError.single("supervisor_password", SUPERVISOR_NEEDED)
            supervisor = (self.supervisor_user.text(), self.supervisor_password.text())
        assert entry is not None
        return ops.add_treatment(
            self, self.clinic, self.actor, self.customer_id, supervisor=supervisor, item_id=entry.id,
            doctor_id=self.doctor.currentData(), performed_on=_pydate(self.performed_on.date()),
            quantity=self.quantity.value(), price_fen=price, notes=self.notes.text(), followup_days=days,
            followup_assignee_id=self.assignee.currentData() if days else None)

    def refused(self, error: Exception) -> None:
        if isinstance(error, ValidationError):
            if error.errors.get("supervisor_password", SUPERVISOR_NEEDED) != SUPERVISOR_NEEDED:
                self.supervisor_password.clear()  # a refused password is typed again
            if "需要主管审批" in error.errors.get("price_fen", ""):
                self._show_supervisor(True)
        super().refused(error)

    def saved(self, result: Any) -> None:
        self.new_id = result


class ReminderDialog(AddReminderDialog):
    """添加提醒 (追单 or 术后回访) from the detail's 提醒 tab: the reminder list's own form."""


class RejectVisitDialog(OpFormDialog):
    """作废到诊: a reason is required; the visit stays on file and can be restored."""

    def __init__(self, clinic: Clinic, actor: Actor, visit_id: int, visit_label: str,
                 parent: QWidget | None = None) -> None:
        super().__init__("visit_reject_dialog", "作废到诊", parent, ok_text="作废")
        self.clinic, self.actor, self.visit_id = clinic, actor, visit_id
        self.setMinimumWidth(420)
        self.form.addRow("到诊", QLabel(visit_label))
        self.reason = QLineEdit(objectName="visit_reject_reason", placeholderText="例如：重复分诊、录错顾客")
        self.form.add_field("reason", "作废原因", self.reason, required=True)
        self.finish_layout()

    def operation(self) -> Op[Any]:
        return ops.reject_visit(self, self.clinic, self.actor, self.visit_id, self.reason.text())
