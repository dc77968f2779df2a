"""The small form dialog every desk uses: fields with errors beside them, 保存 / 取消, a message line.

A subclass adds its fields to ``self.form``, calls ``finish_layout()`` and implements ``save()``;
``submit`` keeps everything typed when ``save`` refuses and closes the dialog when it succeeds.
``OpFormDialog`` is the same dialog whose reads and save are operations, off the GUI thread.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QVBoxLayout, QWidget

from meike.errors import MeikeError, ValidationError
from ui.operations import Op
from ui.tasks import error_text
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


class OpFormDialog(FormDialog):
    """A form dialog whose facts are read, and whose save is an action, off the GUI thread.

    ``load(op, fill)`` reads what the form shows (保存 waits for it when ``wait_for_load``; a failure says
    why in ``failed_text`` and closes the dialog, e.g. the record changed meanwhile). ``operation()``
    returns the ``Op`` that writes (or raises ValidationError for what is wrong in the form itself); while
    it runs the dialog is busy, so a second click cannot do it twice. On success ``result`` holds its
    answer and ``saved(result)`` is told before the dialog closes; on a refusal everything typed stays
    and each error is shown beside its field (``more_errors`` places those outside the form).
    """

    def __init__(self, name: str, title: str, parent: QWidget | None = None, *, ok_text: str = "保存",
                 min_width: int = 480, wait_for_load: bool = False) -> None:
        super().__init__(name, title, parent, ok_text=ok_text, min_width=min_width)
        self.result: object = None  # type: ignore[assignment]  # the answer (QDialog.result() is not used)
        self.failed_text = ""
        if wait_for_load:
            self.ok.setEnabled(False)

    def load(self, op: Op[Any], fill: Callable[[Any], None]) -> None:
        def arrived(facts: Any) -> None:
            fill(facts)
            self.ok.setEnabled(True)

        op.success(arrived).failure(self._load_failed).run()

    def _load_failed(self, error: Exception) -> None:
        self.failed_text = error_text(error)
        self.message.setText(self.failed_text)
        self.reject()

    def operation(self) -> Op[Any]:
        """The action that saves what the form holds (ValidationError for what is wrong in the form)."""
        raise NotImplementedError

    def saved(self, result: Any) -> None:
        """The operation's answer, before the dialog closes."""

    def clear_more(self) -> None:
        """Errors shown outside the form (e.g. a payment's tender rows) are cleared here."""

    def more_errors(self, errors: dict[str, str]) -> dict[str, str]:
        """Show the errors that belong outside the form; return the rest (shown beside the fields)."""
        return errors

    def submit(self) -> None:
        self.message.clear()
        self.form.clear_errors()
        self.clear_more()
        try:
            op = self.operation()
        except ValidationError as e:
            self.refused(e)
            return
        op.success(self._succeeded).failure(self.refused).run()

    def _succeeded(self, result: Any) -> None:
        self.result = result
        self.saved(result)
        self.accept()

    def refused(self, error: Exception) -> None:
        """Keep everything typed; say what is wrong where it is wrong."""
        if isinstance(error, ValidationError):
            self.message.setText("；".join(self.form.show_errors(self.more_errors(error.errors))))
        elif isinstance(error, MeikeError):
            self.message.setText(error.message)
        else:
            self.message.setText(error_text(error))
