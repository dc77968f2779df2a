"""A form whose fields show their error message right beside them (in red, in Chinese)."""

from __future__ import annotations

from PySide6.QtWidgets import QFormLayout, QHBoxLayout, QLabel, QWidget

ERROR_STYLE = "color: #c0392b;"


class ErrorForm(QFormLayout):
    """QFormLayout with one error label per field, named ``<field>_error``."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._errors: dict[str, QLabel] = {}
        self.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)

    def add_field(self, key: str, label: str, widget: QWidget, *, required: bool = False) -> QWidget:
        if not widget.objectName():
            widget.setObjectName(key)
        error = QLabel()
        error.setObjectName(f"{key}_error")
        error.setStyleSheet(ERROR_STYLE)
        error.setWordWrap(True)
        error.hide()
        row = QWidget()
        box = QHBoxLayout(row)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(widget, 3)
        box.addWidget(error, 2)
        self._errors[key] = error
        self.addRow(("* " if required else "") + label, row)
        return widget

    def show_errors(self, errors: dict[str, str]) -> list[str]:
        """Show each message next to its field; returns messages that belong to no field."""
        self.clear_errors()
        unplaced = []
        for key, message in errors.items():
            label = self._errors.get(key)
            if label is None:
                unplaced.append(message)
            else:
                label.setText(message)
                label.show()
        return unplaced

    def clear_errors(self) -> None:
        for label in self._errors.values():
            label.clear()
            label.hide()

    def has_field(self, key: str) -> bool:
        return key in self._errors

    def error_text(self, key: str) -> str:
        label = self._errors.get(key)
        return label.text() if label is not None and not label.isHidden() else ""
