"""分配到诊 / 改派: choose the on-site consultant (and the visit type, suggested by seed 003's rules)."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QCheckBox, QComboBox, QLabel, QWidget

from meike.db import Clinic
from meike.permissions import Actor
from meike.rules.customer_class import VISIT_TYPE_LABELS
from ui.operations import Op
from ui.operations import front_desk as ops
from ui.widgets.form_dialog import OpFormDialog


class TriageDialog(OpFormDialog):
    """Assign an arrival (``visit_id`` None) or reassign an existing visit to another consultant. The
    consultants and the suggested type are read off the GUI thread after the dialog opens."""

    def __init__(self, clinic: Clinic, actor: Actor, customer_id: int, customer_name: str,
                 visit_id: int | None = None, parent: QWidget | None = None) -> None:
        super().__init__("triage_dialog", f"{'改派' if visit_id else '分配到诊'} — {customer_name}", parent,
                         ok_text="确定", min_width=420)
        self.clinic, self.actor, self.customer_id, self.visit_id = clinic, actor, customer_id, visit_id
        self.saved_visit_id: int | None = None
        self.print_label: QCheckBox | None = None
        self.consultant = QComboBox(objectName="triage_consultant")
        self.consultant.addItem("（请选择）", None)
        self.visit_type = QComboBox(objectName="triage_visit_type")
        for code, label in VISIT_TYPE_LABELS.items():
            self.visit_type.addItem(label, code.value)
        self.form.add_field("consultant_id", "现场咨询", self.consultant, required=True)
        if visit_id is None:
            self.form.add_field("visit_type", "到诊类型", self.visit_type, required=True)
            self.hint = QLabel("系统建议：…", objectName="triage_hint")
        else:
            self.hint = QLabel("改派后，本次到诊转到新咨询师的工作台。", objectName="triage_hint")
        self.hint.setStyleSheet("color: #888;")
        self.form.addRow("", self.hint)
        if visit_id is None:
            # Seed 002 到店: "确认完到店，需要打印条形码" — on this PC's printer, or a PDF label.
            self.print_label = QCheckBox("打印到店条码", objectName="triage_print_label")
            self.print_label.setChecked(True)
            self.form.add_field("print_label", "条码", self.print_label)
        self.finish_layout()
        ops.triage_choices(self, clinic, actor, customer_id, suggest=visit_id is None).success(
            self._choices).failure(self.refused).run()

    def _choices(self, choices: ops.TriageChoices) -> None:
        for staff_id, name in choices.consultants:
            self.consultant.addItem(name, staff_id)
        if choices.suggested is not None:
            self.visit_type.setCurrentIndex(self.visit_type.findData(choices.suggested.value))
            self.hint.setText(f"系统建议：{VISIT_TYPE_LABELS[choices.suggested]}（可修改）")

    def operation(self) -> Op[Any]:
        if self.visit_id is None:
            return ops.arrive(self, self.clinic, self.actor, self.customer_id, self.consultant.currentData(),
                              self.visit_type.currentData())
        return ops.reassign(self, self.clinic, self.actor, self.visit_id, self.consultant.currentData())

    def saved(self, result: Any) -> None:
        self.saved_visit_id = result
