"""A form dialog whose save is an operation (``ui/operations``): busy while it runs, closed when it
succeeds, and, when it is refused, the messages next to the fields with everything typed kept."""

from __future__ import annotations

from typing import Any

from meike.errors import MeikeError, ValidationError
from ui.operations import Op
from ui.tasks import error_text
from ui.widgets.form_dialog import FormDialog


class OpFormDialog(FormDialog):
    """Subclasses implement ``operation()`` (raise ``ValidationError`` for what the form itself refuses)
    and may override ``saved(result)``."""

    def operation(self) -> Op[Any]:
        raise NotImplementedError

    def saved(self, result: Any) -> None:
        """The operation's answer, before the dialog closes."""

    def submit(self) -> None:
        self.message.clear()
        self.form.clear_errors()
        try:
            op = self.operation()
        except ValidationError as e:
            self.refused(e)
            return
        op.success(self._succeeded).failure(self.refused).run()

    def _succeeded(self, result: Any) -> None:
        self.saved(result)
        self.accept()

    def refused(self, error: Exception) -> None:
        if isinstance(error, ValidationError):
            self.message.setText("；".join(self.form.show_errors(error.errors)))
        elif isinstance(error, MeikeError):
            self.message.setText(error.message)
        else:
            self.message.setText(error_text(error))
