"""关于 美客: the version, where the clinic's data and the log are, the licences."""

from __future__ import annotations

import platform

from PySide6 import __version__ as pyside_version
from PySide6.QtWidgets import QMessageBox, QWidget

import meike
from meike import logs, paths


def about_text() -> str:
    log_file = logs.log_file() or paths.log_dir() / logs.LOG_FILE
    return (f"<h3>美客 顾客管理系统</h3><p>版本 {meike.__version__}</p>"
            "<p>医疗美容门诊的挂号、分诊、咨询、回访、收费与电话管理。</p>"
            f"<p>数据文件夹：{paths.data_dir()}<br>日志：{log_file}</p>"
            f"<p style='color:#7a8794'>Python {platform.python_version()}，Qt {pyside_version}（LGPL v3）。"
            "所用开源软件及其许可证见安装目录的 THIRD-PARTY-NOTICES.txt。</p>")


def show_about(parent: QWidget | None) -> None:
    box = QMessageBox(parent)
    box.setObjectName("about_dialog")
    box.setWindowTitle("关于 美客")
    box.setIconPixmap(parent.windowIcon().pixmap(64, 64) if parent is not None else box.iconPixmap())
    box.setText(about_text())
    box.setStandardButtons(QMessageBox.StandardButton.Ok)
    box.open()
