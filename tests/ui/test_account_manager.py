"""The administrator's account manager, driven through its widgets."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication

from meike.db import Clinic
from meike.errors import LoginFailed, PermissionDenied
from meike.permissions import DataScope, Page, Right, page_code, right_code
from meike.services import accounts, audit
from tests.ui.waiting import settle
from ui.account_manager import AccountManager
from ui.dialogs.password import PasswordDialog
from ui.widgets import messages

pytestmark = pytest.mark.gui


@pytest.fixture
def manager(qtbot, demo_clinic: Clinic) -> AccountManager:  # type: ignore[no-untyped-def]
    admin = accounts.authenticate(demo_clinic, "admin", "admin")
    window = AccountManager(demo_clinic, admin, "示范")
    qtbot.addWidget(window)
    window.show()
    settle()  # the accounts are read off the GUI thread
    return window


def click(qtbot, button) -> None:  # type: ignore[no-untyped-def]
    """Click, then wait for the action it started (and the list read after it)."""
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    settle()


def test_create_account_with_pages_scope_and_rights(qtbot, manager: AccountManager) -> None:  # type: ignore[no-untyped-def]
    clinic = manager.clinic
    click(qtbot, manager.btn_new)
    qtbot.keyClicks(manager.username, "cashier2")
    manager.display_name.setText("收银二")
    manager.department.setCurrentIndex(manager.department.findText("收银"))
    manager.scope.setCurrentIndex(manager.scope.findData(DataScope.DEPARTMENT.value))
    for box in manager.page_boxes.values():
        box.setChecked(False)
    manager.page_boxes[page_code(Page.CASHIER)].setChecked(True)
    manager.right_boxes[right_code(Right.REFUND)].setChecked(True)
    qtbot.keyClicks(manager.password, "pay-1234")
    qtbot.keyClicks(manager.confirm, "pay-1234")
    click(qtbot, manager.btn_save)

    assert manager.status.text() == "已新建账号 cashier2"
    assert "cashier2" in [a.username for a in manager.accounts]
    actor = accounts.authenticate(clinic, "cashier2", "pay-1234")
    assert actor.pages == [Page.CASHIER]
    assert actor.has_right(Right.REFUND) and not actor.has_right(Right.VOID)
    assert actor.data_scope is DataScope.DEPARTMENT


def test_bad_input_is_shown_next_to_fields_and_kept(qtbot, manager: AccountManager) -> None:  # type: ignore[no-untyped-def]
    click(qtbot, manager.btn_new)
    qtbot.keyClicks(manager.username, "GL")  # exists as gl (case-insensitive)
    qtbot.keyClicks(manager.password, "123")
    qtbot.keyClicks(manager.confirm, "123")
    before = len(manager.accounts)
    click(qtbot, manager.btn_save)
    assert manager.form.error_text("username") == "用户名“GL”已存在"
    assert manager.form.error_text("password") == "密码至少 6 位"
    assert manager.username.text() == "GL"
    assert len(accounts.list_accounts(manager.clinic, manager.actor)) == before


def test_edit_permissions_is_audited(qtbot, manager: AccountManager) -> None:  # type: ignore[no-untyped-def]
    manager.table.selectRow(manager.row_of("kf"))
    assert manager.username.text() == "kf"
    manager.page_boxes[page_code(Page.CASHIER)].setChecked(True)
    click(qtbot, manager.btn_save)
    kf = accounts.authenticate(manager.clinic, "kf", "123")
    assert kf.can_open(Page.CASHIER)
    entry = next(e for e in audit.recent(manager.clinic, manager.actor, entity="user") if e.action != "login.ok")
    assert entry.action == "user.permissions" and entry.username == "admin"
    assert page_code(Page.CASHIER) not in entry.before["grants"]
    assert page_code(Page.CASHIER) in entry.after["grants"]
    manager.load_audit()
    settle()
    shown = [manager.audit_table.item(r, 3).text() for r in range(manager.audit_table.rowCount())]
    assert "修改权限" in shown


def test_the_right_to_close_the_day_is_shown_and_granted_like_the_others(qtbot, manager: AccountManager) -> None:  # type: ignore[no-untyped-def]
    box = manager.right_boxes[right_code(Right.CLOSE_DAY)]
    assert box.objectName() == "grant_right_close_day" and box.text() == "日结"
    manager.table.selectRow(manager.row_of("sy"))
    assert box.isChecked()  # the demo's cashier holds it
    manager.table.selectRow(manager.row_of("wl"))
    assert not box.isChecked()
    wl = accounts.authenticate(manager.clinic, "wl", "123")
    box.setChecked(True)
    click(qtbot, manager.btn_save)
    assert accounts.authenticate(manager.clinic, "wl", "123").has_right(Right.CLOSE_DAY)
    with pytest.raises(PermissionDenied, match="您的账号权限已变更，请重新登录"):  # wl's earlier login is over
        accounts.change_own_password(manager.clinic, wl, old="123", new="secret-2", confirm="secret-2")


def test_disable_and_enable_account(qtbot, manager: AccountManager) -> None:  # type: ignore[no-untyped-def]
    manager.table.selectRow(manager.row_of("wl"))
    assert manager.btn_active.text() == "停用"
    click(qtbot, manager.btn_active)
    with pytest.raises(LoginFailed, match="^用户名或密码不正确$"):  # the same answer as a wrong password
        accounts.authenticate(manager.clinic, "wl", "123")
    assert manager.table.item(manager.row_of("wl"), 4).text() == "停用"
    assert manager.btn_active.text() == "启用"
    click(qtbot, manager.btn_active)
    assert accounts.authenticate(manager.clinic, "wl", "123").username == "wl"


def test_reset_password_through_dialog(qtbot, manager: AccountManager) -> None:  # type: ignore[no-untyped-def]
    manager.table.selectRow(manager.row_of("sy"))

    def answer() -> None:
        dialog = QApplication.activeModalWidget()
        assert isinstance(dialog, PasswordDialog)
        dialog.password.setText("short")
        dialog.confirm.setText("short")
        dialog.submit()
        settle()
        assert dialog.form.error_text("password") == "密码至少 6 位" and dialog.isVisible()
        dialog.password.setText("new-pass-9")
        dialog.confirm.setText("new-pass-9")
        dialog.submit()
        settle()

    QTimer.singleShot(0, answer)
    click(qtbot, manager.btn_reset)
    assert accounts.authenticate(manager.clinic, "sy", "new-pass-9").username == "sy"
    with pytest.raises(LoginFailed):
        accounts.authenticate(manager.clinic, "sy", "123")


def test_delete_only_accounts_without_records(qtbot, manager: AccountManager, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(messages, "ask", lambda *a: True)
    click(qtbot, manager.btn_new)
    qtbot.keyClicks(manager.username, "typo")
    qtbot.keyClicks(manager.password, "abcdef")
    qtbot.keyClicks(manager.confirm, "abcdef")
    click(qtbot, manager.btn_save)
    click(qtbot, manager.btn_delete)
    assert manager.status.text() == "已删除账号 typo"
    assert "typo" not in [a.username for a in manager.accounts]

    manager.table.selectRow(manager.row_of("gl"))  # gl has logged in and registered customers
    click(qtbot, manager.btn_delete)
    assert manager.status.text() == "该账号已有业务记录，不能删除，请改为停用"
    assert "gl" in [a.username for a in manager.accounts]


def test_administrator_row_cannot_get_pages(qtbot, manager: AccountManager) -> None:  # type: ignore[no-untyped-def]
    manager.table.selectRow(manager.row_of("admin"))
    assert not manager.page_boxes[page_code(Page.DASHBOARD)].isEnabled()
    assert not manager.btn_delete.isEnabled()
    assert not manager.btn_active.isEnabled()  # cannot disable yourself
