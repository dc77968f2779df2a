"""数据备份 on the settings page (settings, 立即备份, what a backup holds: with the right 数据备份 only) and
备份与恢复 in the administrator's window (settings, 立即备份, 恢复: the confirmation lists what will be lost,
the current data is backed up first, then the program closes)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel
from sqlalchemy import select

from meike import backup
from meike.db import Clinic
from meike.models import Item, PaymentMethod
from meike.permissions import Page, page_code
from meike.services import accounts, cashier, customers
from meike.services.cashier import LineSpec, Tender
from tests.ui.waiting import settle
from ui.account_manager import AccountManager
from ui.settings import SettingsPage
from ui.widgets import messages

pytestmark = [pytest.mark.gui, pytest.mark.sqlite_only]


def test_settings_backup_now_and_what_a_backup_holds(qtbot, demo_clinic: Clinic) -> None:  # type: ignore[no-untyped-def]
    gl = accounts.authenticate(demo_clinic, "gl", "123")
    page = SettingsPage(demo_clinic, gl)
    qtbot.addWidget(page)
    page.show()
    panel = page.backups
    settle()
    assert panel.table.rowCount() == 0 and "还没有备份" in panel.summary.text()
    panel.folder.setText("相对路径")
    qtbot.mouseClick(panel.save_button, Qt.MouseButton.LeftButton)
    settle()
    assert "完整路径" in panel.form.error_text("backup_folder")
    panel.folder.clear()
    panel.daily.setValue(7)
    qtbot.mouseClick(panel.save_button, Qt.MouseButton.LeftButton)
    settle()
    assert panel.status.text() == "备份设置已保存" and backup.load_settings(demo_clinic).daily == 7
    qtbot.mouseClick(panel.backup_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.table.rowCount() == 1, timeout=10_000)
    assert panel.status.text().startswith("备份完成并已校验：")
    panel.table.selectRow(0)
    settle()
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
    settle()
    assert not panel.restore_button.isHidden() and not panel.backup_button.isHidden()  # the administrator's
    qtbot.mouseClick(panel.restore_button, Qt.MouseButton.LeftButton)
    assert panel.status.text() == "请先在列表中选择一个备份"
    panel.table.selectRow(next(r for r, i in enumerate(panel.infos) if i.path == taken.path))
    asked: list[str] = []
    monkeypatch.setattr(messages, "ask", lambda _parent, _title, text: asked.append(text) or True)
    shown: list[str] = []
    monkeypatch.setattr(messages, "info", lambda _parent, text, *_a: shown.append(text))
    with qtbot.waitSignal(manager.closed, timeout=30_000) as closed:
        qtbot.mouseClick(panel.restore_button, Qt.MouseButton.LeftButton)
    assert closed.args == [False] and "程序将关闭" in shown[0]
    assert "新登记的顾客 1 位" in asked[0] and "收据" not in asked[0].split("丢失")[1].split("以及")[0]
    assert customers.search_customers(demo_clinic, gl, text="13877778888") == []
    assert any(i.kind == "before-restore" for i in backup.list_backups(taken.path.parent))


def test_the_restore_confirmation_lists_the_receipts_customers_and_closes_that_will_be_lost(
        qtbot, demo_clinic: Clinic, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    gl = accounts.authenticate(demo_clinic, "gl", "123")
    admin = accounts.authenticate(demo_clinic, "admin", "admin")
    taken = backup.manual_backup(demo_clinic, admin)
    customer = customers.register_customer(demo_clinic, gl, name="备份之后", mobile="13877778888")
    with demo_clinic.read() as s:
        item = s.scalar(select(Item.id).where(Item.is_active.is_(True)).order_by(Item.id).limit(1))
        cash = s.scalar(select(PaymentMethod.id).where(PaymentMethod.kind == "cash"))
        assert item is not None and cash is not None
        price = s.get(Item, item).price_fen  # type: ignore[union-attr]
    order = cashier.open_order(demo_clinic, gl, customer_id=customer, lines=[LineSpec(item)])
    paid = cashier.pay(demo_clinic, gl, order, [Tender(cash, price)], idempotency_key="after-the-backup")
    manager = AccountManager(demo_clinic, admin)
    qtbot.addWidget(manager)
    panel = manager.backup_panel
    settle()
    panel.table.selectRow(next(r for r, i in enumerate(panel.infos) if i.path == taken.path))
    asked: list[str] = []
    monkeypatch.setattr(messages, "ask", lambda _parent, _title, text: asked.append(text) or False)  # 否

    panel.restore()
    settle()
    assert panel.outcome is False

    [text] = asked
    assert f"收据 1 张（{paid.receipt_no}，金额合计 ￥{price // 100:,}.{price % 100:02d}）" in text
    assert "这些收据号以后不会再用" in text and "新登记的顾客 1 位" in text and "恢复前备份" in text
    assert customers.search_customers(demo_clinic, gl, text="13877778888") != []  # nothing was restored


def test_the_settings_page_without_the_backup_right_shows_no_folder_and_no_backup_now(
        qtbot, demo_clinic: Clinic) -> None:  # type: ignore[no-untyped-def]
    """系统管理 without 数据备份 (nor the reveal right) cannot send the whole database to a folder of its choice."""
    admin = accounts.authenticate(demo_clinic, "admin", "admin")
    accounts.create_account(demo_clinic, admin, username="xt", password="secret-1", data_scope="all",
                            department_id=None, staff_id=None, grants={page_code(Page.SETTINGS)})
    xt = accounts.authenticate(demo_clinic, "xt", "secret-1")
    page = SettingsPage(demo_clinic, xt)
    qtbot.addWidget(page)
    page.show()
    panel = page.backups
    page.tabs.setCurrentWidget(panel)
    assert panel.backup_button.isHidden() and panel.save_button.isHidden() and panel.restore_button.isHidden()
    assert panel.findChild(type(panel.table), "backup_table").isVisible()  # the list of backups stays
    note = panel.findChild(QLabel, "backup_rights_note")
    assert note is not None and note.isVisible() and "数据备份" in note.text()
    assert not hasattr(panel, "folder")  # no way to type a folder
