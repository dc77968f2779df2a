"""A device attached to this PC, as a settings tab: the base of the printer, caller-ID, recording and SMS
channel tabs (``ui/settings/``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from meike.errors import ValidationError
from ui.operations import Op
from ui.tasks import error_text
from ui.widgets.form import ErrorForm

Test = tuple[str, Op[Any], Callable[[Any], str]]  # (message while it runs, the test, text on success)


class DeviceSettings(QWidget):
    """A device attached to this PC: a form, 保存 and a test, each an Op (the window never waits).

    A subclass fills ``self.form``, then calls ``finish(intro, test_text)``; it implements ``store()``
    (the save as an Op, refusing with ValidationError) and ``start_test()`` (None: nothing to test).
    A test saves first and runs only when the save succeeded (unless ``SAVE_BEFORE_TEST`` is False).
    """

    saved_text = "已保存"
    SAVE_BEFORE_TEST = True  # a test of what is saved (False: of what is typed, nothing saved)

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(f"{name}_settings")
        self.name = name
        self.form = ErrorForm()

    def finish(self, intro: str, test_text: str) -> None:
        self.save_button = QPushButton("保存", objectName=f"{self.name}_save")
        self.test_button = QPushButton(test_text, objectName=f"{self.name}_test")
        self.status = QLabel(objectName=f"{self.name}_status", wordWrap=True)
        self.save_button.clicked.connect(lambda: self.save())
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

    def store(self) -> Op[Any]:
        raise NotImplementedError

    def stored(self, result: Any) -> None:
        """The save succeeded (a subclass may show what was saved)."""

    def start_test(self) -> Test | None:
        """(message while it runs, the test's Op, text on success), or None."""
        raise NotImplementedError

    def save(self, then: Callable[[], None] | None = None) -> None:
        """Save; on success say so and run ``then``; on a refusal the errors beside the fields."""

        def saved(result: Any) -> None:
            self.form.clear_errors()
            self.status.setText(self.saved_text)
            self.stored(result)
            if then is not None:
                then()

        def refused(exc: Exception) -> None:
            if isinstance(exc, ValidationError):
                self.form.show_errors(exc.errors)
                self.status.setText("未保存：请按红色提示修改")
            else:
                self.status.setText(error_text(exc))

        self.store().success(saved).failure(refused).busy(self.save_button, self.test_button).run()

    def run_test(self) -> None:
        if self.SAVE_BEFORE_TEST:
            self.status.setText("正在保存…")  # the last answer is gone at once
            self.save(then=self._test)
        else:
            self._test()

    def _test(self) -> None:
        test = self.start_test()
        if test is None:
            return
        running, op, ok_text = test
        self.status.setText(running)
        op.success(lambda result: self.status.setText(ok_text(result))).failure(
            lambda exc: self.status.setText(error_text(exc))).busy(self.test_button, self.save_button).run()
