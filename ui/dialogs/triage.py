"""分配到诊 / 改派: choose the on-site consultant (and the visit type, suggested by seed 003's rules)."""
# gui-thread: not yet moved to ui/operations (issue 15)

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QComboBox, QLabel, QWidget

from meike.db import Clinic
from meike.permissions import Actor
from meike.rules.customer_class import VISIT_TYPE_LABELS
from meike.services import triage
from ui.widgets.form_dialog import FormDialog


class TriageDialog(FormDialog):
    """Assign an arrival (``visit_id`` None) or reassign an existing visit to another consultant."""

    def __init__(self, clinic: Clinic, actor: Actor, customer_id: int, customer_name: str,
                 visit_id: int | None = None, parent: QWidget | None = None) -> None:
        super().__init__("triage_dialog", f"{'改派' if visit_id else '分配到诊'} — {customer_name}", parent,
                         ok_text="确定", min_width=420)
        self.clinic, self.actor, self.customer_id, self.visit_id = clinic, actor, customer_id, visit_id
        self.saved_visit_id: int | None = None
        self.consultant = QComboBox(objectName="triage_consultant")
        self.consultant.addItem("（请选择）", None)
        for staff_id, name in triage.consultants(clinic, actor):
            self.consultant.addItem(name, staff_id)
        self.visit_type = QComboBox(objectName="triage_visit_type")
        for code, label in VISIT_TYPE_LABELS.items():
            self.visit_type.addItem(label, code.value)
        self.form.add_field("consultant_id", "现场咨询", self.consultant, required=True)
        if visit_id is None:
            suggested = triage.suggest_type(clinic, actor, customer_id)
            self.visit_type.setCurrentIndex(self.visit_type.findData(suggested.value))
            self.form.add_field("visit_type", "到诊类型", self.visit_type, required=True)
            hint = QLabel(f"系统建议：{VISIT_TYPE_LABELS[suggested]}（可修改）", objectName="triage_hint")
        else:
            hint = QLabel("改派后，本次到诊转到新咨询师的工作台。", objectName="triage_hint")
        hint.setStyleSheet("color: #888;")
        self.form.addRow("", hint)
        if visit_id is None:
            # Seed 002 到店: "确认完到店，需要打印条形码" — on this PC's printer, or a PDF label.
            self.print_label = QCheckBox("打印到店条码", objectName="triage_print_label")
            self.print_label.setChecked(True)
            self.form.add_field("print_label", "条码", self.print_label)
        self.finish_layout()

    def save(self) -> None:
        if self.visit_id is None:
            self.saved_visit_id = triage.arrive(self.clinic, self.actor, self.customer_id,
                                                consultant_id=self.consultant.currentData(),
                                                visit_type=self.visit_type.currentData())
        else:
            triage.reassign(self.clinic, self.actor, self.visit_id, consultant_id=self.consultant.currentData())
            self.saved_visit_id = self.visit_id
