"""本机打印机: the setting is saved for this PC, a wrong address is refused beside the field, and the
test page goes to the printer (a device file here) without blocking the window."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from devices.printer import PrinterSetting
from meike import workstation
from tests.ui.waiting import settle
from ui.settings import PrinterSettings

pytestmark = pytest.mark.gui


def test_printer_setting_saved_and_test_page_printed(qtbot: QtBot, tmp_path: Path) -> None:
    page = PrinterSettings()
    qtbot.addWidget(page)
    page.kind.setCurrentIndex(page.kind.findData("file"))
    page.target.setText("")
    page.save_button.click()
    settle()
    assert page.form.error_text("printer_target") == "请填写打印机地址"
    assert workstation.printer_setting().kind == "none"
    device = tmp_path / "lp0"
    device.write_bytes(b"")
    page.target.setText(str(device))
    page.paper_width.setCurrentIndex(page.paper_width.findData(58))
    page.test_button.click()
    qtbot.waitUntil(lambda: page.status.text() == "测试页已发送，请查看打印机", timeout=5000)
    assert workstation.printer_setting() == PrinterSetting("file", str(device), 58)
    assert "打印测试".encode("gb18030") in device.read_bytes()
    again = PrinterSettings()
    qtbot.addWidget(again)
    assert again.kind.currentData() == "file" and again.paper_width.currentData() == 58
