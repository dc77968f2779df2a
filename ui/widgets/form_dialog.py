"""The small form dialog every desk uses: fields with errors beside them, 保存 / 取消, a message line.

A subclass adds its fields to ``self.form``, calls ``finish_layout()`` and implements ``save()``;
``submit`` keeps everything typed when ``save`` refuses and closes the dialog when it succeeds.
"""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QVBoxLayout, QWidget

from meike.errors import MeikeError, ValidationError
from ui.widgets.form import ERROR_STYLE, ErrorForm


class FormDialog(QDialog):
    def __init__(self, name: str, title: str, parent: QWidget | None = None, *, ok_text: str = "保存",
                 min_width: int = 480) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self.setWindowTitle(title)
        self.setMinimumWidth(min_width)
        self.form = ErrorForm()
        self.message = QLabel(objectName=f"{name}_message", wordWrap=True)
        self.message.setStyleSheet(ERROR_STYLE)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok.setText(ok_text)
        self.ok.setObjectName(f"{name}_ok")
        cancel = self.buttons.button(QDialogButtonBox.StandardButton.Cancel)
        cancel.setText("取消")
        cancel.setObjectName(f"{name}_cancel")
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)

    def finish_layout(self) -> None:
        layout = QVBoxLayout(self)
        layout.addLayout(self.form)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)

    def save(self) -> None:
        raise NotImplementedError

    def submit(self) -> None:
        """Save; on an error keep everything typed and say what is wrong where it is wrong."""
        self.message.clear()
        self.form.clear_errors()
        try:
            self.save()
        except ValidationError as e:
            self.message.setText("；".join(self.form.show_errors(e.errors)))
            return
        except MeikeError as e:
            self.message.setText(e.message)
            return
        self.accept()
