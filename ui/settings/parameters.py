"""系统管理 → 系统参数: 诊所名称, login lockout, post-op follow-up days, the idle lock."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from meike.db import Clinic
from meike.errors import ValidationError
from meike.permissions import Actor
from ui.operations import settings as ops
from ui.tasks import error_text
from ui.widgets.form import ErrorForm


class SystemParameters(QWidget):
    FIELDS = [("clinic.name", "诊所名称"), ("login.max_failures", "连续输错密码几次后延迟登录"),
              ("login.lock_minutes", "登录延迟最长分钟数"), ("followup.postop_days", "术后回访天数（逗号分隔）"),
              ("security.idle_lock_minutes", "无操作自动锁屏（分钟，0 为不锁屏）")]

    def __init__(self, clinic: Clinic, actor: Actor, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.clinic, self.actor = clinic, actor
        self.setObjectName("system_parameters")
        self.form = ErrorForm()
        self.edits: dict[str, QLineEdit] = {}
        for key, label in self.FIELDS:
            edit = QLineEdit(objectName="param_" + key.replace(".", "_"))
            self.edits[key] = edit
            self.form.add_field(key, label, edit, required=True)
        self.save_button = QPushButton("保存", objectName="param_save")
        self.save_button.clicked.connect(self.save)
        self.save_button.setEnabled(False)  # until the values are read
        self.status = QLabel(objectName="param_status")
        layout = QVBoxLayout(self)
        layout.addLayout(self.form)
        row = QHBoxLayout()
        row.addWidget(self.save_button)
        row.addWidget(self.status, 1)
        layout.addLayout(row)
        layout.addStretch(1)
        ops.parameters(self, clinic, actor).success(self._show).failure(
            lambda exc: self.status.setText(error_text(exc))).run()

    def _show(self, values: dict[str, Any]) -> None:
        for key, edit in self.edits.items():
            if key in values:
                edit.setText(str(values[key]))
        self.save_button.setEnabled(True)

    def save(self) -> None:
        def refused(exc: Exception) -> None:
            if isinstance(exc, ValidationError):
                self.form.show_errors(exc.errors)
                self.status.setText("未保存：请按红色提示修改")
            else:
                self.status.setText(error_text(exc))

        def saved(values: dict[str, Any]) -> None:
            self.form.clear_errors()
            self._show(values)
            self.status.setText("已保存")

        ops.save_parameters(self, self.clinic, self.actor, {k: e.text() for k, e in self.edits.items()}).success(
            saved).failure(refused).run()
