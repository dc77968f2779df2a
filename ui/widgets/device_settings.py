"""A device attached to this PC, as a settings tab: the base of the printer, caller-ID, recording and SMS
channel tabs (``ui/pages/settings.py``, ``ui/dialogs/sms_settings.py``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from meike.errors import ValidationError
from ui.widgets.form import ErrorForm


class DeviceSettings(QWidget):
    """A device attached to this PC: a form saved per workstation, 保存 and a test run off the GUI thread.

    A subclass fills ``self.form``, then calls ``finish(intro, test_text)``; it implements ``store()``
    (save, raising ValidationError) and ``start_test()`` (None when there is nothing to test).
    """

    saved_text = "已保存"

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(f"{name}_settings")
        self.name = name
        self.form = ErrorForm()

    def finish(self, intro: str, test_text: str) -> None:
        self.save_button = QPushButton("保存", objectName=f"{self.name}_save")
        self.test_button = QPushButton(test_text, objectName=f"{self.name}_test")
        self.status = QLabel(objectName=f"{self.name}_status", wordWrap=True)
        self.save_button.clicked.connect(self.save)
        self.test_button.clicked.connect(self.run_test)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(intro, wordWrap=True))
        layout.addLayout(self.form)
        row = QHBoxLayout()
        row.addWidget(self.save_button)
        row.addWidget(self.test_button)
        row.addWidget(self.status, 1)
        layout.addLayout(row)
        layout.addStretch(1)

    def store(self) -> None:
        raise NotImplementedError

    def start_test(self) -> tuple[str, Callable[[], Any], Callable[[Any], str], Callable[[Exception], str]] | None:
        """(message while it runs, the work, text on success, text on failure), or None."""
        raise NotImplementedError

    def save(self) -> bool:
        try:
            self.store()
        except ValidationError as e:
            self.form.show_errors(e.errors)
            self.status.setText("未保存：请按红色提示修改")
            return False
        self.form.clear_errors()
        self.status.setText(self.saved_text)
        return True

    def run_test(self) -> None:
        from ui.tasks import run_in_background

        test = self.start_test()
        if test is None:
            return
        running, work, ok_text, error_text = test
        self.status.setText(running)
        self.test_button.setEnabled(False)

        def done(result: Any) -> None:
            self.test_button.setEnabled(True)
            self.status.setText(ok_text(result))

        def failed(exc: Exception) -> None:
            self.test_button.setEnabled(True)
            self.status.setText(error_text(exc))

        run_in_background(work, done, failed, owner=self)
