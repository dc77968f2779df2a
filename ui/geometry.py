"""Window geometry remembered per user on this workstation (QSettings in the config directory)."""

from __future__ import annotations

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QWidget

from meike import paths


def _settings() -> QSettings:
    return QSettings(str(paths.config_dir() / "workstation.ini"), QSettings.Format.IniFormat)


def restore(widget: QWidget, username: str) -> bool:
    data = _settings().value(f"geometry/{username}/{widget.objectName()}")
    if data is None:
        return False
    return bool(widget.restoreGeometry(data))


def save(widget: QWidget, username: str) -> None:
    settings = _settings()
    settings.setValue(f"geometry/{username}/{widget.objectName()}", widget.saveGeometry())
    settings.sync()
