"""Promotions in the settings and at the order dialog, 业绩分配 on an unpaid order, and the price cut that
asks whether to take back the staff's performance — through the widgets."""

from __future__ import annotations

from datetime import timedelta

import pytest
from PySide6.QtCore import Qt
from sqlalchemy import func, select

from meike import clock
from meike.db import Clinic
from meike.models import OrderLine, PerformanceEntry, Promotion
from meike.permissions import Actor
from meike.services import cashier, customers, promotions, triage
from meike.services.cashier import LineSpec
from meike.services.ledger import Tender
from tests.ui.cashier_support import click, methods, page_of, ready
from tests.ui.waiting import settle
from ui.cashier.orders import RepriceDialog
from ui.cashier.shares import SharesDialog
from ui.settings.promotions import PromotionDialog, PromotionsTab
from ui.widgets import messages

pytestmark = pytest.mark.gui


def plain_customer(clinic: Clinic, actor: Actor) -> customers.CustomerRow:
    """A demo customer without a member level (the promotion's price is theirs)."""
    for row in customers.search_customers(clinic, actor, limit=60):
        if not customers.get_customer(clinic, actor, row.id).member_level_id:
            return row
    raise AssertionError("no plain customer in the demo")


def test_a_promotion_set_in_the_settings_prices_the_order_dialog(qtbot, demo_clinic: Clinic,  # type: ignore[no-untyped-def]
                                                                 gl: Actor, monkeypatch: pytest.MonkeyPatch) -> None:
    tab = PromotionsTab(demo_clinic, gl)
    qtbot.addWidget(tab)
    tab.show()
    settle()
    assert [tab.model.item(r, 0).text() for r in range(tab.model.rowCount())] == ["冬季嫩肤特惠"]  # the demo's
    dialog = tab.add()
    assert isinstance(dialog, PromotionDialog)
    settle()  # the items read
    dialog.name.setText("水光针体验价")
    dialog.item.setCurrentIndex(dialog.item.findText("水光针", Qt.MatchFlag.MatchStartsWith))
    qtbot.keyClicks(dialog.value, "800")  # below the ￥880 minimum
    assert dialog.preview.text() == "￥800.00　原价 ￥1,280.00（低于最低价，需主管确认）"
    click(qtbot, dialog.ok)
    settle()
    assert dialog.isVisible() and dialog.form.error_text("supervisor") == "请主管输入用户名和密码"
    qtbot.keyClicks(dialog.supervisor.user, "gl")
    qtbot.keyClicks(dialog.supervisor.password, "123")
    click(qtbot, dialog.ok)
    settle()
    assert not dialog.isVisible()
    row = next(r for r in range(tab.model.rowCount()) if tab.model.item(r, 0).text() == "水光针体验价")
    assert [tab.model.item(row, c).text() for c in (1, 3, 6)] == ["水光针", "特价 ￥800.00", "进行中"]

    page = page_of(qtbot, demo_clinic, gl)
    order = page.new_order()
    settle()
    customer = plain_customer(demo_clinic, gl)
    order.customer_search.setText(customer.card_no)
    settle()
    qtbot.keyClick(order.customer_search, Qt.Key.Key_Return)
    settle()
    qtbot.keyClicks(order.item_search, "sgz")
    settle()
    assert "【促销：水光针体验价 ￥800.00】" in order.item_list.item(0).text()
    qtbot.keyClick(order.item_search, Qt.Key.Key_Return)
    settle()
    assert order.price.text() == "800.00"
    assert order.price_note.text() == "已按促销：水光针体验价计价（原价 ￥1,280.00）"
    click(qtbot, order.add_line_button)
    assert order.line_table.item(0, 0).text() == "水光针　促销：水光针体验价"
    assert not order.needs_approval  # the promotion approved its price
    click(qtbot, order.ok)
    assert not order.isVisible()
    with demo_clinic.read() as s:
        line = s.scalars(select(OrderLine).where(OrderLine.order_id == order.saved_id)).one()
        promo = s.scalars(select(Promotion.id).where(Promotion.name == "水光针体验价")).one()
        assert (line.unit_price_fen, line.promotion_id) == (80_000, promo)
        item_id = line.item_id

    # Stopped, it no longer prices new lines.
    tab.view.selectRow(row)
    monkeypatch.setattr(messages, "ask", lambda *_a: True)
    click(qtbot, tab.stop_button)
    settle()
    assert tab.status.text() == "促销“水光针体验价”已停止"
    assert cashier.quote(demo_clinic, gl, customer_id=customer.id,
                         item_id=item_id).price_fen == 128_000


def test_shares_are_set_from_the_menu_and_credited_at_settlement(qtbot, demo_clinic: Clinic,  # type: ignore[no-untyped-def]
                                                                  gl: Actor) -> None:
    customer = plain_customer(demo_clinic, gl)
    item = cashier.find_items(demo_clinic, gl, "xy")[0].id  # 洗牙 ￥298
    order_id = cashier.open_order(demo_clinic, gl, customer_id=customer.id, lines=[LineSpec(item, 1, 29_800)])
    page = page_of(qtbot, demo_clinic, gl)
    page.unpaid.select_order(order_id)
    [action] = [a for a in page.build_menu(page.unpaid).actions() if a.objectName() == "cashier_action_shares"]
    action.trigger()
    settle()
    dialog = page.dialog
    assert isinstance(dialog, SharesDialog)
    (first, first_pct), (second, second_pct), _third = dialog.rows["consultant"]
    first.setCurrentIndex(first.findText("李静"))
    settle()
    assert first_pct.value() == 100  # the first person picked gets it all
    first_pct.setValue(60)
    second.setCurrentIndex(second.findText("王芳"))
    settle()
    assert second_pct.value() == 40  # the next one what is left
    second_pct.setValue(50)
    click(qtbot, dialog.ok)
    assert dialog.isVisible()
    assert dialog.message.text() == "" and dialog.form.error_text("shares") == "咨询业绩比例合计应为 100%，现在是 110%"
    second_pct.setValue(40)
    click(qtbot, dialog.ok)
    assert not dialog.isVisible()
    assert page.status.text() == f"已保存 {customer.name} 这张单的业绩分配"
    cashier.pay(demo_clinic, gl, order_id, [Tender(methods(demo_clinic, gl)["现金"], 29_800)], idempotency_key="s1")
    staff = dict((name, staff_id) for staff_id, name in triage.consultants(demo_clinic, gl))
    with demo_clinic.read() as s:
        held = dict(s.execute(select(PerformanceEntry.staff_id, func.sum(PerformanceEntry.amount_fen))
                              .where(PerformanceEntry.order_id == order_id, PerformanceEntry.role == "consultant")
                              .group_by(PerformanceEntry.staff_id)).tuples().all())
    assert held == {staff["李静"]: 17_880, staff["王芳"]: 11_920}


def test_a_price_cut_can_keep_the_staff_performance(qtbot, demo_clinic: Clinic, gl: Actor) -> None:  # type: ignore[no-untyped-def]
    customer = plain_customer(demo_clinic, gl)
    item = cashier.find_items(demo_clinic, gl, "sgz")[0].id  # 水光针 ￥1,280
    consultant = triage.consultants(demo_clinic, gl)[0][0]
    order_id = cashier.open_order(demo_clinic, gl, customer_id=customer.id, consultant_id=consultant,
                                  lines=[LineSpec(item, 1, 128_000)])
    cashier.pay(demo_clinic, gl, order_id, [Tender(methods(demo_clinic, gl)["现金"], 128_000)], idempotency_key="p1")
    page = page_of(qtbot, demo_clinic, gl)
    page.tabs.setCurrentWidget(page.paid)
    ready(qtbot, page)
    page.paid.select_order(order_id)
    dialog = page.reprice_line()
    settle()
    assert isinstance(dialog, RepriceDialog)
    assert not dialog.reverse.isVisibleTo(dialog)  # only a cut refunds
    dialog.price.setText("1000")
    settle()
    assert dialog.reverse.isVisibleTo(dialog) and dialog.reverse.isChecked()
    click(qtbot, dialog.reverse)
    dialog.reason.setText("按活动价退差")
    dialog.supervisor.user.setText("gl")
    dialog.supervisor.password.setText("123")
    click(qtbot, dialog.ok)
    assert not dialog.isVisible()
    with demo_clinic.read() as s:
        held = dict(s.execute(select(PerformanceEntry.role, func.sum(PerformanceEntry.amount_fen))
                              .where(PerformanceEntry.order_id == order_id).group_by(PerformanceEntry.role))
                    .tuples().all())
    assert held["consultant"] == 128_000 and held["department"] == 100_000
    assert promotions.list_promotions(demo_clinic, gl)[0].ends_on == clock.now().date() + timedelta(days=27)


def test_prices_the_dialog_filled_in_follow_the_customer_typed_ones_stay(qtbot, demo_clinic: Clinic,  # type: ignore[no-untyped-def]
                                                                         gl: Actor) -> None:
    plain = plain_customer(demo_clinic, gl)
    water = cashier.find_items(demo_clinic, gl, "sgz")[0].id
    member = next(r for r in customers.search_customers(demo_clinic, gl, limit=120)  # a discount level
                  if cashier.quote(demo_clinic, gl, customer_id=r.id, item_id=water).price_fen < 128_000)
    settle()
    page = page_of(qtbot, demo_clinic, gl)
    order = page.new_order()
    settle()
    for code, typed in (("sgz", None), ("xy", "250")):
        qtbot.keyClicks(order.item_search, code)
        settle()
        qtbot.keyClick(order.item_search, Qt.Key.Key_Return)
        settle()
        if typed:
            order.price.setText(typed)
            settle()
        click(qtbot, order.add_line_button)
    assert [line.unit_price_fen for line in order.lines] == [128_000, 25_000]  # nobody chosen: list price
    order.customer_search.setText(member.card_no)
    settle()
    qtbot.keyClick(order.customer_search, Qt.Key.Key_Return)
    settle()
    expected = cashier.quote(demo_clinic, gl, customer_id=member.id, item_id=order.lines[0].item.id).price_fen
    assert expected < 128_000 and [line.unit_price_fen for line in order.lines] == [expected, 25_000]
    order.customer_search.setText(plain.card_no)
    settle()
    qtbot.keyClick(order.customer_search, Qt.Key.Key_Return)
    settle()
    assert [line.unit_price_fen for line in order.lines] == [128_000, 25_000]
