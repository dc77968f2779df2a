"""First run on an empty database: the clinic's name and the administrator's password."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QLineEdit, QVBoxLayout, QWidget

from meike.db import Clinic
from meike.errors import ValidationError
from ui.operations import shell as ops
from ui.tasks import error_text
from ui.widgets import messages
from ui.widgets.form import ErrorForm


class FirstRunDialog(QDialog):
    def __init__(self, clinic: Clinic, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.clinic = clinic
        self.setObjectName("first_run_dialog")
        self.setWindowTitle("美客 — 初次使用")
        self.setMinimumWidth(460)
        self.clinic_name = QLineEdit(objectName="first_run_clinic_name")
        self.admin_password = QLineEdit(objectName="first_run_password")
        self.confirm = QLineEdit(objectName="first_run_confirm")
        for w in (self.admin_password, self.confirm):
            w.setEchoMode(QLineEdit.EchoMode.Password)
        self.form = ErrorForm()
        self.form.add_field("clinic_name", "诊所名称", self.clinic_name, required=True)
        self.form.add_field("password", "管理员 admin 的密码", self.admin_password, required=True)
        self.form.add_field("confirm", "再输入一次", self.confirm, required=True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("创建")
        buttons.button(QDialogButtonBox.StandardButton.Ok).setObjectName("first_run_submit")
        buttons.button(QDialogButtonBox.StandardButton.Cancel).setText("退出")
        buttons.accepted.connect(self.submit)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("这是一个新的数据库。请填写诊所名称，并为管理员账号 admin 设置密码。\n"
                                "管理员只用来管理账号和权限；日常工作请用管理员创建的普通账号。"))
        layout.addLayout(self.form)
        layout.addWidget(buttons)

    def submit(self) -> None:
        ops.setup_clinic(self, self.clinic, self.clinic_name.text(), self.admin_password.text(),
                         self.confirm.text()).success(lambda _none: self.accept()).failure(self._refused).run()

    def _refused(self, error: Exception) -> None:
        if isinstance(error, ValidationError):
            self.form.show_errors(error.errors)
        else:  # a read-only or full disk: said as it is, what was typed stays
            messages.error(self, error_text(error), "无法保存")
