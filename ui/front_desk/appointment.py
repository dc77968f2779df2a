"""改约 / 取消预约 of one booked appointment (the version it was opened with guards against another PC)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QDateTime
from PySide6.QtWidgets import QDateTimeEdit, QLineEdit, QWidget

from meike.db import Clinic
from meike.permissions import Actor
from meike.services.customers import AppointmentRow
from ui.operations import Op
from ui.operations import front_desk as ops
from ui.widgets.form_dialog import OpFormDialog


class ChangeAppointmentDialog(OpFormDialog):
    def __init__(self, clinic: Clinic, actor: Actor, row: AppointmentRow, parent: QWidget | None = None) -> None:
        super().__init__("appointment_change", "改约", parent, ok_text="保存")
        self.clinic, self.actor, self.row = clinic, actor, row
        self.at = QDateTimeEdit(QDateTime(row.appointment_at), objectName="appointment_at", calendarPopup=True,
                                displayFormat="yyyy-MM-dd HH:mm")
        self.items = QLineEdit(row.items, objectName="appointment_items")
        self.notes = QLineEdit(row.notes, objectName="appointment_notes")
        self.form.add_field("appointment_at", "预约时间", self.at, required=True)
        self.form.add_field("items", "意向项目", self.items)
        self.form.add_field("notes", "备注", self.notes)
        self.finish_layout()

    def operation(self) -> Op[Any]:
        return ops.change_appointment(self, self.clinic, self.actor, self.row,
                                      at=self.at.dateTime().toPython().replace(second=0, microsecond=0),
                                      items=self.items.text(), notes=self.notes.text())


class CancelAppointmentDialog(OpFormDialog):
    def __init__(self, clinic: Clinic, actor: Actor, row: AppointmentRow, parent: QWidget | None = None) -> None:
        super().__init__("appointment_cancel", "取消预约", parent, ok_text="确认取消")
        self.clinic, self.actor, self.row = clinic, actor, row
        self.reason = QLineEdit(objectName="appointment_cancel_reason", placeholderText="例如：顾客临时有事")
        self.form.add_field("reason", "取消原因", self.reason, required=True)
        self.finish_layout()

    def operation(self) -> Op[Any]:
        return ops.cancel_appointment(self, self.clinic, self.actor, self.row, self.reason.text())
