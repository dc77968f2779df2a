"""Message boxes in one place (tests replace ``ask`` to answer without a modal loop)."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QMessageBox, QWidget

# Set by the idle lock on a dialog it hides: hiding a dialog ends its exec() as if it were cancelled.
INTERRUPTED = "meike_hidden_by_lock"
# Set by the main window when it logs the user out by itself (account disabled or changed): it has said
# why; an action of its that is refused for the same reason meanwhile says nothing more.
LOGGING_OUT = "meike_logging_out"


def _logging_out(parent: QWidget | None) -> bool:
    while parent is not None:
        if parent.property(LOGGING_OUT):
            return True
        parent = parent.parentWidget()
    return False


def run(dialog: QDialog) -> int:
    """``dialog.exec()`` that outlasts the idle lock: when the lock hid the dialog (which ends exec()), it
    is run again at once — hidden until the unlock — with what was typed still in it."""
    while True:
        result = dialog.exec()
        if not dialog.property(INTERRUPTED):
            return result
        dialog.setProperty(INTERRUPTED, False)


def ask(parent: QWidget | None, title: str, text: str) -> bool:
    box = QMessageBox(QMessageBox.Icon.Question, title, text,
                      QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, parent)
    box.setDefaultButton(QMessageBox.StandardButton.No)
    return run(box) == QMessageBox.StandardButton.Yes


def error(parent: QWidget | None, text: str, title: str = "无法完成") -> None:
    if not _logging_out(parent):
        QMessageBox.warning(parent, title, text)


def info(parent: QWidget | None, text: str, title: str = "完成") -> None:
    if not _logging_out(parent):
        QMessageBox.information(parent, title, text)
