"""操作台: counts from the scheduler, click a card, handle a reminder through the menu, see the count drop."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from PySide6.QtCore import QDate, Qt
from PySide6.QtWidgets import QLabel

from meike import clock
from meike.db import Clinic
from meike.models import Reminder
from meike.permissions import Actor
from meike.services import customers, followups
from tests.ui.waiting import settle
from ui.front_desk.dashboard import DashboardPage
from ui.front_desk.reminders import (
    AddReminderDialog,
    CompleteReminderDialog,
    PostponeReminderDialog,
    ReminderListDialog,
)

pytestmark = pytest.mark.gui
TODAY = clock.now().date()


@pytest.fixture(autouse=True)
def _no_scheduler_thread_outlives_a_test(qtbot) -> Iterator[None]:  # type: ignore[no-untyped-def]
    yield
    qtbot.waitUntil(lambda: not [t for t in threading.enumerate() if t.name == "APScheduler"], timeout=5000)


@pytest.fixture
def page(qtbot, demo_clinic: Clinic, gl: Actor) -> Iterator[DashboardPage]:  # type: ignore[no-untyped-def]
    widget = DashboardPage(demo_clinic, gl)
    qtbot.addWidget(widget)
    widget.resize(1100, 700)
    yield widget
    widget.stop()


def _value(page: DashboardPage, key: str) -> str:
    label = page.findChild(QLabel, f"count_{key}_value")
    assert label is not None
    return label.text()


def _reminders(clinic: Clinic, actor: Actor, n: int, kind: str = "chase") -> list[int]:
    rows = customers.search_customers(clinic, actor, limit=n)
    return [followups.add_reminder(clinic, actor, r.id, kind=kind, due=TODAY, note=f"跟进{i}")
            for i, r in enumerate(rows)]


def test_cards_and_object_names(page: DashboardPage) -> None:
    assert page.objectName() == "page_dashboard"
    for key in ("chase_due", "postop_due", "overdue", "appointments_today", "unpaid_charges", "customers"):
        assert page.findChild(QLabel, f"count_{key}_value") is not None
    assert not page.counter.running  # nothing runs until the page is shown


def test_counts_arrive_and_a_reminder_is_done_through_the_menu(qtbot, page: DashboardPage,  # type: ignore[no-untyped-def]
                                                               demo_clinic: Clinic, gl: Actor) -> None:
    _reminders(demo_clinic, gl, 2)
    page.show()
    qtbot.waitUntil(lambda: _value(page, "chase_due") == "2", timeout=5000)
    assert _value(page, "postop_due") == "0" and _value(page, "overdue") == "0"
    qtbot.waitUntil(lambda: _value(page, "customers") == "120", timeout=5000)

    qtbot.mouseClick(page.cards["chase_due"], Qt.MouseButton.LeftButton)
    settle()
    dialog = page.dialog
    assert isinstance(dialog, ReminderListDialog) and dialog.isVisible()
    assert dialog.objectName() == "reminder_list_dialog"
    assert dialog.table.objectName() == "reminder_table" and dialog.table.rowCount() == 2
    assert dialog.table.item(0, 2).text() == "追单" and dialog.table.item(0, 3).text() == f"{TODAY:%Y-%m-%d}"
    assert dialog.table.item(0, 4).text() == "总台"

    menu = dialog.build_menu(0)
    names = [a.objectName() for a in menu.actions() if not a.isSeparator()]
    assert names[:3] == ["reminder_done", "reminder_postpone", "reminder_add_next"]
    assert all(a.isEnabled() for a in menu.actions())
    first = dialog.rows[0]
    next(a for a in menu.actions() if a.objectName() == "reminder_done").trigger()
    settle()
    done = dialog.sub_dialog
    assert isinstance(done, CompleteReminderDialog) and done.isVisible()

    qtbot.mouseClick(done.ok, Qt.MouseButton.LeftButton)  # no result yet: refused, error beside the field
    settle()
    assert done.isVisible() and done.form.error_text("result") == "请填写回访结果"
    done.result_edit.setPlainText("已电话联系，下周到院面诊")  # QTest cannot type Hanzi
    qtbot.mouseClick(done.ok, Qt.MouseButton.LeftButton)
    settle()
    assert not done.isVisible()

    assert dialog.table.rowCount() == 1 and dialog.rows[0].id != first.id
    qtbot.waitUntil(lambda: _value(page, "chase_due") == "1", timeout=5000)
    with demo_clinic.read() as s:
        reminder = s.get(Reminder, first.id)
        assert reminder is not None and (reminder.status, reminder.result) == ("done", "已电话联系，下周到院面诊")


def test_done_with_a_next_reminder_postpone_and_add(qtbot, page: DashboardPage,  # type: ignore[no-untyped-def]
                                                    demo_clinic: Clinic, gl: Actor) -> None:
    first, second = _reminders(demo_clinic, gl, 2, kind="postop")
    page.show()
    qtbot.waitUntil(lambda: _value(page, "postop_due") == "2", timeout=5000)
    dialog = page.open_list("postop_due")
    settle()
    assert dialog is not None and dialog.windowTitle() == "术后回访提醒"

    dialog.build_menu(dialog.row_of(first))
    done = dialog.mark_done()
    assert isinstance(done, CompleteReminderDialog)
    assert not done.next_due.isEnabled()
    done.result_edit.setPlainText("恢复良好")
    done.next_enabled.setChecked(True)
    done.next_due.setDate(QDate(TODAY.year, TODAY.month, TODAY.day).addDays(5))
    qtbot.mouseClick(done.ok, Qt.MouseButton.LeftButton)
    settle()
    assert not done.isVisible() and done.next_id is not None
    with demo_clinic.read() as s:
        nxt = s.get(Reminder, done.next_id)
        assert nxt is not None and (nxt.kind, nxt.due_date) == ("postop", TODAY + timedelta(days=5))

    assert [r.id for r in dialog.rows] == [second]
    dialog.build_menu(0)
    dialog.postpone_action.trigger()
    settle()
    later = dialog.sub_dialog
    assert isinstance(later, PostponeReminderDialog)
    assert later.due.minimumDate() == QDate(TODAY.year, TODAY.month, TODAY.day)  # no date before today
    later.due.setDate(QDate(TODAY.year, TODAY.month, TODAY.day).addDays(2))
    qtbot.mouseClick(later.ok, Qt.MouseButton.LeftButton)
    settle()
    assert not later.isVisible() and dialog.table.rowCount() == 0
    qtbot.waitUntil(lambda: _value(page, "postop_due") == "0", timeout=5000)

    dialog.reload()
    settle()
    assert "暂无到期提醒" in dialog.summary.text()
    assert dialog.build_menu(-1).actions()[0].isEnabled() is False


def test_add_next_reminder_for_the_customer(qtbot, page: DashboardPage,  # type: ignore[no-untyped-def]
                                            demo_clinic: Clinic, gl: Actor) -> None:
    (rid,) = _reminders(demo_clinic, gl, 1)
    page.show()
    qtbot.waitUntil(lambda: _value(page, "chase_due") == "1", timeout=5000)
    dialog = page.open_list("chase_due")
    settle()
    assert dialog is not None
    dialog.build_menu(0)
    dialog.add_next_action.trigger()
    settle()
    add = dialog.sub_dialog
    assert isinstance(add, AddReminderDialog)
    assert add.assignee.currentData() == gl.user_id
    add.kind.setCurrentIndex(add.kind.findData("postop"))
    add.due.setDate(QDate(TODAY.year, TODAY.month, TODAY.day))
    add.note.setText("术后第2天回访")
    qtbot.mouseClick(add.ok, Qt.MouseButton.LeftButton)
    settle()
    assert not add.isVisible() and add.new_id is not None
    qtbot.waitUntil(lambda: _value(page, "postop_due") == "1", timeout=5000)
    assert _value(page, "chase_due") == "1"  # the chase reminder itself is still open
    customer_id = dialog.rows[0].customer_id
    assert {r.id for r in followups.list_for_customer(demo_clinic, gl, customer_id)} == {rid, add.new_id}


def test_double_click_emits_open_customer(qtbot, page: DashboardPage,  # type: ignore[no-untyped-def]
                                          demo_clinic: Clinic, gl: Actor) -> None:
    _reminders(demo_clinic, gl, 1)
    page.show()
    received: list[int] = []
    page.open_customer.connect(received.append)
    dialog = page.open_list("chase_due")
    settle()
    assert dialog is not None
    with qtbot.waitSignal(dialog.open_customer, timeout=1000) as blocker:
        rect = dialog.table.visualItemRect(dialog.table.item(0, 0))
        # a view only honours a double click on the index it saw pressed (QTest sends no press first)
        qtbot.mouseClick(dialog.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        qtbot.mouseDClick(dialog.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert blocker.args == [dialog.rows[0].customer_id] and received == blocker.args


def test_overdue_card_lists_only_overdue(qtbot, page: DashboardPage,  # type: ignore[no-untyped-def]
                                         demo_clinic: Clinic, gl: Actor) -> None:
    rows = customers.search_customers(demo_clinic, gl, limit=2)
    with demo_clinic.write() as s:  # a reminder a consultation set last week and nobody handled
        followups.add_in(s, gl, customer_id=rows[0].id, kind="postop", due=TODAY - timedelta(days=3),
                         assignee_id=None)
    followups.add_reminder(demo_clinic, gl, rows[1].id, kind="chase", due=TODAY)
    page.show()
    qtbot.waitUntil(lambda: _value(page, "overdue") == "1", timeout=5000)
    qtbot.mouseClick(page.cards["overdue"], Qt.MouseButton.LeftButton)
    settle()
    dialog = page.dialog
    assert dialog is not None and dialog.table.rowCount() == 1
    assert dialog.table.item(0, 3).foreground().color().name() == "#c0392b"


def test_hide_stops_and_show_restarts_the_scheduler(qtbot, page: DashboardPage,  # type: ignore[no-untyped-def]
                                                    demo_clinic: Clinic, gl: Actor) -> None:
    page.show()
    qtbot.waitUntil(lambda: _value(page, "chase_due") == "0", timeout=5000)
    page.hide()
    assert not page.counter.running
    _reminders(demo_clinic, gl, 1)
    page.show()
    assert page.counter.running
    qtbot.waitUntil(lambda: _value(page, "chase_due") == "1", timeout=5000)
    page.refresh()
    page.stop()
    assert not page.counter.running


def test_destroying_the_page_stops_its_scheduler(qtbot, demo_clinic: Clinic, gl: Actor) -> None:  # type: ignore[no-untyped-def]
    page = DashboardPage(demo_clinic, gl)
    page.refresh()  # running without being shown
    counter = page.counter
    assert counter.running
    page.deleteLater()
    qtbot.waitUntil(lambda: not counter.running, timeout=3000)
