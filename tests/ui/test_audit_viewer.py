"""The administrator's 操作日志 tab: filter by kind, check the chain off the GUI thread, export to Excel."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import load_workbook
from PySide6.QtCore import Qt

from meike.db import Clinic
from meike.errors import LoginFailed
from meike.services import accounts
from tests.ui.waiting import settle
from ui.account_manager import AccountManager

pytestmark = pytest.mark.gui


def test_filter_verify_and_export(qtbot, demo_clinic: Clinic, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(LoginFailed):
        accounts.authenticate(demo_clinic, "sy", "not-her-password")
    accounts.authenticate(demo_clinic, "sy", "123")
    admin = accounts.authenticate(demo_clinic, "admin", "admin")
    manager = AccountManager(demo_clinic, admin)
    qtbot.addWidget(manager)
    manager.show()
    viewer = manager.audit_viewer
    viewer.category.setCurrentIndex(viewer.category.findText("登录"))  # reloads
    settle()
    labels = {viewer.table.item(r, 3).text() for r in range(viewer.table.rowCount())}
    assert labels == {"登录", "登录失败"}
    assert viewer.status.text().startswith(f"共 {viewer.table.rowCount()} 条")
    viewer.username.setText("sy")
    qtbot.keyClick(viewer.username, Qt.Key.Key_Return)
    settle()
    assert [viewer.table.item(r, 3).text() for r in range(viewer.table.rowCount())] == ["登录", "登录失败"]

    qtbot.mouseClick(viewer.verify_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: viewer.verify_button.isEnabled(), timeout=5000)
    assert viewer.status.text().startswith("校验通过：") and "没有被修改、删除或插入" in viewer.status.text()

    path = tmp_path / "log.xlsx"
    viewer.export(path)
    settle()
    assert viewer.exported == 2
    rows = list(load_workbook(path).active.iter_rows(values_only=True))
    assert [r[2] for r in rows[1:]] == ["sy", "sy"]
    assert viewer.status.text() == f"已导出 2 条到 {path}"
    viewer.username.clear()
    viewer.category.setCurrentIndex(viewer.category.findText("导出"))
    settle()
    assert viewer.table.item(0, 3).text() == "导出操作日志" and viewer.table.item(0, 2).text() == "admin"
