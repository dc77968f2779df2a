"""挂号中心 and 顾客管理 pages through their widgets."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import QModelIndex, Qt

from meike.db import Clinic
from meike.services import accounts, customers
from tests.ui.waiting import settle
from ui.front_desk.customers import CustomersPage
from ui.front_desk.dashboard import DashboardPage
from ui.front_desk.grid import PAGE_SIZE, CustomerTableModel
from ui.front_desk.registration import RegistrationPage

pytestmark = pytest.mark.gui


def test_register_customer_and_find_them(qtbot, demo_clinic: Clinic) -> None:  # type: ignore[no-untyped-def]
    gl = accounts.authenticate(demo_clinic, "gl", "123")
    page = RegistrationPage(demo_clinic, gl)
    qtbot.addWidget(page)
    settle()  # the form's lists arrive
    page.name.setText("张三丰")
    qtbot.keyClicks(page.mobile, "1380013")
    page.channel.setCurrentIndex(page.channel.findText("抖音"))
    qtbot.mouseClick(page.submit_button, Qt.MouseButton.LeftButton)
    settle()
    assert page.form.error_text("mobile") == "手机号应为 11 位，以 13–19 开头"
    assert page.name.text() == "张三丰" and page.mobile.text() == "1380013"

    qtbot.keyClicks(page.mobile, "8000")
    qtbot.mouseClick(page.submit_button, Qt.MouseButton.LeftButton)
    settle()
    assert page.last_registered_id is not None
    assert page.status.text() == "挂号成功：张三丰（已预约）"
    assert page.name.text() == ""

    listing = CustomersPage(demo_clinic, gl)
    qtbot.addWidget(listing)
    settle()
    listing.search.setText("zsf")
    listing.run_query()
    assert listing.count.text() == "正在计数…"  # the page and the total follow from the background
    settle()
    assert [r.name for r in listing.model.rows] == ["张三丰"]
    qtbot.waitUntil(lambda: listing.model.total == 1)
    assert listing.model.rows[0].id == page.last_registered_id
    assert listing.model.rows[0].channel == "抖音"
    assert listing.count.text() == "共 1 位顾客"

    # The same mobile again: refused, the existing customer named.
    page.name.setText("张三")
    page.mobile.setText("138 0013 8000")
    qtbot.mouseClick(page.submit_button, Qt.MouseButton.LeftButton)
    settle()
    assert page.form.error_text("mobile").startswith("手机号已登记：张三丰")


def test_customer_grid_is_lazy_and_well_behaved(qtbot, qtmodeltester, demo_clinic: Clinic) -> None:  # type: ignore[no-untyped-def]
    gl = accounts.authenticate(demo_clinic, "gl", "123")
    for i in range(PAGE_SIZE):  # more than one page in all
        customers.register_customer(demo_clinic, gl, name=f"测试{i}", mobile=f"1990000{i:04d}")
    model = CustomerTableModel(demo_clinic, gl)
    model.set_query("")
    total = customers.count_customers(demo_clinic, gl)
    settle()
    qtbot.waitUntil(lambda: model.total is not None)
    assert model.total == total > PAGE_SIZE
    assert model.rowCount() == PAGE_SIZE
    assert model.canFetchMore(QModelIndex())
    model.fetchMore(QModelIndex())
    assert not model.canFetchMore(QModelIndex())  # one page at a time: no second read while one runs
    settle()
    assert model.rowCount() == min(total, 2 * PAGE_SIZE)
    qtmodeltester.check(model)


def test_own_scope_user_sees_only_own_customers(qtbot, demo_clinic: Clinic) -> None:  # type: ignore[no-untyped-def]
    kf = accounts.authenticate(demo_clinic, "kf", "123")
    gl = accounts.authenticate(demo_clinic, "gl", "123")
    page = CustomersPage(demo_clinic, kf)
    qtbot.addWidget(page)
    settle()
    qtbot.waitUntil(lambda: page.model.total is not None)
    assert 0 < page.model.total < customers.count_customers(demo_clinic, gl)
    assert all(r.cs_staff == "孙丽" or r.consultant == "孙丽" or r.department == "客服部" for r in page.model.rows)
    assert all("****" in r.mobile for r in page.model.rows)  # no right to see full numbers


def test_a_duplicate_the_user_may_not_open_is_neither_named_nor_scoped(qtbot, demo_clinic: Clinic) -> None:  # type: ignore[no-untyped-def]
    """Issue 14/9: kf registering a mobile of gl's customer was told it is "不在您的查看范围内"."""
    gl = accounts.authenticate(demo_clinic, "gl", "123")
    kf = accounts.authenticate(demo_clinic, "kf", "123")
    customers.register_customer(demo_clinic, gl, name="总台的顾客", mobile="13566667777")
    page = RegistrationPage(demo_clinic, kf)
    qtbot.addWidget(page)
    page.resize(900, 700)
    page.show()
    settle()
    page.name.setText("新顾客")
    page.mobile.setText("135 6666 7777")
    qtbot.mouseClick(page.submit_button, Qt.MouseButton.LeftButton)
    settle()
    assert page.form.error_text("mobile") == "该手机号已登记，请联系主管处理"
    assert page.status.text() == "该手机号已有顾客档案，没有新建。"
    assert not page.open_existing.isVisible() and not page.book_existing.isVisible()
    assert "范围" not in page.form.error_text("mobile") + page.status.text()
    page.grab().save("/tmp/registration_duplicate.png")


def test_too_many_number_probes_are_said_under_the_search_box(qtbot, demo_clinic: Clinic) -> None:  # type: ignore[no-untyped-def]
    kf = accounts.authenticate(demo_clinic, "kf", "123")
    page = CustomersPage(demo_clinic, kf)
    qtbot.addWidget(page)
    page.resize(1200, 600)
    page.show()
    settle()
    for n in range(customers.PROBE_LIMIT):
        page.search.setText(f"1{3900 + n}")
        page.run_query()
        settle()
        assert not page.search_error.isVisible()
    page.search.setText("13999")
    page.run_query()
    settle()
    assert page.search_error.isVisible() and "号码查询过于频繁" in page.search_error.text()
    assert page.model.rowCount() == 0 and page.count.text() == ""
    page.grab().save("/tmp/customers_probes.png")
    page.search.setText("王")  # a name is no probe: the list is back
    page.run_query()
    settle()
    assert not page.search_error.isVisible()


def test_registering_runs_off_the_gui_thread_and_the_other_pages_follow(  # type: ignore[no-untyped-def]
        qtbot, demo_clinic: Clinic, monkeypatch: pytest.MonkeyPatch) -> None:
    """挂号 is saved on the database lane while the page is busy; 顾客管理 and 操作台, open elsewhere in
    the window, read again from ``bus().changed`` — nobody pokes them."""
    gl = accounts.authenticate(demo_clinic, "gl", "123")
    grid = CustomersPage(demo_clinic, gl)
    dashboard = DashboardPage(demo_clinic, gl)
    page = RegistrationPage(demo_clinic, gl)
    for widget in (grid, dashboard, page):
        qtbot.addWidget(widget)
        widget.show()
    grid.search.setText("13712345678")
    grid.run_query()
    settle()
    qtbot.waitUntil(lambda: dashboard.cards["registered_today"].value.text() != "…")
    before = int(dashboard.cards["registered_today"].value.text())
    assert grid.model.rowCount() == 0

    threads: list[threading.Thread] = []
    register = customers.register_customer

    def recorded(*args, **kwargs):  # type: ignore[no-untyped-def]
        threads.append(threading.current_thread())
        return register(*args, **kwargs)

    monkeypatch.setattr(customers, "register_customer", recorded)
    page.name.setText("总线测试")
    page.mobile.setText("13712345678")
    page.book.setChecked(False)
    qtbot.mouseClick(page.submit_button, Qt.MouseButton.LeftButton)
    assert not page.isEnabled()  # busy while it saves: a second click cannot register twice
    settle()
    assert page.isEnabled() and page.status.text() == "挂号成功：总线测试"
    assert threads and threads[0] is not threading.main_thread()

    settle()  # the grid and the dashboard read again, told by the bus
    assert [r.name for r in grid.model.rows] == ["总线测试"]
    qtbot.waitUntil(lambda: dashboard.cards["registered_today"].value.text() == str(before + 1))


def test_the_grid_reads_again_when_the_bus_says_customers_changed(qtbot, demo_clinic: Clinic) -> None:  # type: ignore[no-untyped-def]
    from ui.operations import front_desk as ops

    gl = accounts.authenticate(demo_clinic, "gl", "123")
    grid = CustomersPage(demo_clinic, gl)
    qtbot.addWidget(grid)
    grid.show()
    grid.search.setText("13766665555")
    grid.run_query()
    settle()
    assert grid.model.rowCount() == 0
    ops.register(grid, demo_clinic, gl, {"name": "别处登记", "mobile": "13766665555"}, appointment_at=None,
                 appointment_items="").run()  # made elsewhere: no call on the grid
    settle()
    assert [r.name for r in grid.model.rows] == ["别处登记"]
