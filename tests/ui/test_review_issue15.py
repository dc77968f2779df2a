"""A fresh-eyes review of issue 15's window (actions off the GUI thread): what a receptionist or a cashier
can do while an action runs, and what the window shows when its answer comes back."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from meike.db import Clinic
from meike.models import Payment
from meike.permissions import Actor, Page
from meike.services import cashier, customers
from meike.services.cashier import LineSpec
from tests.ui.waiting import settle
from ui.cashier.page import CashierPage
from ui.cashier.payment import PaymentDialog
from ui.main_window import MainWindow
from ui.taskman import Lane, manager

pytestmark = pytest.mark.gui


def _payments(clinic: Clinic) -> int:
    with clinic.read() as s:
        return s.scalar(select(func.count()).select_from(Payment)) or 0


def _order(clinic: Clinic, actor: Actor) -> int:
    customer = customers.search_customers(clinic, actor, limit=1)[0]
    item = cashier.find_items(clinic, actor, "syp")[0].id
    return cashier.open_order(clinic, actor, customer_id=customer.id, lines=[LineSpec(item)])


def test_a_payment_answered_while_the_window_is_locked_does_not_come_back_after_the_unlock(  # type: ignore[no-untyped-def]
        qtbot, demo_clinic: Clinic, sy: Actor) -> None:
    """The cashier presses 确认收款 while the database is busy and walks away; the idle lock comes, then the
    payment goes through. After the unlock the paid order's dialog must not be on screen again (with 确认收款
    enabled, inviting a second payment)."""
    order_id = _order(demo_clinic, sy)
    window = MainWindow(demo_clinic, sy)
    qtbot.addWidget(window)
    window.show()
    page = window.open_page(Page.CASHIER)
    assert isinstance(page, CashierPage)
    settle()
    dialog = PaymentDialog(demo_clinic, sy, order_id, page)
    dialog.accepted.connect(lambda: page._paid(dialog))
    dialog.open()
    settle()
    assert dialog.loaded
    gate = threading.Event()
    manager().run(Lane.DB, lambda: gate.wait(30))  # another PC holds the write lock
    dialog.ok.click()
    window.idle_lock.lock()
    assert not dialog.isVisible()
    gate.set()
    settle()
    assert _payments(demo_clinic) == 1 and dialog.result is not None  # paid while locked
    window.idle_lock.screen.password.setText("123")
    window.idle_lock.screen.try_unlock()
    settle()
    assert not window.idle_lock.locked
    assert not dialog.isVisible(), "the paid order's payment dialog came back after the unlock"
    window.idle_lock.stop()


def test_the_dashboards_customer_counts_are_the_newest_read_not_the_last_to_arrive(  # type: ignore[no-untyped-def]
        qtbot, demo_clinic: Clinic, gl: Actor, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two reads of the counts in flight (the page opened, then a registration announced): the read lane has
    two threads, so the older read can answer last. The card must show the newer count, not the older."""
    from PySide6.QtWidgets import QLabel

    from ui.front_desk.dashboard import DashboardPage
    from ui.operations import front_desk as front_ops
    from ui.operations import read

    page = DashboardPage(demo_clinic, gl)
    qtbot.addWidget(page)
    settle()
    older = customers.dashboard_counts(demo_clinic, gl)
    newer = type(older)(customers=older.customers + 1, registered_today=older.registered_today + 1)
    gate = threading.Event()
    answers = [lambda: gate.wait(10) and older, lambda: newer]  # the older read is held
    monkeypatch.setattr(front_ops, "dashboard_counts", lambda parent, _c, _a: read(parent, answers.pop(0)))
    page.refresh()  # the older read (the page opened)
    page.refresh()  # the newer read (a customer registered meanwhile)
    label = page.findChild(QLabel, "count_customers_value")
    assert label is not None
    qtbot.waitUntil(lambda: label.text() == str(newer.customers))  # the newer read answered first
    gate.set()  # now the older one answers
    settle()
    assert label.text() == str(newer.customers), "an older count arriving late replaced the newer one"
    page.stop()


def test_a_refused_registration_leaves_the_cursor_in_the_form(qtbot, demo_clinic: Clinic, gl: Actor) -> None:  # type: ignore[no-untyped-def]
    """The receptionist types and presses 保存; the page is busy while the registration runs (disabled), which
    takes the keyboard focus away from the field. When the answer is a refusal, the cursor must be back in
    the form (where she types the correction), not on the left menu or nowhere."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    from ui.front_desk.registration import RegistrationPage

    window = MainWindow(demo_clinic, gl)
    qtbot.addWidget(window)
    window.show()
    page = window.open_page(Page.REGISTRATION)
    assert isinstance(page, RegistrationPage)
    settle()
    window.activateWindow()
    qtbot.waitActive(window)
    page.name.setFocus()
    page.name.setText("张三丰")
    page.mobile.setFocus()
    qtbot.keyClicks(page.mobile, "1380013")  # too short: the service refuses it
    assert QApplication.focusWidget() is page.mobile
    qtbot.mouseClick(page.submit_button, Qt.MouseButton.LeftButton)
    settle()
    assert page.form.error_text("mobile")
    focus = QApplication.focusWidget()
    assert focus is not None and page.isAncestorOf(focus), f"focus went to {focus!r}"


def test_a_page_shown_again_after_a_change_reads_once_not_twice(qtbot, demo_clinic: Clinic, gl: Actor) -> None:  # type: ignore[no-untyped-def]
    """A page hidden when a change it watches was announced is marked stale; opening it again reads it. The
    window's open_page and the page's showEvent must not both read it (at 1M customers the grid's count
    is the expensive query)."""
    from meike.changes import Changes
    from ui.front_desk.customers import CustomersPage
    from ui.operations import announce

    window = MainWindow(demo_clinic, gl)
    qtbot.addWidget(window)
    window.show()
    page = window.open_page(Page.CUSTOMERS)
    assert isinstance(page, CustomersPage)
    settle()
    window.open_page(Page.CASHIER)
    settle()
    reads: list[int] = []
    real = page.refresh
    page.refresh = lambda: (reads.append(1), real())[1]  # type: ignore[method-assign]
    announce(Changes.of(customers=[1]))
    assert reads == []  # hidden: nothing read for nobody
    window.open_page(Page.CUSTOMERS)
    settle()
    assert len(reads) == 1, f"read {len(reads)} times on being shown"


def test_no_statement_reaches_the_database_from_the_gui_thread_while_the_pages_open(  # type: ignore[no-untyped-def]
        qtbot, demo_clinic: Clinic, gl: Actor, monkeypatch: pytest.MonkeyPatch) -> None:
    """tests/test_gui_thread.py reads the source for calls of functions taking the clinic; a check made
    through an object (``actor.require_page`` in a page's constructor reads the account's version) slips
    past it. This watches the database itself: no SQL statement may run on the GUI thread while the
    window opens and every page is built and shown."""
    from PySide6.QtWidgets import QTabWidget
    from sqlalchemy import event

    from ui.taskman import manager as task_manager

    on_gui: list[str] = []
    main = threading.main_thread()

    def seen(_conn, _cursor, statement: str, *_args: object) -> None:  # type: ignore[no-untyped-def]
        if threading.current_thread() is main:
            on_gui.append(statement.split("\n")[0][:120])

    from meike.db.prepared import Prepared

    real_rows = Prepared.rows

    def prepared_rows(self: Prepared, engine: object, params: dict[str, object]) -> list[object]:
        if threading.current_thread() is main:  # the raw reader connections (the account check's SELECT)
            on_gui.append(f"prepared {params}")
        return real_rows(self, engine, params)  # type: ignore[arg-type]

    customer = customers.search_customers(demo_clinic, gl, limit=1)[0]
    monkeypatch.setattr(Prepared, "rows", prepared_rows)
    event.listen(demo_clinic.engine, "before_cursor_execute", seen)
    try:
        window = MainWindow(demo_clinic, gl)
        qtbot.addWidget(window)
        window.show()
        for page in gl.pages:
            shown = window.open_page(page)
            task_manager().wait_idle(30)
            for tabs in shown.findChildren(QTabWidget):  # every tab of every page (settings: one per tab)
                for i in range(tabs.count()):
                    tabs.setCurrentIndex(i)
                    task_manager().wait_idle(30)
        detail = window.open_customer(customer.id)
        assert detail is not None
        task_manager().wait_idle(30)
        for tabs in detail.findChildren(QTabWidget):
            for i in range(tabs.count()):
                tabs.setCurrentIndex(i)
                task_manager().wait_idle(30)
        detail.close()
    finally:
        event.remove(demo_clinic.engine, "before_cursor_execute", seen)
    assert on_gui == [], f"{len(on_gui)} statements on the GUI thread, e.g. {on_gui[:3]}"


def test_a_payment_on_the_cashier_page_shows_on_the_dashboard_when_it_is_opened_again(  # type: ignore[no-untyped-def]
        qtbot, demo_clinic: Clinic, gl: Actor) -> None:
    from PySide6.QtWidgets import QLabel

    from ui.front_desk.dashboard import DashboardPage

    order_id = _order(demo_clinic, gl)
    window = MainWindow(demo_clinic, gl)
    qtbot.addWidget(window)
    window.show()
    dashboard = window.open_page(Page.DASHBOARD)
    assert isinstance(dashboard, DashboardPage)
    label = dashboard.findChild(QLabel, "count_unpaid_charges_value")
    assert label is not None
    qtbot.waitUntil(lambda: dashboard.last_counts is not None, timeout=10_000)
    before = dashboard.last_counts.unpaid_charges
    assert before > 0
    page = window.open_page(Page.CASHIER)
    assert isinstance(page, CashierPage)
    settle()
    page.tabs.setCurrentWidget(page.unpaid)
    settle()
    page.unpaid.select_order(order_id)
    dialog = page.take_payment()
    assert isinstance(dialog, PaymentDialog)
    settle()
    dialog.ok.click()
    settle()
    assert dialog.result is not None
    window.open_page(Page.DASHBOARD)
    qtbot.waitUntil(lambda: label.text() == str(before - 1), timeout=10_000)
    dashboard.stop()


def test_every_list_the_pages_show_is_read_only_and_selects_rows(qtbot, demo_clinic: Clinic, gl: Actor) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTabWidget

    window = MainWindow(demo_clinic, gl)
    qtbot.addWidget(window)
    window.show()
    views: list[QAbstractItemView] = []
    for page in gl.pages:
        shown = window.open_page(page)
        settle()
        for tabs in shown.findChildren(QTabWidget):
            for i in range(tabs.count()):
                tabs.setCurrentIndex(i)
                settle()
        views += shown.findChildren(QAbstractItemView)
    customer = customers.search_customers(demo_clinic, gl, limit=1)[0]
    detail = window.open_customer(customer.id)
    assert detail is not None
    settle()
    views += detail.findChildren(QAbstractItemView)
    editable = [f"{v.objectName() or type(v).__name__} in {v.window().objectName()}/{v.parent().objectName()}"
                for v in views if not isinstance(v, QHeaderView) and type(v).__name__ not in ("QListView",)
                and v.editTriggers() != QAbstractItemView.EditTrigger.NoEditTriggers
                and not type(v).__name__.startswith("QComboBox")]
    not_rows = [v.objectName() or type(v).__name__ for v in views
                if type(v).__name__ in ("QTableView", "QTableWidget") or "Table" in type(v).__name__
                if v.selectionBehavior() != QAbstractItemView.SelectionBehavior.SelectRows]
    detail.close()
    assert editable == [] and not_rows == []


def test_enter_in_the_amount_pays_once_and_escape_closes_the_payment(qtbot, demo_clinic: Clinic, sy: Actor) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtCore import Qt

    order_id = _order(demo_clinic, sy)
    dialog = PaymentDialog(demo_clinic, sy, order_id)
    qtbot.addWidget(dialog)
    dialog.show()
    settle()
    rows_before = len(dialog.findChildren(type(dialog.amount)))
    dialog.amount.setFocus()
    qtbot.keyClick(dialog.amount, Qt.Key.Key_Return)
    qtbot.keyClick(dialog.amount, Qt.Key.Key_Return)  # the impatient second Enter
    settle()
    assert _payments(demo_clinic) == 1 and dialog.result is not None
    assert not dialog.isVisible()
    assert len(dialog.findChildren(type(dialog.amount))) == rows_before  # Enter did not add a tender row

    other = PaymentDialog(demo_clinic, sy, _order(demo_clinic, sy))
    qtbot.addWidget(other)
    other.show()
    settle()
    qtbot.keyClick(other, Qt.Key.Key_Escape)
    assert not other.isVisible() and other.result is None


def test_a_locked_database_keeps_what_was_typed_and_says_so_in_chinese(  # type: ignore[no-untyped-def]
        qtbot, demo_clinic: Clinic, gl: Actor, monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlite3

    from sqlalchemy.exc import OperationalError

    from meike import clock
    from meike.services import followups
    from ui.front_desk.reminders import CompleteReminderDialog

    customer = customers.search_customers(demo_clinic, gl, limit=1)[0]
    rid = followups.add_reminder(demo_clinic, gl, customer.id, kind="chase", due=clock.now().date(), note="跟进")
    row = next(r for r in followups.list_for_customer(demo_clinic, gl, customer.id) if r.id == rid)

    def locked(*_a: object, **_k: object) -> None:
        raise OperationalError("UPDATE reminders", {}, sqlite3.OperationalError("database is locked"))

    monkeypatch.setattr(followups, "complete", locked)
    dialog = CompleteReminderDialog(demo_clinic, gl, row)
    qtbot.addWidget(dialog)
    dialog.show()
    settle()
    dialog.result_edit.setPlainText("已电话回访，恢复良好")
    dialog.ok.click()
    settle()
    assert dialog.isVisible() and dialog.isEnabled() and dialog.ok.isEnabled()
    assert dialog.result_edit.toPlainText() == "已电话回访，恢复良好"
    text = dialog.message.text()
    assert text and "locked" not in text and "Error" not in text and any("\u4e00" <= ch <= "\u9fff" for ch in text)


def test_a_live_logout_while_a_settings_save_runs_says_why_once(qtbot, demo_clinic: Clinic, gl: Actor) -> None:  # type: ignore[no-untyped-def]
    """The account is disabled while 保存 of a new dictionary entry waits for the database: the window says
    "请重新登录" and logs out. The save's refusal must not pop up a second box over it (or after it)."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    from meike.services import accounts
    from meike.services.dictionaries import Kind
    from ui.settings.page import SettingsPage

    window = MainWindow(demo_clinic, gl)
    qtbot.addWidget(window)
    window.show()
    page = window.open_page(Page.SETTINGS)
    assert isinstance(page, SettingsPage)
    settle()
    channels = page.tables[Kind.CHANNEL]
    channels.build_menu(-1)
    channels.act_add.trigger()
    dialog = channels.dialog
    assert dialog is not None
    settle()
    dialog.name.setText("朋友圈")
    boxes: list[str] = []

    def answer() -> None:
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox):
            boxes.append(box.text())
            box.accept()

    timer = QTimer(interval=10)
    timer.timeout.connect(answer)
    timer.start()
    gate = threading.Event()
    manager().run(Lane.DB, lambda: gate.wait(30))  # the save waits behind another write
    dialog.ok.click()
    admin = accounts.authenticate(demo_clinic, "admin", "admin")
    accounts.set_active(demo_clinic, admin, gl.user_id, False)
    with qtbot.waitSignal(window.closed, timeout=10_000):
        gate.set()
    settle()
    qtbot.wait(100)
    timer.stop()
    assert boxes == ["账号已停用，请联系管理员"], boxes


def test_the_customer_grid_keeps_the_row_and_the_place_when_a_change_refreshes_it(  # type: ignore[no-untyped-def]
        qtbot, demo_clinic: Clinic, gl: Actor) -> None:
    """The receptionist scrolled down the grid and opened a customer; saving the profile (or a record, or
    a payment elsewhere) announces a change and the visible grid reads again. She must still see the same
    customer selected where she was, not the top of the list."""
    from meike.changes import Changes
    from ui.front_desk.customers import CustomersPage
    from ui.operations import announce

    window = MainWindow(demo_clinic, gl)
    qtbot.addWidget(window)
    window.resize(1366, 768)
    window.show()
    page = window.open_page(Page.CUSTOMERS)
    assert isinstance(page, CustomersPage)
    settle()
    while page.model.canFetchMore(page.model.index(-1, -1)) and page.model.rowCount() < 110:
        page.model.fetchMore(page.model.index(-1, -1))
        settle()
    assert page.model.rowCount() >= 110
    page.view.selectRow(100)
    page.view.scrollTo(page.model.index(100, 0))
    chosen = page.model.rows[100].id
    scrolled = page.view.verticalScrollBar().value()
    assert scrolled > 0
    announce(Changes.of(customers=[chosen]))
    settle()
    qtbot.wait(50)
    settle()
    selected = page.current_row()
    assert selected >= 0 and page.model.rows[selected].id == chosen, "the selected customer was lost"
    assert page.view.verticalScrollBar().value() == scrolled, "the grid jumped"


def test_a_top_up_whose_facts_cannot_be_read_says_why(  # type: ignore[no-untyped-def]
        qtbot, demo_clinic: Clinic, sy: Actor, monkeypatch: pytest.MonkeyPatch) -> None:
    """充值 reads the payment methods first; when that read fails (a busy database) the dialog closes for it.
    The cashier must read why in the accounts dialog, not see a window flash and vanish."""
    import sqlite3

    from sqlalchemy.exc import OperationalError

    from ui.cashier.accounts import CustomerAccountDialog
    from ui.operations import cashier as cashier_ops

    customer_id = customers.search_customers(demo_clinic, sy, limit=1)[0].id
    acc = CustomerAccountDialog(demo_clinic, sy, customer_id)
    qtbot.addWidget(acc)
    acc.show()
    settle()

    def busy(*_a: object) -> None:
        raise OperationalError("SELECT payment_methods", {}, sqlite3.OperationalError("database is locked"))

    monkeypatch.setattr(cashier_ops, "payment_methods", busy)
    top_up = acc.top_up("prepaid")
    assert top_up is not None
    settle()
    assert not top_up.isVisible()
    assert top_up.failed_text and top_up.failed_text in acc.status.text(), acc.status.text()


def test_the_customer_details_lists_are_the_newest_read_not_the_last_to_arrive(  # type: ignore[no-untyped-def]
        qtbot, demo_clinic: Clinic, gl: Actor, monkeypatch: pytest.MonkeyPatch) -> None:
    """The detail reads its lists again on every change it hears; two reads in flight can answer out of
    order (two read threads). What it shows must be the newer read's."""
    from ui.front_desk.detail import CustomerDetailDialog
    from ui.operations import front_desk as front_ops
    from ui.operations import read

    customer = customers.search_customers(demo_clinic, gl, limit=1)[0]
    dialog = CustomerDetailDialog(demo_clinic, gl, customer.id)
    qtbot.addWidget(dialog)
    dialog.show()
    settle()
    shown: list[str] = []
    monkeypatch.setattr(dialog, "_show_lists", shown.append)
    gate = threading.Event()
    answers = [lambda: gate.wait(10) and "older", lambda: "newer"]
    monkeypatch.setattr(front_ops, "detail_lists", lambda parent, *_a: read(parent, answers.pop(0)))
    dialog.reload()
    dialog.reload()
    qtbot.waitUntil(lambda: shown == ["newer"])
    gate.set()
    settle()
    assert shown[-1] == "newer", shown


def test_the_administrators_window_opens_without_a_gui_thread_statement(  # type: ignore[no-untyped-def]
        qtbot, demo_clinic: Clinic, monkeypatch: pytest.MonkeyPatch) -> None:
    from meike.db.prepared import Prepared
    from meike.services import accounts
    from ui.account_manager import AccountManager

    admin = accounts.authenticate(demo_clinic, "admin", "admin")
    main = threading.main_thread()
    on_gui: list[object] = []
    real_rows = Prepared.rows

    def prepared_rows(self: Prepared, engine: object, params: dict[str, object]) -> list[object]:
        if threading.current_thread() is main:
            on_gui.append(params)
        return real_rows(self, engine, params)  # type: ignore[arg-type]

    monkeypatch.setattr(Prepared, "rows", prepared_rows)
    window = AccountManager(demo_clinic, admin, "示范")
    qtbot.addWidget(window)
    window.show()
    settle()
    assert on_gui == []


def test_a_payment_dialog_destroyed_while_it_pays_still_tells_the_page(  # type: ignore[no-untyped-def]
        qtbot, demo_clinic: Clinic, sy: Actor) -> None:
    """The dialog is gone (its window closed: a live logout, the program closing) while the payment runs:
    no crash, the payment is made once, and the cashier page still hears of it (its lists read again)."""
    from meike.changes import Changes
    from ui.operations import bus

    order_id = _order(demo_clinic, sy)
    heard: list[Changes] = []
    bus().changed.connect(heard.append)
    dialog = PaymentDialog(demo_clinic, sy, order_id)
    dialog.show()
    settle()
    gate = threading.Event()
    manager().run(Lane.DB, lambda: gate.wait(30))
    dialog.ok.click()
    dialog.deleteLater()
    qtbot.wait(20)
    gate.set()
    settle()
    assert _payments(demo_clinic) == 1
    assert any(order_id in c.ids("orders") for c in heard)


def test_after_a_registration_the_cursor_waits_in_the_name_for_the_next_customer(  # type: ignore[no-untyped-def]
        qtbot, demo_clinic: Clinic, gl: Actor) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    from ui.front_desk.registration import RegistrationPage

    window = MainWindow(demo_clinic, gl)
    qtbot.addWidget(window)
    window.show()
    page = window.open_page(Page.REGISTRATION)
    assert isinstance(page, RegistrationPage)
    settle()
    window.activateWindow()
    qtbot.waitActive(window)
    page.name.setText("李四")
    page.mobile.setFocus()
    qtbot.keyClicks(page.mobile, "13900139000")
    qtbot.mouseClick(page.submit_button, Qt.MouseButton.LeftButton)
    settle()
    assert page.last_registered_id is not None and page.name.text() == ""
    assert QApplication.focusWidget() is page.name


def test_an_action_that_fails_after_a_commit_still_announces_what_it_committed(  # type: ignore[no-untyped-def]
        qtbot, demo_clinic: Clinic, gl: Actor) -> None:
    """E.g. 保存 in the customer detail: the profile is updated (committed), then the detail is read back;
    if that read fails (the customer left the user's scope with the change, a busy database) the action
    reports the failure, but the pages must still hear of the committed update (the grid shows it)."""
    from meike.changes import Changes
    from meike.errors import PermissionDenied
    from ui.operations import Op, bus

    heard: list[Changes] = []
    bus().changed.connect(heard.append)
    errors: list[Exception] = []

    def save_then_read() -> None:
        customers.register_customer(demo_clinic, gl, name="王五", mobile="13700137000", gender="F")
        raise PermissionDenied("该顾客不在您的数据范围内")

    Op(None, save_then_read).failure(errors.append).run()
    settle()
    assert errors and isinstance(errors[0], PermissionDenied)
    assert heard and heard[-1].touches("customers"), "the committed registration was not announced"


def test_a_double_click_on_print_receipt_prints_once(  # type: ignore[no-untyped-def]
        qtbot, demo_clinic: Clinic, sy: Actor, monkeypatch: pytest.MonkeyPatch) -> None:
    """A network printer takes seconds; the cashier clicks 打印收据 again meanwhile. One receipt."""
    from PySide6.QtCore import Qt

    from meike.services import receipting

    page = CashierPage(demo_clinic, sy)
    qtbot.addWidget(page)
    page.show()
    settle()
    recorded: list[int] = []
    sent: list[int] = []
    gate = threading.Event()

    def record(_clinic: Clinic, _actor: Actor, receipt_id: int, **_kw: object) -> int:
        recorded.append(receipt_id)
        return receipt_id

    def slow_printer(job: int) -> None:
        sent.append(job)
        gate.wait(10)

    monkeypatch.setattr(receipting, "record_receipt_print", record)
    monkeypatch.setattr(receipting, "deliver", slow_printer)
    page._offer_print(12345)
    qtbot.mouseClick(page.print_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(page.print_button, Qt.MouseButton.LeftButton)  # while the printer takes its time
    qtbot.waitUntil(lambda: bool(sent))
    qtbot.mouseClick(page.print_button, Qt.MouseButton.LeftButton)
    gate.set()
    settle()
    assert recorded == [12345] and sent == [12345]
    assert page.print_button.isEnabled()


def test_escape_while_the_customer_detail_saves_does_not_hide_a_refusal(  # type: ignore[no-untyped-def]
        qtbot, demo_clinic: Clinic, gl: Actor) -> None:
    """保存 in the detail waits on a busy database; the receptionist presses Esc. The dialog must stay until
    the answer (as every other form dialog does), or a refusal would be said in a closed window."""
    from PySide6.QtCore import Qt

    from ui.front_desk.detail import CustomerDetailDialog

    customer = customers.search_customers(demo_clinic, gl, limit=1)[0]
    dialog = CustomerDetailDialog(demo_clinic, gl, customer.id)
    qtbot.addWidget(dialog)
    dialog.show()
    settle()
    gate = threading.Event()
    manager().run(Lane.DB, lambda: gate.wait(30))
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    assert dialog.isVisible(), "Esc closed the detail while its save was running"
    gate.set()
    settle()
    assert dialog.isVisible() and dialog.isEnabled()
    dialog.close()
