"""收款 runs off the GUI thread: while it runs the payment dialog is busy (disabled), so a second click on
确认收款 cannot pay twice, and the window keeps turning."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import Qt
from sqlalchemy import func, select

from meike.db import Clinic
from meike.models import Payment
from meike.permissions import Actor
from meike.services import cashier, customers
from meike.services.cashier import LineSpec
from tests.ui.waiting import settle
from ui.cashier.payment import PaymentDialog
from ui.taskman import Lane, manager

pytestmark = pytest.mark.gui


def _payments(clinic: Clinic) -> int:
    with clinic.read() as s:
        return s.scalar(select(func.count()).select_from(Payment)) or 0


def test_the_payment_dialog_is_busy_while_the_payment_runs_and_a_second_click_pays_once(  # type: ignore[no-untyped-def]
        qtbot, demo_clinic: Clinic, sy: Actor, monkeypatch: pytest.MonkeyPatch) -> None:
    customer = customers.search_customers(demo_clinic, sy, limit=1)[0]
    item = cashier.find_items(demo_clinic, sy, "syp")[0].id
    order_id = cashier.open_order(demo_clinic, sy, customer_id=customer.id, lines=[LineSpec(item)])
    sent: list[str] = []
    real = cashier.pay

    def counted(*args: object, **kwargs: object) -> object:
        sent.append(str(kwargs.get("idempotency_key")))
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(cashier, "pay", counted)
    dialog = PaymentDialog(demo_clinic, sy, order_id)
    qtbot.addWidget(dialog)
    dialog.show()
    settle()
    assert dialog.loaded and dialog.ok.isEnabled() and dialog.amount.text() == "8800.00"

    # The database lane is held (another write, a database locked by another PC): the payment waits behind it.
    gate = threading.Event()
    manager().run(Lane.DB, lambda: gate.wait(30))
    qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
    assert not dialog.isEnabled() and not dialog.ok.isEnabled()  # busy while the payment runs
    assert dialog.cursor().shape() == Qt.CursorShape.BusyCursor
    assert dialog.isVisible() and dialog.result is None
    qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)  # the impatient second click
    qtbot.keyClick(dialog, Qt.Key.Key_Return)
    assert dialog.result is None and _payments(demo_clinic) == 0  # nothing paid yet, the window did not wait

    gate.set()
    settle()
    assert sent and len(sent) == 1  # sent once
    assert _payments(demo_clinic) == 1  # paid once
    assert dialog.result is not None and dialog.receipt_no == dialog.result.receipt_no
    assert not dialog.isVisible() and dialog.isEnabled()
    assert cashier.get_order(demo_clinic, sy, order_id).status == "settled"
