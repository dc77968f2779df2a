"""上次收款未确认: after a crash, the money calls this PC wrote down are offered to the next cashier who logs in,
and 重试 uses the same key (a payment that had gone through is not charged again)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QWidget

from meike import journal
from meike.db import Clinic
from meike.permissions import Actor
from meike.services import cashier, customers, ledger
from meike.services.cashier import LineSpec
from meike.services.ledger import Tender
from tests.conftest import make_user
from tests.ui.cashier_support import click, methods
from tests.ui.waiting import settle
from ui.cashier.payment import PaymentDialog
from ui.cashier.pending import PendingMoneyDialog, offer
from ui.widgets import messages

pytestmark = pytest.mark.gui


class Crash(BaseException):
    pass


def _order(clinic: Clinic, actor: Actor) -> tuple[int, customers.CustomerRow]:
    customer = customers.search_customers(clinic, actor, limit=1)[0]
    item = cashier.find_items(clinic, actor, "syp")[0].id  # 双眼皮 ￥8,800
    return cashier.open_order(clinic, actor, customer_id=customer.id, lines=[LineSpec(item)]), customer


def _receipts(clinic: Clinic, actor: Actor, customer_id: int) -> int:
    return len([o for o in cashier.list_orders(clinic, actor, status="settled") if o.customer_id == customer_id])



def _offered(clinic: Clinic, actor: Actor) -> PendingMoneyDialog | None:
    """What ``offer`` opens after login (it reads this PC's journal off the GUI thread first)."""
    shown: list[PendingMoneyDialog] = []
    offer(None, clinic, actor, shown.append)
    settle()
    return shown[0] if shown else None

def test_a_payment_the_crash_cut_off_is_offered_after_login_and_not_charged_twice(
        qtbot, demo_clinic: Clinic, sy: Actor, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,  # type: ignore[no-untyped-def]
        _no_pdf_viewer: list[Path]) -> None:
    order_id, customer = _order(demo_clinic, sy)
    cash = methods(demo_clinic, sy)["现金"]
    real = cashier.pay

    def committed_then_the_power_goes(*args: object, **kwargs: object) -> object:
        real(*args, **kwargs)  # type: ignore[arg-type]
        raise Crash

    monkeypatch.setattr(cashier, "pay", committed_then_the_power_goes)
    with pytest.raises(Crash):
        journal.pay(demo_clinic, sy, order_id, [Tender(cash, 880_000)], idempotency_key="dialog-key",
                    customer_id=customer.id)
    monkeypatch.setattr(cashier, "pay", real)
    paid_before = ledger.customer_accounts(demo_clinic, sy, customer.id)

    # The next login of a cashier on this PC.
    dialog = _offered(demo_clinic, sy)
    assert isinstance(dialog, PendingMoneyDialog)
    qtbot.addWidget(dialog)
    assert dialog.isVisible() and dialog.windowTitle() == "上次收款未确认"
    assert dialog.list.count() == 1
    line = dialog.list.item(0).text()
    assert "收款" in line and "￥8,800.00：现金 ￥8,800.00" in line and f"（卡号 {customer.card_no}）" in line
    dialog.resize(dialog.sizeHint())
    dialog.grab().save(str(tmp_path / "pending.png"))

    click(qtbot, dialog.findChild(QWidget, "pending_money_retry"))
    message = dialog.findChild(QWidget, "pending_money_message").text()
    assert message.startswith("这笔收款当时已经办理成功，收据号 R") and message.endswith("没有重复收款")
    assert dialog.list.count() == 0 and journal.pending(demo_clinic) == []
    assert ledger.customer_accounts(demo_clinic, sy, customer.id) == paid_before
    assert cashier.get_order(demo_clinic, sy, order_id).status == "settled"
    assert dialog.print_button.isVisible()
    click(qtbot, dialog.print_button)
    assert _no_pdf_viewer and _no_pdf_viewer[0].name.startswith("R")
    assert _offered(demo_clinic, sy) is None  # nothing left to offer


def test_a_top_up_that_never_reached_the_database_is_done_by_the_retry_or_given_up(
        qtbot, demo_clinic: Clinic, sy: Actor, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    customer = customers.search_customers(demo_clinic, sy, limit=1)[0]
    cash = methods(demo_clinic, sy)["现金"]

    def dies(*_a: object, **_k: object) -> object:
        raise Crash

    with monkeypatch.context() as m:
        m.setattr(ledger, "top_up", dies)
        for key in ("lost-1", "lost-2"):
            with pytest.raises(Crash):
                journal.top_up(demo_clinic, sy, customer.id, account="prepaid", tenders=[Tender(cash, 50_000)],
                               idempotency_key=key)
    before = ledger.customer_accounts(demo_clinic, sy, customer.id).balances["prepaid"]
    dialog = _offered(demo_clinic, sy)
    assert isinstance(dialog, PendingMoneyDialog)
    qtbot.addWidget(dialog)
    assert dialog.list.count() == 2 and "预存" in dialog.list.item(0).text()
    click(qtbot, dialog.retry_button)
    assert dialog.message.text().startswith("当时没有办理成功，现在已预存 ￥500.00，收据号 R")
    asked: list[str] = []
    monkeypatch.setattr(messages, "ask", lambda _p, title, _t: asked.append(title) or False)
    click(qtbot, dialog.drop_button)  # 放弃 asks first: 否 keeps it
    assert asked == ["放弃这一笔"] and dialog.list.count() == 1
    monkeypatch.setattr(messages, "ask", lambda *_a: True)
    click(qtbot, dialog.drop_button)
    assert dialog.message.text() == "已放弃：预存 ￥500.00"
    assert dialog.list.count() == 0 and not dialog.retry_button.isEnabled()
    assert ledger.customer_accounts(demo_clinic, sy, customer.id).balances["prepaid"] == before + 50_000


def test_only_a_user_with_the_cashier_page_is_offered_them(qtbot, demo_clinic: Clinic, sy: Actor,  # type: ignore[no-untyped-def]
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    journal.write(journal.entry(demo_clinic, sy, "pay", "k", order_id=1, amount_fen=100))
    admin = make_user(demo_clinic, __import__("meike.services.accounts", fromlist=["x"]).authenticate(
        demo_clinic, "admin", "admin"), "front2", pages=[])
    assert _offered(demo_clinic, admin) is None
    dialog = _offered(demo_clinic, sy)
    assert dialog is not None
    qtbot.addWidget(dialog)


def test_the_payment_dialog_writes_the_call_down_before_sending_it(
        qtbot, demo_clinic: Clinic, sy: Actor, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    order_id, _customer = _order(demo_clinic, sy)
    dialog = PaymentDialog(demo_clinic, sy, order_id)
    settle()
    qtbot.addWidget(dialog)
    seen: list[list[str]] = []
    real = cashier.pay

    def spy(*args: object, **kwargs: object) -> object:
        seen.append([e.key for e in journal.pending(demo_clinic)])
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(cashier, "pay", spy)
    dialog.open()
    click(qtbot, dialog.findChild(QWidget, "cashier_pay_ok"))
    assert seen == [[dialog.idempotency_key]]  # on disk while the call was out
    assert dialog.result is not None and journal.pending(demo_clinic) == []  # cleared once it answered
