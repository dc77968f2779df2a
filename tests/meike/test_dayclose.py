"""Daily close 日结, the business date 营业日期 and the closed-day lock, with one worked day.

The day (2026-03-02, cashiers sy and shou):

    R-0001  sy    张三 预存 top-up           现金 ￥1,000
    R-0002  sy    张三 定金 (钱推介, 美容外科)  微信 ￥500
    R-0003  sy    李四 双眼皮 + 水光针 ￥10,080  现金 ￥5,000 + 银行卡 ￥4,080, ￥1,000 on arrears
    R-0004  sy    张三 脱毛 (金卡 ￥450)        预存 ￥450
    R-0005  shou  李四 pays the arrears        现金 ￥1,000
    R-0006  sy    李四 水光针 refund ￥280       现金 −￥280 (performance reversed)
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import cast

import pytest
from sqlalchemy import Table, delete, select, update

from meike.db import Clinic
from meike.errors import PermissionDenied, ValidationError
from meike.models import AccountEntry, Order, OrderLine, Payment, Receipt, SystemSetting
from meike.permissions import Page
from meike.services import bizday, cashier, dayclose, ledger
from meike.services.cashier import LineSpec, Tender
from meike.services.dayclose import DayReport
from tests.conftest import make_user
from tests.meike.conftest_money import Desk, desk_fixture, frozen_fixture, snapshot  # noqa: F401 (fixtures)

MONDAY = date(2026, 3, 2)
TUESDAY = date(2026, 3, 3)


def the_day(clinic: Clinic, desk: Desk) -> dict[str, int]:
    """Post the worked day; returns the order ids."""
    m = desk.methods
    shou = make_user(clinic, desk.admin, "shou", pages=[Page.CASHIER])
    ledger.top_up(clinic, desk.cashier, desk.member, account="prepaid", tenders=[Tender(m["现金"], 100_000)],
                  idempotency_key="1")
    ledger.top_up(clinic, desk.cashier, desk.member, account="deposit", tenders=[Tender(m["微信"], 50_000)],
                  idempotency_key="2", staff_id=desk.staff["钱推介"], department_id=desk.departments["美容外科"])
    big = cashier.open_order(clinic, desk.cashier, customer_id=desk.plain, consultant_id=desk.staff["王咨询"],
                             lines=[LineSpec(desk.items["双眼皮"]), LineSpec(desk.items["水光针"])])
    cashier.pay(clinic, desk.cashier, big, [Tender(m["现金"], 500_000), Tender(m["银行卡"], 408_000)],
                idempotency_key="3", allow_arrears=True)
    small = cashier.open_order(clinic, desk.cashier, customer_id=desk.member, lines=[LineSpec(desk.items["脱毛"])])
    cashier.pay(clinic, desk.cashier, small, [Tender(m["预存"], 45_000)], idempotency_key="4")
    cashier.pay(clinic, shou, big, [Tender(m["现金"], 100_000)], idempotency_key="5")
    with clinic.read() as s:
        line = s.scalar(select(OrderLine.id).where(OrderLine.order_id == big, OrderLine.item_name == "水光针"))
    assert line is not None
    cashier.refund_line(clinic, desk.cashier, line, amount_fen=28_000, tenders=[Tender(m["现金"], 28_000)],
                        reason="少做一次", supervisor=desk.boss, reverse_performance=True, idempotency_key="6")
    return {"big": big, "small": small}


MONDAY_REPORT = DayReport(
    business_date=MONDAY, receipts=6, first_receipt_no="R20260302-0001", last_receipt_no="R20260302-0006",
    by_method={"微信": 50_000, "现金": 672_000, "银行卡": 408_000, "预存": 45_000},
    by_account={"欠款": 0, "定金": 50_000, "预存": 55_000},
    by_department={"皮肤科": 145_000, "美容外科": 880_000},
    by_cashier={"shou": 100_000, "sy": 1_030_000},
    expected_cash_fen=672_000, received_fen=1_130_000)


def test_the_day_report_totals_by_method_account_department_and_cashier(clinic: Clinic, desk: Desk) -> None:
    the_day(clinic, desk)
    assert dayclose.day_report(clinic, desk.cashier) == MONDAY_REPORT
    assert dayclose.business_day(clinic, desk.cashier) == dayclose.BusinessDay(MONDAY, True, None)


def test_close_compares_counted_cash_and_a_difference_needs_a_note(clinic: Clinic, desk: Desk) -> None:
    the_day(clinic, desk)
    before = snapshot(clinic)
    with pytest.raises(ValidationError) as e:
        dayclose.close_day(clinic, desk.cashier, counted_cash_fen=670_000)
    assert e.value.errors == {"note": "清点现金与应有现金 ￥6,720.00 相差 -￥20.00，请填写说明"}
    with pytest.raises(ValidationError) as e:
        dayclose.close_day(clinic, desk.cashier, counted_cash_fen=-1)
    assert e.value.errors == {"counted_cash": "请填写清点的现金金额"}
    assert snapshot(clinic) == before
    report = dayclose.close_day(clinic, desk.cashier, counted_cash_fen=670_000, note="找零少了 20 元")
    assert report == MONDAY_REPORT
    [closed] = dayclose.closed_days(clinic, desk.cashier, MONDAY, TUESDAY)
    assert (closed.business_date, closed.closed_by, closed.received_fen, closed.expected_cash_fen,
            closed.counted_cash_fen, closed.receipts, closed.note) == (
        MONDAY, "sy", 1_130_000, 672_000, 670_000, 6, "找零少了 20 元")
    with pytest.raises(ValidationError) as e:
        dayclose.close_day(clinic, desk.cashier, counted_cash_fen=0, day=MONDAY)
    assert e.value.errors == {"business_date": "2026-03-02 已经日结"}


def test_after_the_close_money_posts_on_the_next_day_which_cannot_be_closed_early(
        clinic: Clinic, desk: Desk, frozen: list[datetime]) -> None:
    dayclose.close_day(clinic, desk.cashier, counted_cash_fen=0)  # an empty day closes too
    assert dayclose.business_day(clinic, desk.cashier) == dayclose.BusinessDay(TUESDAY, False, MONDAY)
    late = ledger.top_up(clinic, desk.cashier, desk.plain, account="prepaid",
                         tenders=[Tender(desk.methods["现金"], 1_000)], idempotency_key="late")
    assert late.receipt_no == "R20260303-0001"
    with pytest.raises(ValidationError) as e:
        dayclose.close_day(clinic, desk.cashier, counted_cash_fen=1_000)
    assert e.value.errors == {"business_date": "不能为将来的日期日结"}
    frozen[0] = datetime(2026, 3, 3, 21, 0)
    assert dayclose.close_day(clinic, desk.cashier, counted_cash_fen=1_000).received_fen == 1_000
    assert [d.business_date for d in dayclose.closed_days(clinic, desk.cashier, MONDAY, TUESDAY)] == [TUESDAY, MONDAY]


def test_a_closed_day_never_changes(clinic: Clinic, desk: Desk, frozen: list[datetime],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    orders = the_day(clinic, desk)
    dayclose.close_day(clinic, desk.cashier, counted_cash_fen=672_000)
    frozen[0] = datetime(2026, 3, 3, 9, 0)
    before = snapshot(clinic)
    message = "2026-03-02 已日结，不能再修改；更正请在当前营业日期办理"

    # Code that edits, deletes or adds a row of the closed day is stopped at the flush.
    with pytest.raises(bizday.DayClosed, match=message), clinic.write() as s:
        payment = s.scalar(select(Payment).where(Payment.business_date == MONDAY).limit(1))
        assert payment is not None
        payment.amount_fen += 100
    with pytest.raises(bizday.DayClosed), clinic.write() as s:
        s.delete(s.scalar(select(AccountEntry).where(AccountEntry.business_date == MONDAY).limit(1)))
    with pytest.raises(bizday.DayClosed), clinic.write() as s:
        payment = s.scalar(select(Payment).where(Payment.business_date == MONDAY).limit(1))
        assert payment is not None
        payment.business_date = TUESDAY  # moving it out of the day changes the day too
    with pytest.raises(bizday.DayClosed), clinic.write() as s:
        receipt = s.scalar(select(Receipt).where(Receipt.business_date == MONDAY).limit(1))
        assert receipt is not None
        receipt.receipt_no = "R20260302-0099"
    # A service that still believed Monday was open (a stale business date) is refused the same way.
    with monkeypatch.context() as m:
        m.setattr(bizday, "open_business_date", lambda s: MONDAY)
        with pytest.raises(bizday.DayClosed, match=message):
            ledger.top_up(clinic, desk.cashier, desk.plain, account="prepaid",
                          tenders=[Tender(desk.methods["现金"], 1_000)], idempotency_key="stale")
    # A supervisor cannot reopen it; a date forced into the settings is skipped.
    with pytest.raises(ValidationError) as e:
        dayclose.set_business_date(clinic, desk.cashier, MONDAY, supervisor=desk.boss)
    assert e.value.errors == {"business_date": "2026-03-02 已经日结，不能再营业"}
    assert snapshot(clinic) == before
    with clinic.write() as s:
        s.add(SystemSetting(key=bizday.SETTING, value=MONDAY.isoformat()))
    assert ledger.top_up(clinic, desk.cashier, desk.plain, account="prepaid",
                         tenders=[Tender(desk.methods["现金"], 1_000)], idempotency_key="t").receipt_no == (
        "R20260303-0001")

    # Corrections of Monday's orders post on Tuesday; Monday's receipts are marked voided, numbers kept.
    void = cashier.void(clinic, desk.cashier, orders["small"], reason="录错", supervisor=desk.boss,
                        reverse_performance=True, idempotency_key="v")
    assert void.receipt_no == "R20260303-0002"
    with clinic.read() as s:
        assert s.scalar(select(Receipt.status).where(Receipt.receipt_no == "R20260302-0004")) == "voided"
        assert dayclose.report_in(s, MONDAY) == MONDAY_REPORT
    assert dayclose.day_report(clinic, desk.cashier, MONDAY) == MONDAY_REPORT
    tuesday = dayclose.day_report(clinic, desk.cashier)
    assert (tuesday.business_date, tuesday.by_method, tuesday.by_account, tuesday.by_department) == (
        TUESDAY, {"现金": 1_000, "预存": -45_000}, {"预存": 46_000}, {"皮肤科": -45_000})


def _lines(clinic: Clinic) -> list[tuple[object, ...]]:
    with clinic.read() as s:
        return [tuple(r) for r in s.execute(select(OrderLine.id, OrderLine.order_id, OrderLine.quantity,
                                                   OrderLine.amount_fen).order_by(OrderLine.id))]


def test_bulk_statements_and_settled_orders_of_a_closed_day_are_refused(clinic: Clinic, desk: Desk,
                                                                       frozen: list[datetime]) -> None:
    orders = the_day(clinic, desk)
    dayclose.close_day(clinic, desk.cashier, counted_cash_fen=672_000)
    frozen[0] = datetime(2026, 3, 3, 9, 0)
    before = snapshot(clinic), _lines(clinic)
    # A bulk UPDATE / DELETE never reaches the flush guard: it is refused before it runs, and writes nothing.
    with pytest.raises(bizday.DayClosed, match="不能批量修改或删除"), clinic.write() as s:
        s.execute(update(Payment).where(Payment.business_date == MONDAY).values(amount_fen=Payment.amount_fen + 100))
    with pytest.raises(bizday.DayClosed), clinic.write() as s:
        s.execute(update(cast(Table, Payment.__table__)).where(Payment.business_date == MONDAY).values(amount_fen=1))
    with pytest.raises(bizday.DayClosed), clinic.write() as s:
        s.execute(delete(AccountEntry).where(AccountEntry.business_date == MONDAY))
    with pytest.raises(bizday.DayClosed), clinic.write() as s:
        s.execute(update(OrderLine).where(OrderLine.order_id == orders["big"]).values(quantity=2))
    # A settled order of the closed day and its lines: not edited, added to or removed from.
    message = "2026-03-02 已日结，不能再修改"
    with pytest.raises(bizday.DayClosed, match=message), clinic.write() as s:
        line = s.scalar(select(OrderLine).where(OrderLine.order_id == orders["big"]).limit(1))
        assert line is not None
        line.amount_fen -= 100
    with pytest.raises(bizday.DayClosed, match=message), clinic.write() as s:
        line = s.scalar(select(OrderLine).where(OrderLine.order_id == orders["big"]).limit(1))
        assert line is not None
        s.delete(line)
    with pytest.raises(bizday.DayClosed, match=message), clinic.write() as s:
        s.add(OrderLine(order_id=orders["big"], item_id=desk.items["脱毛"], item_name="脱毛", quantity=1,
                        unit_price_fen=1, amount_fen=1))
    with pytest.raises(bizday.DayClosed, match=message), clinic.write() as s:
        order = s.get(Order, orders["small"])
        assert order is not None
        order.total_fen += 100
    assert (snapshot(clinic), _lines(clinic)) == before
    with clinic.write() as s:  # what may change later: an invoice, a reprint (and a void: below)
        order = s.get(Order, orders["small"])
        assert order is not None
        order.invoice_title = "某公司"
        receipt = s.scalar(select(Receipt).where(Receipt.business_date == MONDAY).limit(1))
        assert receipt is not None
        receipt.reprints += 1
    cashier.void(clinic, desk.cashier, orders["small"], reason="录错", supervisor=desk.boss,
                 reverse_performance=True, idempotency_key="v")
    with clinic.read() as s:
        assert dayclose.report_in(s, MONDAY) == MONDAY_REPORT
    # Open orders (no business day yet) are edited as before.
    fresh = cashier.open_order(clinic, desk.cashier, customer_id=desk.plain, lines=[LineSpec(desk.items["脱毛"])])
    with clinic.write() as s:
        line = s.scalar(select(OrderLine).where(OrderLine.order_id == fresh))
        assert line is not None
        line.doctor_id = desk.staff["王咨询"]


def test_changing_the_business_date_needs_a_supervisor(clinic: Clinic, desk: Desk, frozen: list[datetime]) -> None:
    frozen[0] = datetime(2026, 3, 4, 9, 0)
    before = snapshot(clinic)
    with pytest.raises(ValidationError) as e:
        dayclose.set_business_date(clinic, desk.cashier, TUESDAY, supervisor=None)
    assert e.value.errors == {"supervisor": "更改营业日期需要主管输入密码确认"}
    with pytest.raises(PermissionDenied, match="sy没有更改营业日期的权限"):
        dayclose.set_business_date(clinic, desk.cashier, TUESDAY, supervisor=desk.cashier)
    for far in (date(2026, 1, 31), date(2026, 3, 6)):
        with pytest.raises(ValidationError) as e:
            dayclose.set_business_date(clinic, desk.cashier, far, supervisor=desk.boss)
        assert e.value.errors == {"business_date": "营业日期只能在最近一个月内或明天"}
    assert snapshot(clinic) == before

    # Yesterday was never closed: the supervisor picks it, money posts on it, its close puts the calendar back.
    assert dayclose.set_business_date(clinic, desk.cashier, TUESDAY, supervisor=desk.boss) == TUESDAY
    assert dayclose.business_day(clinic, desk.cashier) == dayclose.BusinessDay(TUESDAY, False, None)
    result = ledger.top_up(clinic, desk.cashier, desk.plain, account="prepaid",
                           tenders=[Tender(desk.methods["现金"], 1_000)], idempotency_key="t")
    assert result.receipt_no == "R20260303-0001"
    dayclose.close_day(clinic, desk.cashier, counted_cash_fen=1_000)
    assert dayclose.business_day(clinic, desk.cashier) == dayclose.BusinessDay(date(2026, 3, 4), True, TUESDAY)


def test_revenue_and_performance_for_a_range(clinic: Clinic, desk: Desk, frozen: list[datetime]) -> None:
    the_day(clinic, desk)
    dayclose.close_day(clinic, desk.cashier, counted_cash_fen=672_000)
    frozen[0] = datetime(2026, 3, 3, 10, 0)
    extra = cashier.open_order(clinic, desk.cashier, customer_id=desk.vip,
                               lines=[LineSpec(desk.items["脱毛"], 2)])  # 钻石卡: 2 × ￥300
    cashier.pay(clinic, desk.cashier, extra, [Tender(desk.methods["微信"], 60_000)], idempotency_key="x")
    revenue = dayclose.revenue(clinic, desk.cashier, MONDAY, TUESDAY)
    assert (revenue.received_fen, revenue.sales_fen) == (1_190_000, 1_085_000)
    assert revenue.by_method == {"微信": 110_000, "现金": 672_000, "银行卡": 408_000, "预存": 45_000}
    assert revenue.by_department == {"皮肤科": 205_000, "美容外科": 880_000}
    assert dayclose.revenue(clinic, desk.cashier, TUESDAY, TUESDAY).received_fen == 60_000
    with pytest.raises(ValidationError):
        dayclose.revenue(clinic, desk.cashier, TUESDAY, MONDAY)
    rows = [(r.role, r.name, r.amount_fen) for r in dayclose.performance_report(clinic, desk.cashier, MONDAY, MONDAY)]
    assert rows == [("咨询", "王咨询", 980_000), ("科室", "皮肤科", 145_000), ("科室", "美容外科", 880_000),
                    ("科室定金", "美容外科", 50_000), ("开发", "赵开发", 45_000), ("推介", "钱推介", 50_000)]


def test_receipt_numbers_of_a_day_have_no_gaps_even_after_refusals(clinic: Clinic, desk: Desk,
                                                                    frozen: list[datetime]) -> None:
    cash = desk.methods["现金"]
    for i in range(3):
        with pytest.raises(ValidationError):
            ledger.top_up(clinic, desk.cashier, desk.plain, account="prepaid", tenders=[Tender(cash, -1)],
                          idempotency_key=f"bad{i}")
        with pytest.raises(ValidationError):  # refused after its receipt took a number: rolled back with it
            ledger.sell_coupon(clinic, desk.cashier, desk.plain, name="券", face_value_fen=100,
                               valid_until=MONDAY, tenders=[Tender(cash, 200)], idempotency_key=f"dear{i}")
        ledger.top_up(clinic, desk.cashier, desk.plain, account="prepaid", tenders=[Tender(cash, 100)],
                      idempotency_key=f"ok{i}")
    frozen[0] += timedelta(hours=3)
    with clinic.read() as s:
        assert list(s.scalars(select(Receipt.receipt_no).order_by(Receipt.id))) == [
            "R20260302-0001", "R20260302-0002", "R20260302-0003"]
