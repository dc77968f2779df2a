"""The login dialog: user name, password, one message for every failure (the user name is kept).

The password is checked off the GUI thread (argon2 is slow on purpose): the dialog is busy meanwhile and
the window keeps painting."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from meike.db import Clinic
from meike.errors import LoginFailed
from meike.permissions import Actor
from meike.services import accounts
from ui.operations import shell as ops
from ui.tasks import error_text
from ui.widgets.form import ERROR_STYLE


class LoginDialog(QDialog):
    def __init__(self, clinic: Clinic, clinic_name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.clinic = clinic
        self.actor: Actor | None = None
        self.setObjectName("login_dialog")
        self.setWindowTitle(f"美客 — {clinic_name}" if clinic_name else "美客")
        self.setMinimumWidth(360)

        title = QLabel(f"<h2>{clinic_name or '美客'}</h2><p>顾客管理系统 · 请登录</p>")
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.user = QLineEdit(objectName="login_user", placeholderText="用户名")
        self.user.setMaxLength(accounts.MAX_TYPED_NAME)  # the service cuts a longer name anyway
        self.password = QLineEdit(objectName="login_password", placeholderText="密码")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.error = QLabel(objectName="login_error")
        self.error.setStyleSheet(ERROR_STYLE)
        self.error.setWordWrap(True)
        self.submit = QPushButton("登录", objectName="login_submit")
        self.submit.setDefault(True)
        cancel = QPushButton("退出", objectName="login_cancel")

        form = QFormLayout()
        form.addRow("用户名", self.user)
        form.addRow("密码", self.password)
        buttons = QDialogButtonBox()
        buttons.addButton(self.submit, QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton(cancel, QDialogButtonBox.ButtonRole.RejectRole)
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(buttons)

        self.submit.clicked.connect(self.try_login)
        cancel.clicked.connect(self.reject)
        self.password.returnPressed.connect(self.try_login)
        self.user.returnPressed.connect(self.password.setFocus)

    def try_login(self) -> None:
        username = self.user.text().strip()
        if not username:
            self.error.setText("请输入用户名")
            self.user.setFocus()
            return
        if not self.submit.isEnabled():  # a check is already under way (Enter pressed twice)
            return
        ops.login(self, self.clinic, username, self.password.text()).success(self._logged_in).failure(
            self._refused).busy(self.submit, self.user, self.password).run()

    def _logged_in(self, actor: Actor) -> None:
        self.actor = actor
        self.error.clear()
        self.accept()

    def _refused(self, error: Exception) -> None:
        self.error.setText(error.message if isinstance(error, LoginFailed) else error_text(error))
        self.password.clear()
        self.password.setFocus()
