"""系统管理: dictionaries edited through right-click menus and the entry dialog."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from meike.db import Clinic
from meike.permissions import Actor
from meike.services import accounts, dictionaries, system
from meike.services.dictionaries import Kind
from tests.ui.waiting import settle
from ui.settings import SettingsPage
from ui.widgets import messages

pytestmark = pytest.mark.gui


@pytest.fixture
def page(qtbot, demo_clinic: Clinic, gl: Actor) -> SettingsPage:  # type: ignore[no-untyped-def]
    widget = SettingsPage(demo_clinic, gl)
    qtbot.addWidget(widget)
    widget.show()
    settle()
    return widget


def menu_actions(table, row: int) -> list[str]:  # type: ignore[no-untyped-def]
    return [a.objectName() for a in table.build_menu(row).actions() if not a.isSeparator()]


def test_right_click_menu_offers_add_edit_disable_delete(page: SettingsPage) -> None:
    items = page.tables[Kind.ITEM]
    assert menu_actions(items, -1) == ["dict_add"]
    row = items.row_of("双眼皮")
    assert menu_actions(items, row) == ["dict_add", "dict_edit", "dict_toggle", "dict_delete"]
    assert items.act_toggle.text() == "停用"
    assert items.current_row() == row


def test_add_item_with_generated_pinyin(qtbot, page: SettingsPage, demo_clinic: Clinic, gl: Actor) -> None:  # type: ignore[no-untyped-def]
    items = page.tables[Kind.ITEM]
    items.build_menu(-1)
    items.act_add.trigger()
    dialog = items.dialog
    assert dialog is not None and dialog.isVisible()
    settle()  # the pickers filled
    dialog.name.setText("面部提升")
    dialog._name_edited("面部提升")  # what typing in the name box does
    assert dialog.pinyin.text() == "mbts"
    qtbot.keyClicks(dialog.price, "26800")
    qtbot.keyClicks(dialog.min_price, "19800.50")
    dialog.department.setCurrentIndex(dialog.department.findText("整形外科"))
    qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
    settle()
    assert not dialog.isVisible()
    row = items.row_of("面部提升")
    assert items.model.item(row, 2).text() == "￥26,800.00"
    assert items.model.item(row, 3).text() == "￥19,800.50"
    saved = next(e for e in dictionaries.list_entries(demo_clinic, gl, Kind.ITEM) if e.name == "面部提升")
    assert saved.fields["price_fen"] == 2_680_000 and saved.fields["min_price_fen"] == 1_980_050
    assert saved.fields["pinyin_code"] == "mbts" and saved.fields["department_name"] == "整形外科"


def test_bad_prices_are_refused_next_to_the_field_and_nothing_is_lost(
    qtbot, page: SettingsPage, demo_clinic: Clinic, gl: Actor  # type: ignore[no-untyped-def]
) -> None:
    items = page.tables[Kind.ITEM]
    before = len(dictionaries.list_entries(demo_clinic, gl, Kind.ITEM, include_inactive=True))
    dialog = items.add()
    settle()
    dialog.name.setText("双眼皮")  # duplicate
    qtbot.keyClicks(dialog.price, "-5")
    qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
    assert dialog.isVisible()
    assert dialog.form.error_text("price_fen") == "金额不能为负数"  # refused as typed, before the service
    dialog.price.setText("10,00")  # never ￥1,000.00
    qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
    assert dialog.form.error_text("price_fen").startswith("金额格式不正确：“10,00”中的逗号位置不对")
    dialog.price.setText("1000")
    qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
    settle()
    assert dialog.form.error_text("name") == "项目“双眼皮”已存在"
    dialog.name.setText("新项目")
    dialog.price.setText("1000")
    dialog.min_price.setText("1200")
    qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
    settle()
    assert dialog.form.error_text("min_price_fen") == "最低价不能高于单价"
    assert dialog.name.text() == "新项目" and dialog.min_price.text() == "1200"
    dialog.price.setText("12.345")
    qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
    assert dialog.form.error_text("price_fen") == "金额最多保留两位小数"
    assert len(dictionaries.list_entries(demo_clinic, gl, Kind.ITEM, include_inactive=True)) == before


def test_edit_price_is_audited(qtbot, page: SettingsPage, demo_clinic: Clinic) -> None:  # type: ignore[no-untyped-def]
    items = page.tables[Kind.ITEM]
    items.build_menu(items.row_of("水光针"))
    items.act_edit.trigger()
    dialog = items.dialog
    settle()
    assert dialog.price.text() == "1280.00"
    dialog.price.setText("1380")
    qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
    settle()
    assert items.model.item(items.row_of("水光针"), 2).text() == "￥1,380.00"
    admin = accounts.authenticate(demo_clinic, "admin", "admin")
    from meike.services import audit

    change = next(e for e in audit.recent(demo_clinic, admin, entity="item"))
    assert change.action == "item.price_change" and change.username == "gl"
    assert (change.before["price_fen"], change.after["price_fen"]) == (128000, 138000)


def test_used_channel_is_disabled_not_deleted(qtbot, page: SettingsPage, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(messages, "ask", lambda *a: True)
    channels = page.tables[Kind.CHANNEL]
    row = channels.row_of("百度")  # demo customers came through 百度
    channels.build_menu(row)
    channels.act_delete.trigger()
    settle()
    assert channels.status.text() == "“百度”已被使用，不能删除，只能停用"
    assert "百度" in [e.name for e in channels.entries]
    channels.build_menu(channels.row_of("百度"))
    channels.act_toggle.trigger()
    settle()
    assert "百度" not in [e.name for e in channels.entries]
    channels.show_inactive.setChecked(True)
    settle()
    row = channels.row_of("百度")
    assert channels.model.item(row, 1).text() == "已停用"
    channels.build_menu(row)
    assert channels.act_toggle.text() == "启用"


def test_unused_entry_can_be_deleted(qtbot, page: SettingsPage, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(messages, "ask", lambda *a: True)
    sources = page.tables[Kind.INFO_SOURCE]
    dialog = sources.add()
    dialog.name.setText("电梯广告")
    qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
    settle()
    sources.build_menu(sources.row_of("电梯广告"))
    sources.act_delete.trigger()
    settle()
    assert "电梯广告" not in [e.name for e in sources.entries]


def test_staff_with_roles_and_member_level_discount(qtbot, page: SettingsPage) -> None:  # type: ignore[no-untyped-def]
    staff = page.tables[Kind.STAFF]
    dialog = staff.add()
    settle()
    dialog.name.setText("钱医生")
    dialog.role_boxes["doctor"].setChecked(True)
    dialog.role_boxes["onsite_consultant"].setChecked(True)
    qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
    settle()
    assert staff.model.item(staff.row_of("钱医生"), 2).text() == "现场咨询、医生"

    levels = page.tables[Kind.MEMBER_LEVEL]
    dialog = levels.add()
    dialog.name.setText("至尊会员")
    dialog.discount.setText("0")
    qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
    settle()
    assert "折扣应在" in dialog.form.error_text("discount_permille")
    dialog.discount.setText("88.5")
    qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
    settle()
    assert levels.model.item(levels.row_of("至尊会员"), 1).text() == "88.5%"


def test_system_parameters_validate_and_save(qtbot, page: SettingsPage, demo_clinic: Clinic) -> None:  # type: ignore[no-untyped-def]
    params = page.parameters
    params.edits["login.max_failures"].setText("abc")
    params.edits["followup.postop_days"].setText("15,2,7,30")
    qtbot.mouseClick(params.save_button, Qt.MouseButton.LeftButton)
    settle()
    assert params.form.error_text("login.max_failures") == "连续输错密码几次后延迟登录必须是整数"
    assert system.get(demo_clinic, "followup.postop_days") == "2,7,15"
    params.edits["login.max_failures"].setText("3")
    qtbot.mouseClick(params.save_button, Qt.MouseButton.LeftButton)
    settle()
    assert params.status.text() == "已保存"
    assert system.get(demo_clinic, "login.max_failures") == 3
    assert params.edits["followup.postop_days"].text() == "2,7,15,30"


def test_a_dictionary_through_the_list_menu_add_edit_disable_delete(qtbot, page: SettingsPage,  # type: ignore[no-untyped-def]
                                                                      demo_clinic: Clinic, gl: Actor,
                                                                      monkeypatch) -> None:
    """The shared list-with-menu tab (``ui/widgets/list_tab.py``) as a dictionary uses it; Enter opens a row."""
    monkeypatch.setattr(messages, "ask", lambda *a: True)
    departments = page.tables[Kind.DEPARTMENT]
    departments.build_menu(-1)
    departments.act_add.trigger()
    dialog = departments.dialog
    assert dialog is not None and dialog.isVisible()
    dialog.name.setText("激光中心")
    qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
    settle()
    assert not dialog.isVisible() and departments.status.text() == "已保存“激光中心”"
    row = departments.row_of("激光中心")
    assert departments.current_row() == row
    departments.view.setFocus()
    qtbot.keyClick(departments.view, Qt.Key.Key_Return)  # Enter opens the selected row
    dialog = departments.dialog
    assert dialog is not None and dialog.isVisible() and dialog.name.text() == "激光中心"
    dialog.reject()
    departments.build_menu(row)
    departments.act_edit.trigger()
    dialog = departments.dialog
    dialog.name.setText("激光美容中心")
    qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
    settle()
    row = departments.row_of("激光美容中心")
    assert departments.model.item(row, 0).text() == "激光美容中心"
    departments.build_menu(row)
    assert departments.act_toggle.text() == "停用"
    departments.act_toggle.trigger()
    settle()
    assert "激光美容中心" not in [e.name for e in departments.entries]
    assert departments.status.text() == "已停用“激光美容中心”"
    departments.show_inactive.setChecked(True)
    settle()
    row = departments.row_of("激光美容中心")
    assert departments.model.item(row, 1).text() == "已停用"
    departments.build_menu(row)
    departments.act_delete.trigger()
    settle()
    assert "激光美容中心" not in [e.name for e in departments.entries]
    assert departments.status.text() == "已删除“激光美容中心”"
    names = [e.name for e in dictionaries.list_entries(demo_clinic, gl, Kind.DEPARTMENT, include_inactive=True)]
    assert "激光美容中心" not in names and "激光中心" not in names
