"""分配到诊 / 改派: choose the on-site consultant (and the visit type, suggested by seed 003's rules)."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QDialog, QDialogButtonBox, QLabel, QLineEdit, QVBoxLayout, QWidget

from meike.db import Clinic
from meike.errors import ValidationError
from meike.permissions import Actor
from meike.rules.customer_class import VISIT_TYPE_LABELS
from meike.services import triage
from ui.widgets.form import ErrorForm


class TriageDialog(QDialog):
    """Assign an arrival (``visit_id`` None) or reassign an existing visit to another consultant."""

    def __init__(self, clinic: Clinic, actor: Actor, customer_id: int, customer_name: str,
                 visit_id: int | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.clinic, self.actor, self.customer_id, self.visit_id = clinic, actor, customer_id, visit_id
        self.saved_visit_id: int | None = None
        self.setObjectName("triage_dialog")
        self.setWindowTitle(f"{'改派' if visit_id else '分配到诊'} — {customer_name}")
        self.setMinimumWidth(420)
        self.consultant = QComboBox(objectName="triage_consultant")
        self.consultant.addItem("（请选择）", None)
        for staff_id, name in triage.consultants(clinic, actor):
            self.consultant.addItem(name, staff_id)
        self.visit_type = QComboBox(objectName="triage_visit_type")
        for code, label in VISIT_TYPE_LABELS.items():
            self.visit_type.addItem(label, code.value)
        self.form = ErrorForm()
        self.form.add_field("consultant_id", "现场咨询", self.consultant, required=True)
        if visit_id is None:
            suggested = triage.suggest_type(clinic, actor, customer_id)
            self.visit_type.setCurrentIndex(self.visit_type.findData(suggested.value))
            self.form.add_field("visit_type", "到诊类型", self.visit_type, required=True)
            hint = QLabel(f"系统建议：{VISIT_TYPE_LABELS[suggested]}（可修改）", objectName="triage_hint")
            hint.setStyleSheet("color: #888;")
        else:
            hint = QLabel("改派后，本次到诊转到新咨询师的工作台。", objectName="triage_hint")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok.setText("确定")
        self.ok.setObjectName("triage_submit")
        buttons.button(QDialogButtonBox.StandardButton.Cancel).setText("取消")
        buttons.accepted.connect(self.submit)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(self.form)
        layout.addWidget(hint)
        layout.addWidget(buttons)

    def submit(self) -> None:
        try:
            if self.visit_id is None:
                self.saved_visit_id = triage.arrive(self.clinic, self.actor, self.customer_id,
                                                    consultant_id=self.consultant.currentData(),
                                                    visit_type=self.visit_type.currentData())
            else:
                triage.reassign(self.clinic, self.actor, self.visit_id, consultant_id=self.consultant.currentData())
                self.saved_visit_id = self.visit_id
        except ValidationError as e:
            self.form.show_errors(e.errors)
            return
        self.accept()


class ReasonDialog(QDialog):
    """Asks for a required reason (作废到诊); ``save`` may refuse it with a ValidationError on 'reason'."""

    def __init__(self, title: str, save, parent: QWidget | None = None) -> None:  # type: ignore[no-untyped-def]
        super().__init__(parent)
        self.setObjectName("reason_dialog")
        self.setWindowTitle(title)
        self._save = save
        self.reason = QLineEdit(objectName="reason_text")
        self.form = ErrorForm()
        self.form.add_field("reason", "原因", self.reason, required=True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setObjectName("reason_submit")
        buttons.accepted.connect(self.submit)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(self.form)
        layout.addWidget(buttons)

    def submit(self) -> None:
        try:
            self._save(self.reason.text())
        except ValidationError as e:
            self.form.show_errors(e.errors)
            return
        self.accept()
