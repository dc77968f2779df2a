"""Every window and dialog of ``ui/`` fits the commonest clinic screen: 1366×768 less the taskbar (1366×728).

Each window class found under ``ui/`` is built with realistic data of the demo clinic, shown offscreen and
measured: its minimum size, its layout's minimum size, the size it opens at and the size ``adjustSize()``
gives it must fit, and at its minimum size every button outside a scroll area must still lie inside it. The
offscreen platform draws no window frame, so ``FRAME`` is added for one: a Windows 10/11 title bar (about
31 px at 100 % scaling) and borders, rounded up to 40 px in height and 16 px in width.

Every ``QWidget`` subclass defined under ``ui/`` must be named here, as a window (``WINDOWS``) or as a piece
of another window (``EMBEDDED``), so a new dialog cannot escape the check.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from functools import cached_property
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QRect, QSize
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractScrollArea,
    QApplication,
    QDialog,
    QMainWindow,
    QWidget,
)

import ui
from devices.callerid import Call
from meike import clock
from meike.db import Clinic
from meike.permissions import Actor
from meike.services import (
    accounts,
    cashier,
    customers,
    dayclose,
    dictionaries,
    followups,
    ledger,
    phone,
    records,
    sms,
    triage,
)
from meike.services.cashier import LineSpec
from meike.services.customers import CustomerQuery
from meike.services.dictionaries import Kind
from meike.services.ledger import Tender
from ui.operations import Op
from ui.taskman import manager

pytestmark = pytest.mark.gui

SCREEN = QSize(1366, 728)  # 1366×768 less a 40 px taskbar


@pytest.fixture(autouse=True)
def _the_programs_font(qapp):  # type: ignore[no-untyped-def]
    """Measured in the program's own font (10 pt YaHei / WenQuanYi), not pytest-qt's default 9 pt."""
    from ui.app import app_font

    before = qapp.font()
    qapp.setFont(app_font())
    yield
    qapp.setFont(before)
FRAME = QSize(16, 40)  # title bar and borders the offscreen platform does not draw


def _modules() -> Iterator[object]:
    for info in pkgutil.walk_packages(ui.__path__, "ui."):
        yield importlib.import_module(info.name)


def discovered() -> dict[str, type[QWidget]]:
    """Every QWidget subclass defined in a module of the ``ui`` package, by class name."""
    found: dict[str, type[QWidget]] = {}
    for module in _modules():
        for obj in vars(module).values():
            if inspect.isclass(obj) and issubclass(obj, QWidget) and obj.__module__ == module.__name__:  # type: ignore[attr-defined]
                assert obj.__name__ not in found or found[obj.__name__] is obj, f"two classes named {obj.__name__}"
                found[obj.__name__] = obj
    return found


@dataclass
class Scene:
    """The demo clinic with one customer who has a bit of everything; built lazily, as each window needs it."""

    qtbot: object
    clinic: Clinic
    gl: Actor
    keys: Iterator[int] = field(default_factory=lambda: iter(range(1, 1000)))

    def key(self) -> str:
        return f"sizes-{next(self.keys)}"

    @cached_property
    def admin(self) -> Actor:
        return accounts.authenticate(self.clinic, "admin", "admin")

    @cached_property
    def customer(self) -> customers.CustomerRow:
        return customers.search_customers(self.clinic, self.gl, limit=1)[0]

    @property
    def label(self) -> str:
        return f"{self.customer.name}（卡号 {self.customer.card_no}）"

    @cached_property
    def methods(self) -> dict[str, int]:
        return {e.name: e.id for e in dictionaries.list_entries(self.clinic, self.gl, Kind.PAYMENT_METHOD)}

    def item(self, code: str) -> int:
        return cashier.find_items(self.clinic, self.gl, code)[0].id

    @cached_property
    def unpaid_order(self) -> int:
        """Three lines, as a consultant's bill often has."""
        return cashier.open_order(self.clinic, self.gl, customer_id=self.customer.id,
                                  lines=[LineSpec(self.item(c)) for c in ("syp", "sgz", "xy")])

    @cached_property
    def paid_order(self) -> int:
        order_id = cashier.open_order(self.clinic, self.gl, customer_id=self.customer.id,
                                      lines=[LineSpec(self.item(c)) for c in ("syp", "sgz")])
        total = cashier.get_order(self.clinic, self.gl, order_id).total_fen
        cashier.pay(self.clinic, self.gl, order_id, [Tender(self.methods["现金"], total - 100000),
                                                     Tender(self.methods["微信"], 100000)], idempotency_key=self.key())
        return order_id

    @cached_property
    def summary(self) -> ledger.AccountSummary:
        """Prepaid money, a deposit and a course of 10 sessions."""
        c = self.customer.id
        ledger.top_up(self.clinic, self.gl, c, account="prepaid", tenders=[Tender(self.methods["现金"], 200000)],
                      idempotency_key=self.key())
        ledger.top_up(self.clinic, self.gl, c, account="deposit", tenders=[Tender(self.methods["微信"], 50000)],
                      idempotency_key=self.key())
        course = cashier.open_order(self.clinic, self.gl, customer_id=c, lines=[
            LineSpec(self.item("sgz"), unit_price_fen=1000000, package_sessions=10)])
        cashier.pay(self.clinic, self.gl, course, [Tender(self.methods["微信"], 1000000)], idempotency_key=self.key())
        return ledger.customer_accounts(self.clinic, self.gl, c)

    @cached_property
    def visit(self) -> int:
        consultant = triage.consultants(self.clinic, self.gl)[0][0]
        return triage.arrive(self.clinic, self.gl, self.customer.id, consultant_id=consultant)

    def history(self) -> None:
        """A consultation, a treatment, reminders and an appointment: the detail's tabs are not empty."""
        c = self.customer.id
        records.add_consultation(self.clinic, self.gl, c, content="想做双眼皮，担心恢复期，想先了解水光针", items="双眼皮")
        doctor = records.staff_choices(self.clinic, self.gl, "doctor")[0][0]
        records.add_treatment(self.clinic, self.gl, c, item_id=self.item("sgz"), doctor_id=doctor,
                              performed_on=clock.now().date())
        self.appointment()

    def appointment(self) -> customers.AppointmentRow:
        at = datetime.combine(clock.now().date() + timedelta(days=3), time(10, 30))
        customers.book_appointment(self.clinic, self.gl, self.customer.id, appointment_at=at, items="水光针",
                                   notes="顾客希望上午来")
        return customers.list_appointments(self.clinic, self.gl, self.customer.id)[0]

    def reminder(self) -> followups.ReminderRow:
        followups.add_reminder(self.clinic, self.gl, self.customer.id, kind="chase",
                               due=clock.now().date() + timedelta(days=1), note="问问双眼皮的决定")
        return followups.list_for_customer(self.clinic, self.gl, self.customer.id)[0]


Builder = Callable[[Scene], "QWidget | list[QWidget]"]


def _main_window(s: Scene) -> QWidget:
    from ui.main_window import MainWindow

    window = MainWindow(s.clinic, s.gl, "示范医美诊所")
    for page in reversed(s.gl.pages):  # pages are built when first opened: every one is measured
        window.open_page(page)
    return window


def _account_manager(s: Scene) -> QWidget:
    from ui.account_manager import AccountManager

    return AccountManager(s.clinic, s.admin, "示范医美诊所")


def _caller_popup(s: Scene) -> QWidget:
    from ui.phone.caller_popup import CallerPopup

    s.history()
    s.reminder()
    popup = CallerPopup()
    card = phone.caller_card(s.clinic, s.gl, s.customer.mobile)
    popup.show_call(Call(s.customer.mobile, clock.now(), name="DEMO"), s.customer.mobile, card)
    return popup


def _crash(s: Scene) -> QWidget:
    crash = pytest.importorskip("ui.crash")  # skipped in a tree without the crash reporter
    details = "Traceback (most recent call last):\n" + "".join(
        f'  File "C:\\Program Files\\Meike\\_internal\\ui\\pages\\cashier.py", line {n}, in refresh\n'
        for n in range(100, 140)) + "RuntimeError: 意外错误"
    log = Path("C:/Users/前台收银/AppData/Local/Meike/Meike/logs/meike-2026-11-23.log")
    dialog = crash.CrashDialog(details, log)
    dialog.again(details)
    return dialog  # type: ignore[no-any-return]


def _login(s: Scene) -> QWidget:
    from ui.dialogs.login import LoginDialog

    return LoginDialog(s.clinic, "示范医美诊所")


def _first_run(s: Scene) -> QWidget:
    from ui.dialogs.first_run import FirstRunDialog

    return FirstRunDialog(s.clinic)


def _password(s: Scene) -> list[QWidget]:
    from ui.dialogs.password import PasswordDialog

    def nothing(*_typed: str) -> Op[None]:
        return Op(None, lambda: None)

    return [PasswordDialog("重置 kf 的密码", nothing), PasswordDialog("修改密码", nothing, with_old=nothing)]


def _appointment(cls: str) -> Builder:
    def build(s: Scene) -> QWidget:
        from ui.front_desk import appointment

        return getattr(appointment, cls)(s.clinic, s.gl, s.appointment())  # type: ignore[no-any-return]
    return build


def _money(s: Scene) -> list[QWidget]:
    from ui.cashier.accounts import TopUpDialog

    c, summary = s.customer.id, s.summary
    return [TopUpDialog(s.clinic, s.gl, c, s.label, account, summary) for account in ("deposit", "prepaid", "inpatient")]


def _coupon(s: Scene) -> QWidget:
    from ui.cashier.accounts import CouponSaleDialog

    return CouponSaleDialog(s.clinic, s.gl, s.customer.id, s.label)


def _balance_refund(s: Scene) -> list[QWidget]:
    from ui.cashier.accounts import BalanceRefundDialog

    return [BalanceRefundDialog(s.clinic, s.gl, s.customer.id, s.label, s.summary, discharge=d) for d in (False, True)]


def _package_refund(s: Scene) -> QWidget:
    from ui.cashier.accounts import PackageRefundDialog

    packages = s.summary.packages
    return PackageRefundDialog(s.clinic, s.gl, s.customer.id, s.label, packages, package_id=packages[0].id)


def _customer_account(s: Scene) -> QWidget:
    from ui.cashier.accounts import CustomerAccountDialog

    s.summary  # noqa: B018 (balances, a coupon-less course)
    return CustomerAccountDialog(s.clinic, s.gl, s.customer.id)


def _day(cls: str) -> Builder:
    def build(s: Scene) -> QWidget:
        from ui.cashier import day as cashier_day

        s.paid_order  # noqa: B018 (the day has receipts)
        if cls == "BusinessDateDialog":
            return cashier_day.BusinessDateDialog(s.clinic, s.gl, clock.now().date())
        if cls == "ClosedDaysDialog":  # a closed day with a cash difference, its report shown
            report = dayclose.day_report(s.clinic, s.gl)
            dayclose.close_day(s.clinic, s.gl, counted_cash_fen=report.expected_cash_fen - 500,
                               note="找零少收 5 元", day=report.business_date)
            dialog = cashier_day.ClosedDaysDialog(s.clinic, s.gl)
            assert manager().wait_idle(10)  # the list is read off the GUI thread
            dialog.table.selectRow(0)
            return dialog
        return getattr(cashier_day, cls)(s.clinic, s.gl)  # type: ignore[no-any-return]
    return build


def _paid_order(cls: str) -> Builder:
    def build(s: Scene) -> QWidget:
        from ui.cashier import orders as cashier_orders

        return getattr(cashier_orders, cls)(s.clinic, s.gl, s.paid_order)  # type: ignore[no-any-return]
    return build


def _customer_detail(s: Scene) -> QWidget:
    from ui.front_desk.detail import CustomerDetailDialog

    s.history()
    s.reminder()
    return CustomerDetailDialog(s.clinic, s.gl, s.customer.id)


def _entry(s: Scene) -> list[QWidget]:
    from ui.settings.dictionary_entry import EntryDialog

    dialogs: list[QWidget] = []
    for kind in Kind:
        entries = dictionaries.list_entries(s.clinic, s.gl, kind)
        dialogs += [EntryDialog(s.clinic, s.gl, kind), EntryDialog(s.clinic, s.gl, kind, entries[0] if entries else None)]
    return dialogs


def _new_order(s: Scene) -> QWidget:
    from ui.cashier.new_order import NewOrderDialog

    return NewOrderDialog(s.clinic, s.gl)


def _payment(s: Scene) -> QWidget:
    from ui.cashier.payment import PaymentDialog

    s.summary  # noqa: B018 (accounts to pay from)
    return PaymentDialog(s.clinic, s.gl, s.unpaid_order)


def _cancel_order(s: Scene) -> QWidget:
    from ui.cashier.payment import CancelOrderDialog

    return CancelOrderDialog(s.clinic, s.gl, s.unpaid_order, f"{s.customer.name}　双眼皮、水光针、祛痣　￥12,380.00")


def _pending_money(s: Scene) -> QWidget:
    from meike import journal
    from ui.cashier.pending import PendingMoneyDialog

    for n in range(6):  # a crash left a few unanswered: the longest lines the dialog shows
        journal.write(journal.entry(s.clinic, s.gl, "pay", s.key(), customer_id=s.customer.id,
                                    order_id=s.unpaid_order, amount_fen=1_238_000 + n,
                                    tenders=[[s.methods["现金"], 238_000, None], [s.methods["微信"], 1_000_000, None]]))
    return PendingMoneyDialog(s.clinic, s.gl)


def _promotion(s: Scene) -> QWidget:
    from ui.settings.promotions import PromotionDialog

    return PromotionDialog(s.clinic, s.gl)


def _consultation(s: Scene) -> QWidget:
    from ui.front_desk.records import ConsultationDialog

    return ConsultationDialog(s.clinic, s.gl, s.customer.id, s.label)


def _treatment(s: Scene) -> QWidget:
    from ui.front_desk.records import TreatmentDialog

    return TreatmentDialog(s.clinic, s.gl, s.customer.id, s.label)


def _add_reminder(cls: str) -> Builder:
    def build(s: Scene) -> list[QWidget]:
        from ui.front_desk import records, reminders

        module = records if cls == "ReminderDialog" else reminders
        return [getattr(module, cls)(s.clinic, s.gl, s.customer.id, s.label, kind=k) for k in ("chase", "postop")]
    return build


def _reject_visit(s: Scene) -> QWidget:
    from ui.front_desk.records import RejectVisitDialog

    return RejectVisitDialog(s.clinic, s.gl, s.visit, f"{s.customer.name}　{clock.now():%Y-%m-%d} 初诊")


def _reminder_row(cls: str) -> Builder:
    def build(s: Scene) -> QWidget:
        from ui.front_desk import reminders

        return getattr(reminders, cls)(s.clinic, s.gl, s.reminder())  # type: ignore[no-any-return]
    return build


def _reminder_list(s: Scene) -> list[QWidget]:
    from ui.front_desk.reminders import ReminderListDialog

    s.reminder()
    return [ReminderListDialog(s.clinic, s.gl), ReminderListDialog(s.clinic, s.gl, kind="chase", overdue_only=True)]


def _shares(s: Scene) -> QWidget:
    from ui.cashier.shares import SharesDialog

    return SharesDialog(s.clinic, s.gl, s.unpaid_order)


def _send_sms(s: Scene) -> list[QWidget]:
    from ui.dialogs.sms_send import SendSmsDialog

    return [SendSmsDialog(s.clinic, s.gl, s.customer.id), SendSmsDialog(s.clinic, s.gl)]


def _batch_sms(s: Scene) -> QWidget:
    from ui.dialogs.sms_send import BatchSmsDialog

    return BatchSmsDialog(s.clinic, s.gl, CustomerQuery(tab="all"))


def _sms_template(s: Scene) -> list[QWidget]:
    from ui.settings import SmsTemplateDialog

    templates = sms.list_templates(s.clinic, s.gl)
    return [SmsTemplateDialog(s.clinic, s.gl), *(SmsTemplateDialog(s.clinic, s.gl, t) for t in templates[:1])]


def _triage(s: Scene) -> list[QWidget]:
    from ui.front_desk.triage import TriageDialog

    return [TriageDialog(s.clinic, s.gl, s.customer.id, s.customer.name),
            TriageDialog(s.clinic, s.gl, s.customer.id, s.customer.name, visit_id=s.visit)]


# Windows: every QDialog and QMainWindow subclass and every widget shown as a window of its own.
WINDOWS: dict[str, Builder] = {
    "MainWindow": _main_window,
    "AccountManager": _account_manager,
    "CallerPopup": _caller_popup,
    "CrashDialog": _crash,
    "LoginDialog": _login,
    "FirstRunDialog": _first_run,
    "PasswordDialog": _password,
    "ChangeAppointmentDialog": _appointment("ChangeAppointmentDialog"),
    "CancelAppointmentDialog": _appointment("CancelAppointmentDialog"),
    "TopUpDialog": _money,
    "CouponSaleDialog": _coupon,
    "BalanceRefundDialog": _balance_refund,
    "PackageRefundDialog": _package_refund,
    "CustomerAccountDialog": _customer_account,
    "DayCloseDialog": _day("DayCloseDialog"),
    "BusinessDateDialog": _day("BusinessDateDialog"),
    "ClosedDaysDialog": _day("ClosedDaysDialog"),
    "RevenueDialog": _day("RevenueDialog"),
    "VoidDialog": _paid_order("VoidDialog"),
    "RefundLineDialog": _paid_order("RefundLineDialog"),
    "RepriceDialog": _paid_order("RepriceDialog"),
    "InvoiceDialog": _paid_order("InvoiceDialog"),
    "ReprintDialog": _paid_order("ReprintDialog"),
    "CustomerDetailDialog": _customer_detail,
    "EntryDialog": _entry,
    "NewOrderDialog": _new_order,
    "PaymentDialog": _payment,
    "CancelOrderDialog": _cancel_order,
    "PendingMoneyDialog": _pending_money,
    "PromotionDialog": _promotion,
    "ConsultationDialog": _consultation,
    "TreatmentDialog": _treatment,
    "ReminderDialog": _add_reminder("ReminderDialog"),
    "AddReminderDialog": _add_reminder("AddReminderDialog"),
    "RejectVisitDialog": _reject_visit,
    "CompleteReminderDialog": _reminder_row("CompleteReminderDialog"),
    "PostponeReminderDialog": _reminder_row("PostponeReminderDialog"),
    "ReminderListDialog": _reminder_list,
    "SharesDialog": _shares,
    "SendSmsDialog": _send_sms,
    "BatchSmsDialog": _batch_sms,
    "SmsTemplateDialog": _sms_template,
    "TriageDialog": _triage,
}

# Pieces of other windows (measured as part of them), and base classes never shown themselves.
EMBEDDED: dict[str, str] = {
    "FormDialog": "base class of the small form dialogs",
    "OpFormDialog": "base class of the front desk's form dialogs (their save is an operation)",
    "_MoneyDialog": "base class of the cashier's account dialogs",
    "CashierFormDialog": "base class of the cashier's form dialogs",
    "LockScreen": "a child covering the main window, sized to it",
    "AuditViewer": "a tab of the account manager",
    "BackupPanel": "a tab of the account manager and of the settings page",
    "SupervisorFields": "a row of the supervisor's forms",
    "TenderRows": "the payment rows of the cashier's dialogs",
    "DayReportView": "the report of 日结 and 日结历史",
    "PromotionsTab": "a tab of the settings page",
    "SmsTemplatesTab": "a tab of the settings page",
    "SmsChannelSettings": "a tab of the settings page",
    "ListTab": "base class of the list-with-menu tabs of the settings page",
    "CustomerForm": "the form of the registration page and the customer detail",
    "RecordingPlayer": "the phone page's player",
    "OrderTable": "a table of the cashier page",
    "CashierPage": "a page of the main window",
    "CustomersPage": "a page of the main window",
    "CountCard": "a card of the dashboard",
    "DashboardPage": "a page of the main window",
    "PhonePage": "a page of the main window",
    "RegistrationPage": "a page of the main window",
    "DictionaryTable": "a tab of the settings page",
    "SystemParameters": "a tab of the settings page",
    "DeviceSettings": "base of the settings page's device tabs",
    "PageWidget": "base class of the left-menu pages",
    "PrinterSettings": "a tab of the settings page",
    "CallerIdSettings": "a tab of the settings page",
    "SettingsPage": "a page of the main window",
    "SmsPanel": "a page of the main window",
}


def test_every_window_class_of_ui_is_measured() -> None:
    classes = discovered()
    unknown = sorted(set(classes) - set(WINDOWS) - set(EMBEDDED))
    assert not unknown, f"add these classes to WINDOWS (with a builder) or EMBEDDED in {__name__}: {unknown}"
    stale = sorted(set(EMBEDDED) - set(classes))  # a window that is gone fails in its builder
    assert not stale, f"these classes are gone from ui/: {stale}"
    bases = {n for n, r in EMBEDDED.items() if r.startswith("base")}
    windows = {n for n, c in classes.items() if issubclass(c, (QDialog, QMainWindow)) and n not in bases}
    assert not windows - set(WINDOWS), f"dialogs and main windows are measured: {sorted(windows - set(WINDOWS))}"


def _settle(qtbot, widget: QWidget) -> None:  # type: ignore[no-untyped-def]
    """Background loads answered, layouts done."""
    assert manager().wait_idle(10)
    QApplication.sendPostedEvents()
    QApplication.processEvents()
    if widget.layout() is not None:
        widget.layout().activate()


def _fits(size: QSize) -> bool:
    return size.width() <= SCREEN.width() and size.height() <= SCREEN.height()


def _framed(widget: QWidget) -> QSize:
    """The window's size with its frame: the frame the platform reports, or ours where it draws none."""
    return widget.frameGeometry().size().expandedTo(widget.size() + FRAME)


def _hidden_buttons(widget: QWidget) -> list[str]:
    """Buttons shown in the window but not wholly inside it (a scroll area's contents excepted)."""
    inside = QRect(QPoint(0, 0), widget.size())
    bad = []
    for button in widget.findChildren(QAbstractButton):
        if not button.isVisibleTo(widget) or button.window() is not widget:
            continue
        parent = button.parentWidget()
        in_scroll = False
        while parent is not None and parent is not widget:
            if isinstance(parent.parentWidget(), QAbstractScrollArea):
                in_scroll = True
                break
            parent = parent.parentWidget()
        if in_scroll:
            continue
        rect = QRect(button.mapTo(widget, QPoint(0, 0)), button.size())
        if not inside.contains(rect) or button.width() < 16 or button.height() < 12:
            bad.append(button.objectName() or button.text() or type(button).__name__)
    return bad


def _built(qtbot, name: str, demo_clinic: Clinic, gl: Actor) -> list[QWidget]:  # type: ignore[no-untyped-def]
    made = WINDOWS[name](Scene(qtbot, demo_clinic, gl))
    widgets = made if isinstance(made, list) else [made]
    for w in widgets:
        qtbot.addWidget(w)
    return widgets


def _describe(w: QWidget) -> str:
    return f"{type(w).__name__} {w.objectName()!r} ({w.windowTitle()})"


@pytest.mark.parametrize("name", sorted(WINDOWS))
def test_window_fits_a_1366x768_screen(qtbot, name: str, demo_clinic: Clinic, gl: Actor) -> None:  # type: ignore[no-untyped-def]
    for w in _built(qtbot, name, demo_clinic, gl):
        w.show()
        qtbot.waitExposed(w)
        _settle(qtbot, w)
        what = _describe(w)
        assert _fits(w.minimumSize() + FRAME), f"{what}: minimumSize {w.minimumSize().toTuple()}"
        assert _fits(w.minimumSizeHint() + FRAME), f"{what}: minimumSizeHint {w.minimumSizeHint().toTuple()}"
        w.adjustSize()
        _settle(qtbot, w)
        assert _fits(_framed(w)), f"{what}: after adjustSize() the frame is {_framed(w).toTuple()}"
        w.resize(1, 1)  # as small as it lets itself be
        _settle(qtbot, w)
        assert _fits(_framed(w)), f"{what}: at its smallest the frame is {_framed(w).toTuple()}"
        assert not _hidden_buttons(w), f"{what}: buttons cut off at {w.size().toTuple()}: {_hidden_buttons(w)}"


@pytest.mark.parametrize("name", sorted(WINDOWS))
def test_window_opens_at_a_size_that_fits(qtbot, name: str, demo_clinic: Clinic, gl: Actor,  # type: ignore[no-untyped-def]
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The size it opens at on a 1366×768 screen with its taskbar: its own ``resize()`` (or a restored
    geometry) when it has one, clamped to the screen by ``geometry.fit_to_screen``."""
    from PySide6.QtCore import QRect
    from PySide6.QtGui import QScreen

    monkeypatch.setattr(QScreen, "availableGeometry", lambda _screen: QRect(QPoint(0, 0), SCREEN))
    for w in _built(qtbot, name, demo_clinic, gl):
        w.show()
        qtbot.waitExposed(w)
        _settle(qtbot, w)
        assert _fits(_framed(w)), f"{_describe(w)}: opens with a frame of {_framed(w).toTuple()}"
