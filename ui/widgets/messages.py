"""Message boxes in one place (tests replace ``ask`` to answer without a modal loop)."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox, QWidget


def ask(parent: QWidget | None, title: str, text: str) -> bool:
    answer = QMessageBox.question(parent, title, text,
                                  QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                  QMessageBox.StandardButton.No)
    return answer == QMessageBox.StandardButton.Yes


def error(parent: QWidget | None, text: str, title: str = "无法完成") -> None:
    QMessageBox.warning(parent, title, text)


def info(parent: QWidget | None, text: str, title: str = "完成") -> None:
    QMessageBox.information(parent, title, text)
