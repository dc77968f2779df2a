"""Value nobody pays for needs a supervisor and is audited (issue 14/11).

A coupon is money to spend. A free coupon, a coupon sold below its face value, an order line given
free (an item or a course's sessions at ￥0 where they have a price) and a promotion that gives an item
away create value without money: each needs a supervisor holding 审批低于最低价/赠送 who confirms with
their password, like a void, and the audit log names them. (A manual prepaid grant does not exist: a
top-up takes money through a payment method only, and ``--check`` reports a granted entry anywhere but
on a coupon's sale.) The desk: tests/meike/conftest_money.py (the clock at 2026-03-02).
"""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from meike.db import Clinic
from meike.errors import PermissionDenied, ValidationError
from meike.models import AuditEntry, Coupon
from meike.permissions import Page, Right, right_code
from meike.services import accounts, cashier, dictionaries, ledger, promotions
from meike.services.cashier import LineSpec, Tender
from meike.services.dictionaries import Kind
from tests.conftest import make_user
from tests.meike.conftest_money import Desk, desk_fixture, frozen_fixture, snapshot  # noqa: F401 (fixtures)

UNTIL = date(2026, 6, 30)


def cash(desk: Desk, amount: int) -> Tender:
    return Tender(desk.methods["现金"], amount)


def audit_after(clinic: Clinic, action: str) -> list[dict[str, object]]:
    with clinic.read() as s:
        return [json.loads(a or "{}") for a in s.scalars(
            select(AuditEntry.after).where(AuditEntry.action == action).order_by(AuditEntry.id))]


def test_a_cashier_alone_cannot_hand_out_a_coupon_for_nothing(clinic: Clinic, desk: Desk) -> None:
    """The attack: a ￥999,999.99 coupon for nothing, then a ￥44,500 order settled with it."""
    order_id = cashier.open_order(clinic, desk.cashier, customer_id=desk.plain,
                                  lines=[LineSpec(desk.items["双眼皮"], 5), LineSpec(desk.items["脱毛"], 1)])
    clerk = make_user(clinic, desk.admin, "clerk", pages=[Page.CASHIER], password="clerk-pass",
                      grants={right_code(Right.VOID), right_code(Right.REFUND)})
    before = snapshot(clinic)
    with pytest.raises(ValidationError) as e:
        ledger.sell_coupon(clinic, desk.cashier, desk.plain, name="券", face_value_fen=99_999_999, valid_until=UNTIL,
                           tenders=[], idempotency_key="free")
    assert e.value.errors == {"supervisor": "赠券需要主管输入密码确认"}
    with pytest.raises(ValidationError) as e:  # a token price is the same gift
        ledger.sell_coupon(clinic, desk.cashier, desk.plain, name="券", face_value_fen=99_999_999, valid_until=UNTIL,
                           tenders=[cash(desk, 100)], idempotency_key="cheap")
    assert e.value.errors == {"supervisor": "售价低于券面值（赠送 ￥999,998.99）需要主管输入密码确认"}
    with pytest.raises(PermissionDenied, match="clerk没有赠券的权限"):  # a supervisor, but not for gifts
        ledger.sell_coupon(clinic, desk.cashier, desk.plain, name="券", face_value_fen=99_999_999, valid_until=UNTIL,
                           tenders=[], idempotency_key="free", supervisor=clerk)
    assert snapshot(clinic) == before
    assert ledger.customer_accounts(clinic, desk.cashier, desk.plain).coupons == []
    with pytest.raises(ValidationError):
        cashier.pay(clinic, desk.cashier, order_id, [Tender(desk.methods["券"], 4_450_000, None)],
                    idempotency_key="pay")
    assert snapshot(clinic) == before


def test_a_gift_confirmed_by_a_supervisor_is_audited_with_them(clinic: Clinic, desk: Desk) -> None:
    boss = accounts.verify_supervisor(clinic, "boss", "boss-pass", Right.APPROVE_PRICE)
    ledger.sell_coupon(clinic, desk.cashier, desk.plain, name="生日券", face_value_fen=20_000, valid_until=UNTIL,
                       tenders=[], idempotency_key="free", supervisor=boss)
    ledger.sell_coupon(clinic, desk.cashier, desk.plain, name="代金券", face_value_fen=50_000, valid_until=UNTIL,
                       tenders=[cash(desk, 40_000)], idempotency_key="cheap", supervisor=boss)
    ledger.sell_coupon(clinic, desk.cashier, desk.plain, name="储值券", face_value_fen=30_000, valid_until=UNTIL,
                       tenders=[cash(desk, 30_000)], idempotency_key="full")  # paid in full: nobody to ask
    rows = audit_after(clinic, "account.coupon")
    assert [(r["name"], r["price_fen"], r["granted_fen"], r["supervisor"]) for r in rows] == [
        ("生日券", 0, 20_000, "boss"), ("代金券", 40_000, 10_000, "boss"), ("储值券", 30_000, 0, None)]
    with clinic.read() as s:
        assert s.scalars(select(Coupon.face_value_fen).order_by(Coupon.id)).all() == [20_000, 50_000, 30_000]


def test_an_order_line_given_free_needs_a_supervisor(clinic: Clinic, desk: Desk) -> None:
    """An item whose minimum is ￥0 may be discounted freely, but not given away; nor may a course's
    sessions (spendable value: they are deducted later)."""
    settings = make_user(clinic, desk.admin, "settings", pages=[Page.SETTINGS])
    consult = dictionaries.add_entry(clinic, settings, Kind.ITEM, {"name": "皮肤检测", "price_fen": 20_000,
                                                                   "min_price_fen": 0})
    before = snapshot(clinic)
    for line, what in ((LineSpec(consult, 1, 0), "皮肤检测"), (LineSpec(consult, 1, 0, package_sessions=10), "course"),
                       (LineSpec(desk.items["脱毛"], 1, 0, package_sessions=10), "course below its minimum")):
        with pytest.raises(ValidationError) as e:
            cashier.open_order(clinic, desk.cashier, customer_id=desk.plain, lines=[line])
        assert "需要主管审批" in e.value.errors["price"], what
    assert snapshot(clinic) == before
    assert cashier.open_order(clinic, desk.cashier, customer_id=desk.plain, lines=[LineSpec(consult, 1, 100)])
    boss = accounts.verify_supervisor(clinic, "boss", "boss-pass", Right.APPROVE_PRICE)
    cashier.open_order(clinic, desk.cashier, customer_id=desk.plain, lines=[LineSpec(consult, 1, 0, package_sessions=10)],
                       supervisor=boss)
    [approved] = audit_after(clinic, "order.price_approved")
    assert approved["supervisor_username"] == "boss"
    assert [(li["item"], li["unit_price_fen"], li["package_sessions"]) for li in approved["lines"]] == [  # type: ignore[union-attr]
        ("皮肤检测", 0, 10)]


def test_a_promotion_that_gives_an_item_away_needs_a_supervisor(clinic: Clinic, desk: Desk) -> None:
    settings = make_user(clinic, desk.admin, "settings", pages=[Page.SETTINGS])
    consult = dictionaries.add_entry(clinic, settings, Kind.ITEM, {"name": "皮肤检测", "price_fen": 20_000,
                                                                   "min_price_fen": 0})
    start = date(2026, 3, 2)
    with pytest.raises(ValidationError) as e:
        promotions.add_promotion(clinic, settings, name="免费检测", item_id=consult, starts_on=start,
                                 ends_on=start + timedelta(days=7), price_fen=0)
    assert e.value.errors["supervisor"] == "促销价 ￥0.00 等于免费赠送，低于最低价的促销需要主管输入密码确认"
    promotions.add_promotion(clinic, settings, name="半价检测", item_id=consult, starts_on=start,
                             ends_on=start + timedelta(days=7), price_fen=10_000)
    boss = accounts.verify_supervisor(clinic, "boss", "boss-pass", Right.APPROVE_PRICE)
    promotions.add_promotion(clinic, settings, name="免费检测", item_id=consult, starts_on=start + timedelta(days=8),
                             ends_on=start + timedelta(days=9), price_fen=0, supervisor=boss)
    assert [r["supervisor"] for r in audit_after(clinic, "promotion.create")] == [None, "boss"]
