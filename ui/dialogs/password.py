"""Set a new password (twice), with the messages next to the fields."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLineEdit, QVBoxLayout, QWidget

from meike.errors import ValidationError
from ui.operations import Op
from ui.tasks import error_text
from ui.widgets import messages
from ui.widgets.form import ErrorForm


class PasswordDialog(QDialog):
    """Asks for a password twice and hands it to ``save``, which returns the operation that stores it
    (``ui/operations``); the dialog is busy while it runs and stays open, with the messages next to the
    fields, while it is refused."""

    def __init__(self, title: str, save: Callable[[str, str], Op[None]], parent: QWidget | None = None,
                 *, with_old: Callable[[str, str, str], Op[None]] | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("password_dialog")
        self.setWindowTitle(title)
        self._save = save
        self._save_with_old = with_old
        self.old = QLineEdit(objectName="old_password")
        self.password = QLineEdit(objectName="new_password")
        self.confirm = QLineEdit(objectName="new_password_confirm")
        for w in (self.old, self.password, self.confirm):
            w.setEchoMode(QLineEdit.EchoMode.Password)
        self.form = ErrorForm()
        if with_old is not None:
            self.form.add_field("old", "原密码", self.old, required=True)
        self.form.add_field("password", "新密码", self.password, required=True)
        self.form.add_field("confirm", "再输入一次", self.confirm, required=True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setObjectName("password_submit")
        buttons.accepted.connect(self.submit)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(self.form)
        layout.addWidget(buttons)

    def submit(self) -> None:
        if self._save_with_old is not None:
            op = self._save_with_old(self.old.text(), self.password.text(), self.confirm.text())
        else:
            op = self._save(self.password.text(), self.confirm.text())
        op.success(lambda _none: self.accept()).failure(self._refused).run()

    def _refused(self, error: Exception) -> None:
        if isinstance(error, ValidationError):
            self.form.show_errors(error.errors)
        else:
            messages.error(self, error_text(error))
