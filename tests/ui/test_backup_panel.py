"""数据备份 on the settings page (settings, 立即备份, what a backup holds) and 恢复 in the administrator's
window (the current data is backed up first, then the program closes)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from meike import backup
from meike.db import Clinic
from meike.services import accounts, customers
from ui.account_manager import AccountManager
from ui.pages.settings import SettingsPage
from ui.widgets import messages

pytestmark = [pytest.mark.gui, pytest.mark.sqlite_only]


def test_settings_backup_now_and_what_a_backup_holds(qtbot, demo_clinic: Clinic) -> None:  # type: ignore[no-untyped-def]
    gl = accounts.authenticate(demo_clinic, "gl", "123")
    page = SettingsPage(demo_clinic, gl)
    qtbot.addWidget(page)
    page.show()
    panel = page.backups
    assert panel.table.rowCount() == 0 and "还没有备份" in panel.summary.text()
    panel.folder.setText("相对路径")
    qtbot.mouseClick(panel.save_button, Qt.MouseButton.LeftButton)
    assert "完整路径" in panel.form.error_text("backup_folder")
    panel.folder.clear()
    panel.daily.setValue(7)
    qtbot.mouseClick(panel.save_button, Qt.MouseButton.LeftButton)
    assert panel.status.text() == "备份设置已保存" and backup.load_settings(demo_clinic).daily == 7
    qtbot.mouseClick(panel.backup_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.table.rowCount() == 1, timeout=10_000)
    assert panel.status.text().startswith("备份完成并已校验：")
    panel.table.selectRow(0)
    assert "顾客 120" in panel.summary.text() and panel.infos[0].kind == "manual"
    assert panel.restore_button.isHidden()  # restoring is the administrator's


def test_the_administrator_restores_and_the_program_closes(qtbot, demo_clinic: Clinic,  # type: ignore[no-untyped-def]
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    gl = accounts.authenticate(demo_clinic, "gl", "123")
    taken = backup.manual_backup(demo_clinic, gl)
    customers.register_customer(demo_clinic, gl, name="备份之后", mobile="13877778888")
    admin = accounts.authenticate(demo_clinic, "admin", "admin")
    manager = AccountManager(demo_clinic, admin)
    qtbot.addWidget(manager)
    manager.show()
    panel = manager.backup_panel
    assert not panel.restore_button.isHidden() and panel.backup_button.isHidden()
    qtbot.mouseClick(panel.restore_button, Qt.MouseButton.LeftButton)
    assert panel.status.text() == "请先在列表中选择一个备份"
    panel.table.selectRow(next(r for r, i in enumerate(panel.infos) if i.path == taken.path))
    monkeypatch.setattr(messages, "ask", lambda *_a: True)
    shown: list[str] = []
    monkeypatch.setattr(messages, "info", lambda _parent, text, *_a: shown.append(text))
    with qtbot.waitSignal(manager.closed) as closed:
        qtbot.mouseClick(panel.restore_button, Qt.MouseButton.LeftButton)
    assert closed.args == [False] and "程序将关闭" in shown[0]
    assert customers.search_customers(demo_clinic, gl, text="13877778888") == []
    assert any(i.kind == "before-restore" for i in backup.list_backups(taken.path.parent))
