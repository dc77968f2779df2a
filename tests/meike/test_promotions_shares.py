"""Promotions 促销 and performance shares 业绩分配 / 项目业绩比例, with exact figures.

The desk (tests/meike/conftest_money.py): 双眼皮 ￥8,800 (min ￥6,000), 水光针 ￥1,280 (min ￥880),
脱毛 ￥500 (min ￥300); 张三 is 金卡 (90%) developed by 赵开发, 李四 has no level. 2026-03-02 09:00.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from meike.db import Clinic
from meike.errors import PermissionDenied, ValidationError
from meike.models import AuditEntry, OrderLine, PerformanceEntry
from meike.permissions import Actor, Page
from meike.services import cashier, dictionaries, ledger, promotions
from meike.services.cashier import LineSpec, ShareSpec, Tender
from meike.services.dictionaries import Kind
from meike.services.performance import percent_of, split
from tests.conftest import make_user
from tests.meike.conftest_money import Desk, desk_fixture, frozen_fixture  # noqa: F401 (fixtures)

TODAY = date(2026, 3, 2)


@pytest.fixture(name="manager")
def manager_fixture(clinic: Clinic, desk: Desk) -> Actor:
    """Sets prices and promotions in the settings (no supervisor rights of their own)."""
    return make_user(clinic, desk.admin, "mgr", pages=[Page.SETTINGS, Page.CASHIER])


def cash(desk: Desk, amount: int) -> Tender:
    return Tender(desk.methods["现金"], amount)


def line_of(clinic: Clinic, order_id: int) -> OrderLine:
    with clinic.read() as s:
        line = s.scalars(select(OrderLine).where(OrderLine.order_id == order_id)).one()
        s.expunge(line)
        return line


def credit(clinic: Clinic, order_id: int) -> dict[tuple[str, int | None], int]:
    """Performance held per (role, staff id); the department under (department, None)."""
    with clinic.read() as s:
        rows = s.execute(select(PerformanceEntry.role, PerformanceEntry.staff_id, func.sum(PerformanceEntry.amount_fen))
                         .where(PerformanceEntry.order_id == order_id)
                         .group_by(PerformanceEntry.role, PerformanceEntry.staff_id)).tuples()
        return {(role, staff): int(total) for role, staff, total in rows}


def settle(clinic: Clinic, desk: Desk, order_id: int, amount: int, key: str) -> None:
    cashier.pay(clinic, desk.cashier, order_id, [cash(desk, amount)], idempotency_key=key)


# --- the arithmetic --------------------------------------------------------------------------


def test_split_gives_parts_that_sum_to_the_amount() -> None:
    assert split(100_00, [70, 30]) == [70_00, 30_00]
    assert split(1_00, [1, 1, 1]) == [34, 33, 33]
    assert split(-1_00, [1, 1, 1]) == [-34, -33, -33]
    assert sum(split(999_999, [33, 33, 34])) == 999_999
    assert split(5, [0, 0]) == [0, 0]
    assert percent_of(12_345, 50) == 6_173 and percent_of(-12_345, 50) == -6_173


# --- promotions --------------------------------------------------------------------------------


def test_a_running_promotion_prices_new_lines_and_needs_no_supervisor_below_the_minimum(
        clinic: Clinic, desk: Desk, manager: Actor) -> None:
    item = desk.items["双眼皮"]
    with pytest.raises(ValidationError) as e:  # ￥5,000 is below the ￥6,000 minimum
        promotions.add_promotion(clinic, manager, name="春季特惠", item_id=item, price_fen=500_000,
                                 starts_on=TODAY, ends_on=TODAY + timedelta(days=30))
    assert "低于最低价" in e.value.errors["supervisor"]
    promo = promotions.add_promotion(clinic, manager, name="春季特惠", item_id=item, price_fen=500_000,
                                     starts_on=TODAY, ends_on=TODAY + timedelta(days=30), supervisor=desk.boss)
    quote = cashier.quote(clinic, desk.cashier, customer_id=desk.plain, item_id=item)
    assert (quote.list_price_fen, quote.price_fen, quote.minimum_fen, quote.promotion_id) == (
        880_000, 500_000, 500_000, promo)
    assert quote.note == "促销：春季特惠"
    # The order dialog sends the price it showed; no supervisor is needed at the promotion's price.
    order = cashier.open_order(clinic, desk.cashier, customer_id=desk.plain,
                               lines=[LineSpec(item, 1, 500_000)])
    line = line_of(clinic, order)
    assert (line.unit_price_fen, line.list_price_fen, line.promotion_id) == (500_000, 880_000, promo)
    # Below the promotion's price is a manual discount again.
    with pytest.raises(ValidationError) as e:
        cashier.open_order(clinic, desk.cashier, customer_id=desk.plain, lines=[LineSpec(item, 1, 490_000)])
    assert "需要主管审批" in e.value.errors["price"]
    # A course is priced per session: 3 sessions at the promotion's price.
    course = cashier.quote(clinic, desk.cashier, customer_id=desk.plain, item_id=item, sessions=3)
    assert (course.price_fen, course.minimum_fen) == (1_500_000, 1_500_000)
    with clinic.read() as s:
        after = s.scalars(select(AuditEntry.after).where(AuditEntry.action == "promotion.create")).one() or ""
    assert '"supervisor": "boss"' in after and '"unit_price_fen": 500000' in after
    items = cashier.find_items(clinic, desk.cashier, "双眼皮")
    assert items[0].promotion == "促销：春季特惠 ￥5,000.00"


def test_a_member_pays_the_lower_of_the_promotion_and_the_member_discount(
        clinic: Clinic, desk: Desk, manager: Actor) -> None:
    item = desk.items["水光针"]  # ￥1,280; 张三 金卡 90% → ￥1,152
    promotions.add_promotion(clinic, manager, name="水光九五折", item_id=item, discount_permille=950,
                             starts_on=TODAY, ends_on=TODAY)
    assert cashier.quote(clinic, desk.cashier, customer_id=desk.member, item_id=item).price_fen == 115_200
    plain = cashier.quote(clinic, desk.cashier, customer_id=desk.plain, item_id=item)
    assert (plain.price_fen, plain.note) == (121_600, "促销：水光九五折")
    # A line left to the service's price (no unit price) gets the same.
    order = cashier.open_order(clinic, desk.cashier, customer_id=desk.plain, lines=[LineSpec(item, 2)])
    assert line_of(clinic, order).amount_fen == 243_200


def test_promotions_only_apply_on_their_days_and_until_stopped(clinic: Clinic, desk: Desk, manager: Actor,
                                                             frozen: list) -> None:  # type: ignore[type-arg]
    item = desk.items["脱毛"]
    later = promotions.add_promotion(clinic, manager, name="五一特价", item_id=item, price_fen=40_000,
                                     starts_on=TODAY + timedelta(days=3), ends_on=TODAY + timedelta(days=5))
    assert cashier.quote(clinic, desk.cashier, customer_id=desk.plain, item_id=item).price_fen == 50_000
    with pytest.raises(ValidationError) as e:
        promotions.add_promotion(clinic, manager, name="重叠", item_id=item, price_fen=45_000,
                                 starts_on=TODAY, ends_on=TODAY + timedelta(days=3))
    assert "五一特价" in e.value.errors["starts_on"]
    frozen[0] = frozen[0] + timedelta(days=4)
    assert cashier.quote(clinic, desk.cashier, customer_id=desk.plain, item_id=item).price_fen == 40_000
    assert [p.state(frozen[0].date()) for p in promotions.list_promotions(clinic, manager)] == ["进行中"]
    promotions.stop_promotion(clinic, manager, later)
    assert cashier.quote(clinic, desk.cashier, customer_id=desk.plain, item_id=item).price_fen == 50_000
    assert promotions.list_promotions(clinic, manager) == []
    assert [p.state(frozen[0].date()) for p in promotions.list_promotions(clinic, manager, include_finished=True)
            ] == ["已停止"]


def test_promotion_form_errors_are_per_field_and_nothing_is_written(clinic: Clinic, desk: Desk,
                                                                    manager: Actor) -> None:
    with pytest.raises(ValidationError) as e:
        promotions.add_promotion(clinic, manager, name=" ", item_id=None, price_fen=100, discount_permille=900,
                                 starts_on=TODAY, ends_on=TODAY - timedelta(days=1))
    assert e.value.errors == {"name": "请填写促销名称", "item_id": "请选择促销项目",
                              "price": "请填写特价或折扣（二选一）", "ends_on": "结束日期不能早于开始日期"}
    with pytest.raises(ValidationError) as e:
        promotions.add_promotion(clinic, manager, name="贵了", item_id=desk.items["脱毛"], price_fen=60_000,
                                 starts_on=TODAY, ends_on=TODAY)
    assert e.value.errors == {"price": "特价不能高于项目单价 ￥500.00"}
    with pytest.raises(PermissionDenied):
        promotions.add_promotion(clinic, desk.cashier, name="收银不能设促销", item_id=desk.items["脱毛"],
                                 price_fen=40_000, starts_on=TODAY, ends_on=TODAY)
    assert promotions.list_promotions(clinic, manager, include_finished=True) == []


# --- performance shares ----------------------------------------------------------------------


def test_item_share_and_order_split_credit_exact_amounts(clinic: Clinic, desk: Desk, manager: Actor) -> None:
    item = desk.items["水光针"]
    entry = dictionaries.get_entry(clinic, manager, Kind.ITEM, item)
    dictionaries.update_entry(clinic, manager, Kind.ITEM, item, dict(
        entry.fields, name=entry.name, share_consultant_pct=50, share_doctor_pct=20, share_developer_pct=0))
    second = dictionaries.add_entry(clinic, manager, Kind.STAFF, {"name": "孙咨询", "roles": ["onsite_consultant"]})
    order = cashier.open_order(
        clinic, desk.cashier, customer_id=desk.plain, consultant_id=desk.staff["王咨询"],
        lines=[LineSpec(item, 1, 100_001, doctor_id=desk.staff["李医生"])],
        shares=[ShareSpec("consultant", desk.staff["王咨询"], 70), ShareSpec("consultant", second, 30)])
    settle(clinic, desk, order, 100_001, "k-settle")
    # Consultants: 50% of ￥1,000.01 = ￥500.01 (rounded half up), split 70/30; doctor 20%; department all.
    assert credit(clinic, order) == {("consultant", desk.staff["王咨询"]): 35_001, ("consultant", second): 15_000,
                                     ("doctor", desk.staff["李医生"]): 20_000, ("department", None): 100_001}
    # A half refund with reversal takes back half of each holder's credit.
    line = line_of(clinic, order)
    cashier.refund_line(clinic, desk.cashier, line.id, amount_fen=50_000, tenders=[cash(desk, 50_000)],
                        reason="做了一半", supervisor=desk.boss, reverse_performance=True, idempotency_key="k-r1")
    assert credit(clinic, order) == {("consultant", desk.staff["王咨询"]): 17_501, ("consultant", second): 7_500,
                                     ("doctor", desk.staff["李医生"]): 10_000, ("department", None): 50_001}
    # The rest, reversed too: nothing is left credited for the line.
    cashier.refund_line(clinic, desk.cashier, line.id, amount_fen=50_001, tenders=[cash(desk, 50_001)],
                        reason="全部退", supervisor=desk.boss, reverse_performance=True, idempotency_key="k-r2")
    assert set(credit(clinic, order).values()) == {0}


def test_credit_kept_at_an_unreversed_refund_stays_when_the_rest_is_reversed(clinic: Clinic, desk: Desk) -> None:
    order = cashier.open_order(clinic, desk.cashier, customer_id=desk.plain, consultant_id=desk.staff["王咨询"],
                               lines=[LineSpec(desk.items["脱毛"], 1, 50_000)])
    settle(clinic, desk, order, 50_000, "k1")
    line = line_of(clinic, order)
    cashier.refund_line(clinic, desk.cashier, line.id, amount_fen=20_000, tenders=[cash(desk, 20_000)],
                        reason="部分退", supervisor=desk.boss, reverse_performance=False, idempotency_key="k2")
    assert credit(clinic, order)[("consultant", desk.staff["王咨询"])] == 50_000
    cashier.refund_line(clinic, desk.cashier, line.id, amount_fen=30_000, tenders=[cash(desk, 30_000)],
                        reason="剩下的也退", supervisor=desk.boss, reverse_performance=True, idempotency_key="k3")
    assert credit(clinic, order) == {("consultant", desk.staff["王咨询"]): 20_000, ("department", None): 0}


def test_a_price_cut_asks_whether_to_reverse_the_staff_credit(clinic: Clinic, desk: Desk) -> None:
    kept, taken = (cashier.open_order(clinic, desk.cashier, customer_id=desk.plain, consultant_id=desk.staff["王咨询"],
                                      lines=[LineSpec(desk.items["水光针"], 1, 128_000)]) for _ in range(2))
    for n, order in enumerate((kept, taken)):
        settle(clinic, desk, order, 128_000, f"s{n}")
        cashier.reprice_line(clinic, desk.cashier, line_of(clinic, order).id, unit_price_fen=100_000,
                             reason="按活动价退差", supervisor=desk.boss, tenders=[cash(desk, 28_000)],
                             idempotency_key=f"p{n}", reverse_performance=order == taken)
    assert credit(clinic, kept) == {("consultant", desk.staff["王咨询"]): 128_000, ("department", None): 100_000}
    assert credit(clinic, taken) == {("consultant", desk.staff["王咨询"]): 100_000, ("department", None): 100_000}


def test_shares_are_checked_kept_through_a_void_and_must_agree_to_merge(clinic: Clinic, desk: Desk) -> None:
    wang, zhao = desk.staff["王咨询"], desk.staff["赵开发"]
    order = cashier.open_order(clinic, desk.cashier, customer_id=desk.plain,
                               lines=[LineSpec(desk.items["脱毛"], 1, 50_000)])
    for shares, message in [
        ([ShareSpec("consultant", wang, 60)], "咨询业绩比例合计应为 100%，现在是 60%"),
        ([ShareSpec("consultant", wang, 50), ShareSpec("consultant", wang, 50)], "咨询业绩里同一职员出现了两次"),
        ([ShareSpec("department", wang, 100)], "不能分配“科室”业绩"),
        ([ShareSpec("doctor", wang, 0)], "医生业绩比例应在 1%–100% 之间"),
    ]:
        with pytest.raises(ValidationError) as e:
            cashier.set_order_shares(clinic, desk.cashier, order, shares)
        assert e.value.errors == {"shares": message}
    cashier.set_order_shares(clinic, desk.cashier, order, [ShareSpec("consultant", wang, 60),
                                                           ShareSpec("consultant", zhao, 40)])
    view = cashier.order_shares(clinic, desk.cashier, order)
    assert [(v.staff_name, v.percent) for v in view.shares] == [("王咨询", 60), ("赵开发", 40)]
    other = cashier.open_order(clinic, desk.cashier, customer_id=desk.plain,
                               lines=[LineSpec(desk.items["脱毛"], 1, 50_000)])
    with pytest.raises(ValidationError) as e:
        cashier.merge_orders(clinic, desk.cashier, [order, other])
    assert e.value.errors == {"orders": "这几张单的业绩分配不同，请先改成一样再合并"}
    settle(clinic, desk, order, 50_000, "k-s")
    with pytest.raises(ValidationError):
        cashier.set_order_shares(clinic, desk.cashier, order, [])
    voided = cashier.void(clinic, desk.cashier, order, reason="医生选错", supervisor=desk.boss,
                          reverse_performance=True, idempotency_key="k-v")
    reopened = cashier.order_shares(clinic, desk.cashier, voided.reopened_order_id)
    assert [(v.staff_name, v.percent) for v in reopened.shares] == [("王咨询", 60), ("赵开发", 40)]
    assert set(credit(clinic, order).values()) == {0}


def test_a_deposit_refund_takes_back_its_department_credit_and_the_referrers_when_asked(
        clinic: Clinic, desk: Desk) -> None:
    dept, referrer = desk.departments["美容外科"], desk.staff["钱推介"]
    for customer, key in ((desk.plain, "a"), (desk.member, "b")):
        ledger.top_up(clinic, desk.cashier, customer, account="deposit", tenders=[cash(desk, 100_000)],
                      idempotency_key=f"dep-{key}", staff_id=referrer, department_id=dept)

    def held(customer: int) -> dict[str, int]:
        with clinic.read() as s:
            rows = s.execute(select(PerformanceEntry.role, func.sum(PerformanceEntry.amount_fen))
                             .where(PerformanceEntry.order_id.is_(None),
                                    PerformanceEntry.receipt_id.in_(select(ledger.Receipt.id).where(
                                        ledger.Receipt.customer_id == customer)))
                             .group_by(PerformanceEntry.role)).tuples()
            return {role: int(v) for role, v in rows}

    ledger.refund_balance(clinic, desk.cashier, desk.plain, account="deposit", tenders=[cash(desk, 40_000)],
                          idempotency_key="ref-a", supervisor=desk.boss, reason="不做了")
    assert held(desk.plain) == {"referrer": 100_000, "deposit": 60_000}
    ledger.refund_balance(clinic, desk.cashier, desk.member, account="deposit", tenders=[cash(desk, 40_000)],
                          idempotency_key="ref-b", supervisor=desk.boss, reason="不做了", reverse_performance=True)
    assert held(desk.member) == {"referrer": 60_000, "deposit": 60_000}


def test_two_workstations_on_one_order_the_second_is_refused(clinic: Clinic, desk: Desk) -> None:
    """Optimistic locking: each window keeps the version it showed; a change in between is refused."""
    from meike.errors import ConflictError
    from meike.services import cashier_view

    wang, zhao = desk.staff["王咨询"], desk.staff["赵开发"]
    order = cashier.open_order(clinic, desk.cashier, customer_id=desk.plain,
                               lines=[LineSpec(desk.items["脱毛"], 1, 50_000)])
    first = cashier.order_shares(clinic, desk.cashier, order).version
    paying = cashier_view.order_facts(clinic, desk.cashier, order).version
    assert first == paying
    cashier.set_order_shares(clinic, desk.cashier, order, [ShareSpec("consultant", wang, 100)],
                             expected_version=first)
    with pytest.raises(ConflictError, match="已被其他电脑修改"):  # the second PC's window is stale
        cashier.set_order_shares(clinic, desk.cashier, order, [ShareSpec("consultant", zhao, 100)],
                                 expected_version=first)
    with pytest.raises(ConflictError):
        cashier.pay(clinic, desk.cashier, order, [cash(desk, 50_000)], idempotency_key="w2", expected_version=paying)
    assert [v.staff_name for v in cashier.order_shares(clinic, desk.cashier, order).shares] == ["王咨询"]
    fresh = cashier_view.order_facts(clinic, desk.cashier, order).version
    assert fresh == first + 1
    result = cashier.pay(clinic, desk.cashier, order, [cash(desk, 50_000)], idempotency_key="w3",
                         expected_version=fresh)
    again = cashier.pay(clinic, desk.cashier, order, [cash(desk, 50_000)], idempotency_key="w3",
                        expected_version=fresh)  # a double click: the same receipt, not a conflict
    assert again.receipt_no == result.receipt_no and again.replayed
    assert cashier_view.order_facts(clinic, desk.cashier, order).version > fresh  # settling bumped it
