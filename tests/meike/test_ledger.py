"""Customer accounts and the money rules of the cashier desk, one example each with exact figures and
the messages a cashier sees: member prices, split tenders, arrears, coupons, balances, refunds,
voids, courses, price changes, idempotent replays and the data scope.

The desk (tests/meike/conftest_money.py): 双眼皮 ￥8,800 (min ￥6,000, 美容外科), 水光针 ￥1,280
(min ￥880, 皮肤科), 脱毛 ￥500 (min ￥300, 皮肤科); 张三 is a 金卡 member (90%) developed by 赵开发,
李四 has no level, 王五 is 钻石卡 (60%). The clock stands at 2026-03-02 09:00.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from meike.db import Clinic
from meike.errors import NotFound, PermissionDenied, ValidationError
from meike.models import AccountEntry, Order, OrderLine, Payment, PerformanceEntry, Receipt, Visit
from meike.permissions import Actor, DataScope, Page, Right, right_code
from meike.services import accounts, cashier, ledger, triage
from meike.services.cashier import LineSpec, Tender
from tests.conftest import make_user
from tests.meike.conftest_money import Desk, desk_fixture, frozen_fixture, snapshot  # noqa: F401 (fixtures)

DAY = "R20260302"


def cash(desk: Desk, amount: int) -> Tender:
    return Tender(desk.methods["现金"], amount)


def by(desk: Desk, method: str, amount: int, coupon_id: int | None = None) -> Tender:
    return Tender(desk.methods[method], amount, coupon_id)


def order(clinic: Clinic, desk: Desk, customer: int, *lines: LineSpec | tuple[str, int, int | None],
          **kwargs: object) -> int:
    specs = [line if isinstance(line, LineSpec) else LineSpec(desk.items[line[0]], line[1], line[2])
             for line in lines]
    return cashier.open_order(clinic, desk.cashier, customer_id=customer, lines=specs, **kwargs)  # type: ignore[arg-type]


def lines_of(clinic: Clinic, order_id: int) -> list[OrderLine]:
    with clinic.read() as s:
        rows = list(s.scalars(select(OrderLine).where(OrderLine.order_id == order_id).order_by(OrderLine.id)))
        s.expunge_all()
        return rows


def balances(clinic: Clinic, desk: Desk, customer: int) -> dict[str, int]:
    return ledger.customer_accounts(clinic, desk.cashier, customer).balances


def refused(call, message: str | None = None, *, field: str | None = None) -> ValidationError:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError) as e:
        call()
    if message is not None:
        assert message in e.value.errors.values(), e.value.errors
    if field is not None:
        assert field in e.value.errors
    return e.value


def top_up(clinic: Clinic, desk: Desk, customer: int, account: str, amount: int, key: str, **kw: object
           ) -> ledger.ReceiptResult:
    return ledger.top_up(clinic, desk.cashier, customer, account=account, tenders=[cash(desk, amount)],
                         idempotency_key=key, **kw)  # type: ignore[arg-type]


def coupon_of(clinic: Clinic, receipt_id: int) -> int:
    from meike.models import Coupon

    with clinic.read() as s:
        return s.scalar(select(Coupon.id).where(Coupon.receipt_id == receipt_id))  # type: ignore[return-value]


def performance(clinic: Clinic, order_id: int) -> dict[str, int]:
    with clinic.read() as s:
        return {role: int(v) for role, v in s.execute(
            select(PerformanceEntry.role, func.sum(PerformanceEntry.amount_fen))
            .where(PerformanceEntry.order_id == order_id).group_by(PerformanceEntry.role))}


# --- prices -------------------------------------------------------------------------------------


def test_member_discount_is_applied_and_clamped_at_the_minimum(clinic: Clinic, desk: Desk) -> None:
    gold = order(clinic, desk, desk.member, ("双眼皮", 1, None), ("水光针", 2, None))
    assert [(li.unit_price_fen, li.amount_fen, li.list_price_fen) for li in lines_of(clinic, gold)] == [
        (792_000, 792_000, 880_000), (115_200, 230_400, 128_000)]
    assert cashier.get_order(clinic, desk.cashier, gold).total_fen == 1_022_400
    # 钻石卡 60%: ￥5,280 would be below the ￥6,000 minimum, so the automatic price stops there.
    diamond = order(clinic, desk, desk.vip, ("双眼皮", 1, None), ("水光针", 1, None))
    assert [li.amount_fen for li in lines_of(clinic, diamond)] == [600_000, 88_000]
    plain = order(clinic, desk, desk.plain, ("双眼皮", 1, None))
    assert lines_of(clinic, plain)[0].amount_fen == 880_000


def test_a_course_is_priced_for_all_its_sessions(clinic: Clinic, desk: Desk) -> None:
    """5 × 水光针 lists at ￥6,400; the 金卡 pays ￥5,760, the 钻石卡 the minimum 5 × ￥880."""
    gold = order(clinic, desk, desk.member, LineSpec(desk.items["水光针"], 1, None, package_sessions=5))
    [line] = lines_of(clinic, gold)
    assert (line.list_price_fen, line.unit_price_fen, line.package_sessions) == (640_000, 576_000, 5)
    diamond = order(clinic, desk, desk.vip, LineSpec(desk.items["水光针"], 1, None, package_sessions=5))
    assert lines_of(clinic, diamond)[0].amount_fen == 440_000
    refused(lambda: order(clinic, desk, desk.plain, LineSpec(desk.items["水光针"], 1, 400_000, package_sessions=5)),
            "低于最低价 ￥4,400.00，需要主管审批")


def test_a_price_below_the_minimum_needs_a_supervisor(clinic: Clinic, desk: Desk) -> None:
    refused(lambda: order(clinic, desk, desk.plain, ("双眼皮", 1, 500_000)), "低于最低价 ￥6,000.00，需要主管审批")
    clerk = make_user(clinic, desk.admin, "clerk", pages=[Page.CASHIER])
    refused(lambda: order(clinic, desk, desk.plain, ("双眼皮", 1, 500_000), supervisor=clerk),
            "clerk没有审批低于最低价的权限")
    with pytest.raises(PermissionDenied, match="主管用户名或密码错误"):
        accounts.verify_supervisor(clinic, "boss", "wrong", Right.APPROVE_PRICE)
    boss = accounts.verify_supervisor(clinic, "boss", "boss-pass", Right.APPROVE_PRICE)
    approved = order(clinic, desk, desk.plain, ("双眼皮", 1, 500_000), supervisor=boss)
    assert cashier.get_order(clinic, desk.cashier, approved).total_fen == 500_000


# --- paying an order ------------------------------------------------------------------------------


def test_split_tender_across_cash_wechat_prepaid_deposit_and_a_coupon(clinic: Clinic, desk: Desk) -> None:
    top_up(clinic, desk, desk.plain, "prepaid", 300_000, "p")
    top_up(clinic, desk, desk.plain, "deposit", 100_000, "d")
    sold = ledger.sell_coupon(clinic, desk.cashier, desk.plain, name="代金券", face_value_fen=50_000,
                              valid_until=date(2026, 3, 31), tenders=[], idempotency_key="c", supervisor=desk.boss)
    coupon = coupon_of(clinic, sold.receipt_id)
    order_id = order(clinic, desk, desk.plain, ("双眼皮", 1, None))
    tenders = [cash(desk, 230_000), by(desk, "微信", 200_000), by(desk, "预存", 300_000), by(desk, "定金", 100_000),
               by(desk, "券", 50_000, coupon)]
    paid = cashier.pay(clinic, desk.cashier, order_id, tenders, idempotency_key="pay")
    assert (paid.receipt_no, paid.paid_fen, paid.arrears_fen, paid.replayed) == (f"{DAY}-0004", 880_000, 0, False)
    assert balances(clinic, desk, desk.plain) == {"deposit": 0, "prepaid": 0, "coupon": 0, "inpatient": 0,
                                                  "arrears": 0}
    with clinic.read() as s:
        receipt = s.get(Receipt, paid.receipt_id)
        assert receipt is not None and (receipt.kind, receipt.amount_fen) == ("settle", 880_000)
        rows = s.execute(select(Payment.account, Payment.amount_fen).where(Payment.receipt_id == receipt.id)
                         .order_by(Payment.id)).all()
    assert rows == [(None, 230_000), (None, 200_000), ("prepaid", 300_000), ("deposit", 100_000),
                    ("coupon", 50_000)]
    detail = cashier.get_order(clinic, desk.cashier, order_id)
    assert (detail.status, detail.paid_fen, detail.receipt_no) == ("settled", 880_000, f"{DAY}-0004")


def test_short_payment_becomes_arrears_only_when_asked_and_is_collected_later(clinic: Clinic, desk: Desk) -> None:
    order_id = order(clinic, desk, desk.plain, ("双眼皮", 1, None))
    before = snapshot(clinic)
    refused(lambda: cashier.pay(clinic, desk.cashier, order_id, [cash(desk, 300_000)], idempotency_key="a"),
            "收款合计 ￥3,000.00 少于应收 ￥8,800.00；如需欠款请勾选“余额记欠款”")
    refused(lambda: cashier.pay(clinic, desk.cashier, order_id, [cash(desk, 900_000)], idempotency_key="a"),
            "收款合计 ￥9,000.00 超过应收 ￥8,800.00")
    assert snapshot(clinic) == before
    first = cashier.pay(clinic, desk.cashier, order_id, [cash(desk, 300_000)], idempotency_key="a",
                        allow_arrears=True)
    assert (first.paid_fen, first.arrears_fen) == (300_000, 580_000)
    assert balances(clinic, desk, desk.plain)["arrears"] == 580_000
    [row] = cashier.list_orders(clinic, desk.cashier, status="settled")
    assert (row.total_fen, row.paid_fen) == (880_000, 300_000)

    refused(lambda: cashier.pay(clinic, desk.cashier, order_id, [cash(desk, 600_000)], idempotency_key="b"),
            "收款合计 ￥6,000.00 超过欠款 ￥5,800.00")
    second = cashier.pay(clinic, desk.cashier, order_id, [by(desk, "微信", 280_000)], idempotency_key="b")
    assert (second.receipt_no, second.paid_fen, second.arrears_fen) == (f"{DAY}-0002", 280_000, 300_000)
    third = cashier.pay(clinic, desk.cashier, order_id, [cash(desk, 300_000)], idempotency_key="c")
    assert third.arrears_fen == 0
    refused(lambda: cashier.pay(clinic, desk.cashier, order_id, [cash(desk, 1)], idempotency_key="d"),
            "该单已结清，不能再收款")
    assert balances(clinic, desk, desk.plain)["arrears"] == 0
    with clinic.read() as s:
        kinds = s.execute(select(Receipt.receipt_no, Receipt.kind, Receipt.amount_fen).order_by(Receipt.id)).all()
    assert kinds == [(f"{DAY}-0001", "settle", 300_000), (f"{DAY}-0002", "collect", 280_000),
                     (f"{DAY}-0003", "collect", 300_000)]


def test_everything_on_arrears_still_gets_a_numbered_receipt(clinic: Clinic, desk: Desk) -> None:
    order_id = order(clinic, desk, desk.plain, ("脱毛", 1, None))
    result = cashier.pay(clinic, desk.cashier, order_id, [], idempotency_key="k", allow_arrears=True)
    assert (result.receipt_no, result.paid_fen, result.arrears_fen) == (f"{DAY}-0001", 0, 50_000)


def test_an_expired_coupon_or_another_customers_coupon_is_refused(clinic: Clinic, desk: Desk,
                                                                  frozen: list[datetime]) -> None:
    mine = coupon_of(clinic, ledger.sell_coupon(
        clinic, desk.cashier, desk.plain, name="代金券", face_value_fen=50_000, valid_until=date(2026, 3, 3),
        tenders=[cash(desk, 40_000)], idempotency_key="mine", supervisor=desk.boss).receipt_id)
    theirs = coupon_of(clinic, ledger.sell_coupon(
        clinic, desk.cashier, desk.member, name="生日券", face_value_fen=50_000, valid_until=date(2026, 3, 31),
        tenders=[], idempotency_key="theirs", supervisor=desk.boss).receipt_id)
    order_id = order(clinic, desk, desk.plain, ("脱毛", 1, None))
    before = snapshot(clinic)
    refused(lambda: cashier.pay(clinic, desk.cashier, order_id, [by(desk, "券", 50_000, theirs)],
                                idempotency_key="x"), "请选择顾客的一张券")
    refused(lambda: cashier.pay(clinic, desk.cashier, order_id, [by(desk, "券", 50_000)], idempotency_key="x"),
            "请选择顾客的一张券")
    frozen[0] = datetime(2026, 3, 4, 9, 0)  # the coupon was good until yesterday
    refused(lambda: cashier.pay(clinic, desk.cashier, order_id, [by(desk, "券", 50_000, mine)],
                                idempotency_key="x"), "“代金券”已于 2026-03-03 过期")
    assert snapshot(clinic) == before
    refused(lambda: ledger.sell_coupon(clinic, desk.cashier, desk.plain, name="代金券", face_value_fen=50_000,
                                       valid_until=date(2026, 3, 3), tenders=[], idempotency_key="late",
                                       supervisor=desk.boss),
            "有效期不能早于今天")
    refused(lambda: ledger.sell_coupon(clinic, desk.cashier, desk.plain, name="代金券", face_value_fen=50_000,
                                       valid_until=date(2026, 3, 9), tenders=[cash(desk, 60_000)],
                                       idempotency_key="dear"), "售价不能高于券面值")


def test_a_coupon_sold_below_face_value_counts_the_difference_as_a_grant(clinic: Clinic, desk: Desk) -> None:
    sold = ledger.sell_coupon(clinic, desk.cashier, desk.plain, name="代金券", face_value_fen=50_000,
                              valid_until=date(2026, 3, 31), tenders=[cash(desk, 40_000)], idempotency_key="c",
                              supervisor=desk.boss)
    assert sold.amount_fen == 40_000
    [view] = ledger.customer_accounts(clinic, desk.cashier, desk.plain).coupons
    assert (view.name, view.face_value_fen, view.remaining_fen) == ("代金券", 50_000, 50_000)
    with clinic.read() as s:
        entries = s.execute(select(AccountEntry.amount_fen, AccountEntry.is_grant).order_by(AccountEntry.id)).all()
    assert entries == [(40_000, False), (10_000, True)]


def test_no_balance_goes_below_zero(clinic: Clinic, desk: Desk) -> None:
    top_up(clinic, desk, desk.plain, "prepaid", 10_000, "p")
    order_id = order(clinic, desk, desk.plain, ("脱毛", 1, None))
    before = snapshot(clinic)
    refused(lambda: cashier.pay(clinic, desk.cashier, order_id, [by(desk, "预存", 20_000), cash(desk, 30_000)],
                                idempotency_key="k"), "预存余额不足：可用 ￥100.00，需要 ￥200.00")
    # Two tenders on the same account are added up before the check.
    refused(lambda: cashier.pay(clinic, desk.cashier, order_id, [by(desk, "预存", 6_000), by(desk, "预存", 6_000),
                                                                 cash(desk, 38_000)], idempotency_key="k"),
            "预存余额不足：可用 ￥100.00，需要 ￥120.00")
    refused(lambda: cashier.pay(clinic, desk.cashier, order_id, [by(desk, "定金", 50_000)], idempotency_key="k"),
            "定金余额不足：可用 ￥0.00，需要 ￥500.00")
    refused(lambda: ledger.refund_balance(clinic, desk.cashier, desk.plain, account="prepaid",
                                          tenders=[cash(desk, 20_000)], idempotency_key="r", supervisor=desk.boss,
                                          reason="退余额"), "预存余额只有 ￥100.00，不能退 ￥200.00")
    refused(lambda: ledger.top_up(clinic, desk.cashier, desk.plain, account="prepaid",
                                  tenders=[by(desk, "定金", 100)], idempotency_key="t"),
            "“定金”不能用于这笔收款，请选择现金、银行卡等")
    refused(lambda: cashier.pay(clinic, desk.cashier, order_id, [cash(desk, 0), cash(desk, 50_000)],
                                idempotency_key="k"), "每种支付方式的金额必须大于 0")
    assert snapshot(clinic) == before
    assert balances(clinic, desk, desk.plain)["prepaid"] == 10_000


def test_deposit_credits_the_referring_staff_and_department_and_inpatient_deposit_is_refunded_at_discharge(
        clinic: Clinic, desk: Desk) -> None:
    top_up(clinic, desk, desk.member, "deposit", 200_000, "d", staff_id=desk.staff["钱推介"],
           department_id=desk.departments["美容外科"])
    refused(lambda: top_up(clinic, desk, desk.member, "inpatient", 500_000, "i"), "请填写住院编号")
    top_up(clinic, desk, desk.member, "inpatient", 500_000, "i", inpatient_no="ZY2026001")
    summary = ledger.customer_accounts(clinic, desk.cashier, desk.member)
    assert (summary.balances["deposit"], summary.balances["inpatient"], summary.inpatient_no) == (
        200_000, 500_000, "ZY2026001")
    with clinic.read() as s:
        credit = s.execute(select(PerformanceEntry.role, PerformanceEntry.staff_id, PerformanceEntry.department_id,
                                  PerformanceEntry.amount_fen).order_by(PerformanceEntry.id)).all()
    assert credit == [("referrer", desk.staff["钱推介"], None, 200_000),
                      ("deposit", None, desk.departments["美容外科"], 200_000)]
    out = ledger.refund_balance(clinic, desk.cashier, desk.member, account="inpatient",
                                tenders=[cash(desk, 320_000)], idempotency_key="out", supervisor=desk.boss,
                                reason="出院结算")
    assert (out.receipt_no, out.amount_fen) == (f"{DAY}-0003", -320_000)
    with clinic.read() as s:
        assert s.scalar(select(Receipt.kind).where(Receipt.id == out.receipt_id)) == "discharge"
    assert balances(clinic, desk, desk.member)["inpatient"] == 180_000
    books = snapshot(clinic)
    again = ledger.refund_balance(clinic, desk.cashier, desk.member, account="inpatient",
                                  tenders=[cash(desk, 320_000)], idempotency_key="out", supervisor=desk.boss,
                                  reason="出院结算")
    assert (again.receipt_no, again.replayed) == (out.receipt_no, True)
    assert top_up(clinic, desk, desk.member, "inpatient", 500_000, "i", inpatient_no="ZY2026001").replayed
    assert snapshot(clinic) == books


# --- refunds and voids --------------------------------------------------------------------------------


def test_a_refund_needs_a_supervisor_with_the_refund_right(clinic: Clinic, desk: Desk) -> None:
    top_up(clinic, desk, desk.plain, "prepaid", 100_000, "p")
    order_id = order(clinic, desk, desk.plain, ("脱毛", 1, None))
    cashier.pay(clinic, desk.cashier, order_id, [cash(desk, 50_000)], idempotency_key="pay")
    line = lines_of(clinic, order_id)[0].id
    voider = make_user(clinic, desk.admin, "voider", pages=[Page.DASHBOARD], password="void-pass",
                       grants={right_code(Right.VOID)})
    before = snapshot(clinic)

    def refund(supervisor: Actor | None) -> cashier.PayResult:
        return cashier.refund_line(clinic, desk.cashier, line, amount_fen=20_000, tenders=[cash(desk, 20_000)],
                                   reason="效果不满意", supervisor=supervisor, reverse_performance=True,
                                   idempotency_key="r")

    refused(lambda: refund(None), "退款需要主管输入密码确认")
    with pytest.raises(PermissionDenied, match="voider没有退款的权限"):
        refund(voider)
    with pytest.raises(PermissionDenied, match="该账号没有此项审批权限"):
        accounts.verify_supervisor(clinic, "voider", "void-pass", Right.REFUND)
    with pytest.raises(PermissionDenied):
        ledger.refund_balance(clinic, desk.cashier, desk.plain, account="prepaid", tenders=[cash(desk, 100)],
                              idempotency_key="b", supervisor=voider, reason="退余额")
    refused(lambda: ledger.refund_balance(clinic, desk.cashier, desk.plain, account="prepaid",
                                          tenders=[cash(desk, 100)], idempotency_key="b", supervisor=desk.boss,
                                          reason=" "), "请填写退款原因")
    assert snapshot(clinic) == before
    boss = accounts.verify_supervisor(clinic, "boss", "boss-pass", Right.REFUND)
    result = refund(boss)
    assert (result.paid_fen, result.arrears_fen) == (-20_000, 0)
    refused(lambda: cashier.refund_line(clinic, desk.cashier, line, amount_fen=30_001, tenders=[cash(desk, 30_001)],
                                        reason="再退", supervisor=boss, reverse_performance=True,
                                        idempotency_key="r2"), "退款金额不能超过该项目剩余金额 ￥300.00")
    refused(lambda: cashier.refund_line(clinic, desk.cashier, line, amount_fen=30_000, tenders=[cash(desk, 20_000)],
                                        reason="再退", supervisor=boss, reverse_performance=True,
                                        idempotency_key="r2"), "退款方式合计应为 ￥300.00")


def test_a_project_refund_reduces_arrears_first_and_can_go_into_prepaid(clinic: Clinic, desk: Desk) -> None:
    order_id = order(clinic, desk, desk.member, ("水光针", 1, 128_000), consultant_id=desk.staff["王咨询"])
    cashier.pay(clinic, desk.cashier, order_id, [cash(desk, 100_000)], idempotency_key="pay", allow_arrears=True)
    line = lines_of(clinic, order_id)[0].id
    refused(lambda: cashier.refund_line(clinic, desk.cashier, line, amount_fen=50_000, tenders=[cash(desk, 50_000)],
                                        reason="少做一次", supervisor=desk.boss, reverse_performance=False,
                                        idempotency_key="r"), "退款方式合计应为 ￥220.00（其中 ￥280.00 冲减欠款）")
    result = cashier.refund_line(clinic, desk.cashier, line, amount_fen=50_000, tenders=[by(desk, "预存", 22_000)],
                                 reason="少做一次", supervisor=desk.boss, reverse_performance=False,
                                 idempotency_key="r")
    assert (result.paid_fen, result.arrears_fen) == (-22_000, 0)
    assert balances(clinic, desk, desk.member) == {"deposit": 0, "prepaid": 22_000, "coupon": 0, "inpatient": 0,
                                                   "arrears": 0}
    # Not reversed: the consultant and the developer keep their credit; the department's sales follow the money.
    assert performance(clinic, order_id) == {"consultant": 128_000, "developer": 128_000, "department": 78_000}
    cashier.refund_line(clinic, desk.cashier, line, amount_fen=8_000, tenders=[cash(desk, 8_000)], reason="再退",
                        supervisor=desk.boss, reverse_performance=True, idempotency_key="r2")
    assert performance(clinic, order_id) == {"consultant": 120_000, "developer": 120_000, "department": 70_000}


def test_void_reverses_everything_and_reopens_the_order(clinic: Clinic, desk: Desk) -> None:
    top_up(clinic, desk, desk.member, "prepaid", 100_000, "p")
    visit = triage.arrive(clinic, desk.cashier, desk.member, consultant_id=desk.staff["王咨询"])
    order_id = order(clinic, desk, desk.member, LineSpec(desk.items["水光针"], 2, None, doctor_id=desk.staff["李医生"]),
                     visit_id=visit)
    paid = cashier.pay(clinic, desk.cashier, order_id, [by(desk, "预存", 100_000), cash(desk, 100_000)],
                       idempotency_key="pay", allow_arrears=True)
    assert paid.arrears_fen == 30_400  # 2 × ￥1,152
    collected = cashier.pay(clinic, desk.cashier, order_id, [by(desk, "微信", 30_400)], idempotency_key="col")
    with clinic.read() as s:
        assert s.get(Visit, visit).is_deal  # type: ignore[union-attr]
    assert performance(clinic, order_id) == {"consultant": 230_400, "doctor": 230_400, "developer": 230_400,
                                             "department": 230_400}
    refunder = make_user(clinic, desk.admin, "refunder", pages=[Page.DASHBOARD], grants={right_code(Right.REFUND)})
    before = snapshot(clinic)

    def void(supervisor: Actor | None, reverse: bool = True) -> cashier.VoidResult:
        return cashier.void(clinic, desk.cashier, order_id, reason="医生选错", supervisor=supervisor,
                            reverse_performance=reverse, idempotency_key="void")

    refused(lambda: void(None), "退单需要主管输入密码确认")
    with pytest.raises(PermissionDenied, match="refunder没有退单的权限"):
        void(refunder)
    refused(lambda: cashier.void(clinic, desk.cashier, order_id, reason="", supervisor=desk.boss,
                                 reverse_performance=True, idempotency_key="void"), "请填写退单原因")
    assert snapshot(clinic) == before

    result = void(desk.boss, reverse=False)
    assert (result.receipt_no, result.refunded_fen) == (f"{DAY}-0004", 230_400)
    with clinic.read() as s:
        receipts = s.execute(select(Receipt.receipt_no, Receipt.kind, Receipt.status, Receipt.amount_fen)
                             .order_by(Receipt.id)).all()
        reversed_tenders = s.execute(select(Payment.account, Payment.amount_fen)
                                     .where(Payment.receipt_id == s.scalar(select(Receipt.id).where(
                                         Receipt.receipt_no == result.receipt_no))).order_by(Payment.id)).all()
        voided = s.get(Order, order_id)
        reopened = s.get(Order, result.reopened_order_id)
        assert voided is not None and reopened is not None
        assert (voided.status, voided.void_reason, voided.receipt_no) == ("voided", "医生选错", f"{DAY}-0002")
        assert (reopened.status, reopened.total_fen, reopened.source_order_id) == ("new", 230_400, order_id)
        assert not s.get(Visit, visit).is_deal  # type: ignore[union-attr]
    assert receipts == [(f"{DAY}-0001", "prepaid", "valid", 100_000), (f"{DAY}-0002", "settle", "voided", 200_000),
                        (f"{DAY}-0003", "collect", "voided", 30_400), (f"{DAY}-0004", "void", "valid", -230_400)]
    assert reversed_tenders == [("prepaid", -100_000), (None, -100_000), (None, -30_400)]
    assert balances(clinic, desk, desk.member) == {"deposit": 0, "prepaid": 100_000, "coupon": 0, "inpatient": 0,
                                                   "arrears": 0}
    assert [(li.item_name, li.quantity, li.amount_fen, li.doctor_id)
            for li in lines_of(clinic, result.reopened_order_id)] == [
        ("水光针", 2, 230_400, desk.staff["李医生"])]
    # Staff keep their credit (the cashier said not to reverse it); the department's sales go.
    assert performance(clinic, order_id) == {"consultant": 230_400, "doctor": 230_400, "developer": 230_400,
                                             "department": 0}
    assert collected.receipt_no == f"{DAY}-0003"
    refused(lambda: cashier.pay(clinic, desk.cashier, order_id, [cash(desk, 1)], idempotency_key="late"),
            "该单已退单，不能收款")


def test_void_with_performance_reversal_zeroes_every_role(clinic: Clinic, desk: Desk) -> None:
    order_id = order(clinic, desk, desk.member, ("脱毛", 1, 50_000), consultant_id=desk.staff["王咨询"])
    cashier.pay(clinic, desk.cashier, order_id, [cash(desk, 50_000)], idempotency_key="pay")
    cashier.void(clinic, desk.cashier, order_id, reason="录错", supervisor=desk.boss, reverse_performance=True,
                 idempotency_key="void")
    assert performance(clinic, order_id) == {"consultant": 0, "developer": 0, "department": 0}


def test_an_order_with_a_refund_cannot_be_voided_whole(clinic: Clinic, desk: Desk) -> None:
    order_id = order(clinic, desk, desk.plain, ("脱毛", 1, None))
    cashier.pay(clinic, desk.cashier, order_id, [cash(desk, 50_000)], idempotency_key="pay")
    cashier.refund_line(clinic, desk.cashier, lines_of(clinic, order_id)[0].id, amount_fen=10_000,
                        tenders=[cash(desk, 10_000)], reason="退一部分", supervisor=desk.boss,
                        reverse_performance=True, idempotency_key="r")
    refused(lambda: cashier.void(clinic, desk.cashier, order_id, reason="退单", supervisor=desk.boss,
                                 reverse_performance=True, idempotency_key="v"), "该单已办理退款或改价，不能整单退单")


# --- courses 疗程 ---------------------------------------------------------------------------------------


def test_course_sold_deducted_and_unused_sessions_refunded_at_the_sold_price(clinic: Clinic, desk: Desk) -> None:
    sale = order(clinic, desk, desk.plain, LineSpec(desk.items["水光针"], 1, 500_000, package_sessions=3))
    cashier.pay(clinic, desk.cashier, sale, [cash(desk, 500_000)], idempotency_key="sale")
    [package] = ledger.customer_accounts(clinic, desk.cashier, desk.plain).packages
    assert (package.item_name, package.sessions, package.remaining, package.value_fen) == ("水光针", 3, 3, 500_000)

    use = order(clinic, desk, desk.plain, LineSpec(desk.items["水光针"], 1, None, package_id=package.id))
    assert cashier.get_order(clinic, desk.cashier, use).total_fen == 0
    settled = cashier.pay(clinic, desk.cashier, use, [], idempotency_key="use")
    assert (settled.paid_fen, settled.arrears_fen) == (0, 0)
    assert ledger.customer_accounts(clinic, desk.cashier, desk.plain).packages[0].remaining == 2
    refused(lambda: order(clinic, desk, desk.plain, LineSpec(desk.items["水光针"], 3, None, package_id=package.id)),
            "水光针疗程只剩 2 次")
    refused(lambda: order(clinic, desk, desk.plain, LineSpec(desk.items["脱毛"], 1, None, package_id=package.id)),
            "脱毛：请选择顾客持有的该项目疗程")
    refused(lambda: order(clinic, desk, desk.member, LineSpec(desk.items["水光针"], 1, None, package_id=package.id)),
            "水光针：请选择顾客持有的该项目疗程")
    sale_line = lines_of(clinic, sale)[0].id
    refused(lambda: cashier.refund_line(clinic, desk.cashier, sale_line, amount_fen=100, tenders=[cash(desk, 100)],
                                        reason="退", supervisor=desk.boss, reverse_performance=True,
                                        idempotency_key="x"), "疗程请按次数办理疗程退款")
    refused(lambda: cashier.void(clinic, desk.cashier, sale, reason="退", supervisor=desk.boss,
                                 reverse_performance=True, idempotency_key="x"),
            "“水光针”疗程已使用，不能退单，请办理疗程退款")

    # ￥5,000 for 3 sessions, one used: the 2 left are worth ￥3,333.33, given back as ￥1,666.67 + ￥1,666.66.
    assert cashier.package_refund_quote(clinic, desk.cashier, package.id, 2) == 333_333
    assert cashier.package_refund_quote(clinic, desk.cashier, package.id, 1) == 166_667
    refused(lambda: cashier.refund_package(clinic, desk.cashier, package.id, sessions=3, tenders=[], reason="不做了",
                                           supervisor=desk.boss, reverse_performance=True, idempotency_key="r"),
            "退款次数应在 1–2 之间")
    one = cashier.refund_package(clinic, desk.cashier, package.id, sessions=1, tenders=[cash(desk, 166_667)],
                                 reason="不做了", supervisor=desk.boss, reverse_performance=True, idempotency_key="r1")
    two = cashier.refund_package(clinic, desk.cashier, package.id, sessions=1, tenders=[cash(desk, 166_666)],
                                 reason="不做了", supervisor=desk.boss, reverse_performance=True, idempotency_key="r2")
    assert (one.paid_fen, two.paid_fen) == (-166_667, -166_666)  # one by one = both at once
    assert ledger.customer_accounts(clinic, desk.cashier, desk.plain).packages[0].remaining == 0
    assert cashier.refund_value(500_000, 3, 3, 3) == 500_000
    assert sum(cashier.refund_value(500_000, 3, left, 1) for left in (3, 2, 1)) == 500_000


def test_void_of_a_deduction_gives_the_session_back(clinic: Clinic, desk: Desk) -> None:
    sale = order(clinic, desk, desk.plain, LineSpec(desk.items["脱毛"], 1, 100_000, package_sessions=2))
    cashier.pay(clinic, desk.cashier, sale, [cash(desk, 100_000)], idempotency_key="sale")
    package = ledger.customer_accounts(clinic, desk.cashier, desk.plain).packages[0].id
    use = order(clinic, desk, desk.plain, LineSpec(desk.items["脱毛"], 2, None, package_id=package))
    cashier.pay(clinic, desk.cashier, use, [], idempotency_key="use")
    assert ledger.customer_accounts(clinic, desk.cashier, desk.plain).packages[0].remaining == 0
    cashier.void(clinic, desk.cashier, use, reason="划错", supervisor=desk.boss, reverse_performance=True,
                 idempotency_key="void")
    assert ledger.customer_accounts(clinic, desk.cashier, desk.plain).packages[0].remaining == 2
    # An unused course is withdrawn with the void of the order that sold it.
    cashier.void(clinic, desk.cashier, sale, reason="不买了", supervisor=desk.boss, reverse_performance=True,
                 idempotency_key="void-sale")
    assert ledger.customer_accounts(clinic, desk.cashier, desk.plain).packages[0].remaining == 0


# --- price changes 多退少补 -------------------------------------------------------------------------------


def test_reprice_up_creates_arrears_and_down_refunds_the_difference(clinic: Clinic, desk: Desk) -> None:
    order_id = order(clinic, desk, desk.plain, ("水光针", 2, None), consultant_id=desk.staff["王咨询"])
    cashier.pay(clinic, desk.cashier, order_id, [cash(desk, 256_000)], idempotency_key="pay")
    line = lines_of(clinic, order_id)[0].id
    up = cashier.reprice_line(clinic, desk.cashier, line, unit_price_fen=150_000, reason="加做", supervisor=None,
                              tenders=[cash(desk, 24_000)], idempotency_key="up")
    assert (up.paid_fen, up.arrears_fen) == (24_000, 20_000)  # +￥440: ￥240 now, ￥200 owed
    assert balances(clinic, desk, desk.plain)["arrears"] == 20_000
    assert performance(clinic, order_id) == {"consultant": 300_000, "department": 300_000}
    refused(lambda: cashier.reprice_line(clinic, desk.cashier, line, unit_price_fen=150_000, reason="再改",
                                         supervisor=None, tenders=[], idempotency_key="same"), "价格没有变化")
    refused(lambda: cashier.reprice_line(clinic, desk.cashier, line, unit_price_fen=100_000, reason="降价",
                                         supervisor=None, tenders=[], idempotency_key="down"),
            "退差价需要主管输入密码确认")
    refused(lambda: cashier.reprice_line(clinic, desk.cashier, line, unit_price_fen=80_000, reason="降价",
                                         supervisor=None, tenders=[], idempotency_key="down"),
            "低于最低价需要主管输入密码确认")
    # Down to ￥1,000 each: ￥1,000 less, of which ￥200 cancels the arrears and ￥800 goes back in cash.
    down = cashier.reprice_line(clinic, desk.cashier, line, unit_price_fen=100_000, reason="按活动价",
                                supervisor=desk.boss, tenders=[cash(desk, 80_000)], idempotency_key="down")
    assert (down.paid_fen, down.arrears_fen) == (-80_000, 0)
    assert performance(clinic, order_id) == {"consultant": 200_000, "department": 200_000}
    refused(lambda: cashier.reprice_line(clinic, desk.cashier, line, unit_price_fen=160_000, reason="改",
                                         supervisor=None, tenders=[cash(desk, 130_000)], idempotency_key="x"),
            "补收金额不能超过差价 ￥1,200.00")


def test_reprice_of_a_course_is_refused(clinic: Clinic, desk: Desk) -> None:
    sale = order(clinic, desk, desk.plain, LineSpec(desk.items["脱毛"], 1, 100_000, package_sessions=2))
    cashier.pay(clinic, desk.cashier, sale, [cash(desk, 100_000)], idempotency_key="sale")
    refused(lambda: cashier.reprice_line(clinic, desk.cashier, lines_of(clinic, sale)[0].id, unit_price_fen=90_000,
                                         reason="改", supervisor=desk.boss, tenders=[], idempotency_key="x"),
            "疗程项目不能改价")


# --- once only ---------------------------------------------------------------------------------------------


def test_every_money_call_replayed_with_its_key_changes_nothing(clinic: Clinic, desk: Desk,
                                                                frozen: list[datetime]) -> None:
    def top() -> ledger.ReceiptResult:
        return top_up(clinic, desk, desk.plain, "prepaid", 300_000, "top")

    def coupon() -> ledger.ReceiptResult:
        return ledger.sell_coupon(clinic, desk.cashier, desk.plain, name="代金券", face_value_fen=50_000,
                                  valid_until=date(2026, 3, 2), tenders=[cash(desk, 50_000)], idempotency_key="cpn")

    def back() -> ledger.ReceiptResult:
        return ledger.refund_balance(clinic, desk.cashier, desk.plain, account="prepaid", tenders=[cash(desk, 10_000)],
                                     idempotency_key="back", supervisor=desk.boss, reason="退余额")

    order_id = order(clinic, desk, desk.plain, ("水光针", 2, None))
    sale = order(clinic, desk, desk.plain, LineSpec(desk.items["脱毛"], 1, 100_000, package_sessions=2))
    line = lines_of(clinic, order_id)[0].id

    def pay() -> cashier.PayResult:
        return cashier.pay(clinic, desk.cashier, order_id, [by(desk, "预存", 100_000)], idempotency_key="pay",
                           allow_arrears=True)

    def collect() -> cashier.PayResult:
        return cashier.pay(clinic, desk.cashier, order_id, [cash(desk, 156_000)], idempotency_key="collect")

    def refund() -> cashier.PayResult:
        return cashier.refund_line(clinic, desk.cashier, line, amount_fen=6_000, tenders=[cash(desk, 6_000)],
                                   reason="退", supervisor=desk.boss, reverse_performance=True, idempotency_key="ref")

    def reprice() -> cashier.PayResult:
        return cashier.reprice_line(clinic, desk.cashier, line, unit_price_fen=130_000, reason="改",
                                    supervisor=None, tenders=[], idempotency_key="rep")

    def sell() -> cashier.PayResult:
        return cashier.pay(clinic, desk.cashier, sale, [cash(desk, 100_000)], idempotency_key="sale")

    def course_refund() -> cashier.PayResult:
        package = ledger.customer_accounts(clinic, desk.cashier, desk.plain).packages[0].id
        return cashier.refund_package(clinic, desk.cashier, package, sessions=1, tenders=[cash(desk, 50_000)],
                                      reason="退", supervisor=desk.boss, reverse_performance=True,
                                      idempotency_key="pkg")

    other = order(clinic, desk, desk.plain, ("脱毛", 1, None))

    def settle_void() -> cashier.VoidResult:
        return cashier.void(clinic, desk.cashier, other, reason="录错", supervisor=desk.boss,
                            reverse_performance=True, idempotency_key="void")

    cashier.pay(clinic, desk.cashier, other, [cash(desk, 50_000)], idempotency_key="other")
    calls = [top, coupon, back, pay, collect, refund, reprice, sell, course_refund, settle_void]
    first = [call() for call in calls]
    books = snapshot(clinic)
    frozen[0] = datetime(2026, 3, 3, 8, 0)  # a retry the next morning (the coupon's last day has passed)
    again = [call() for call in calls]
    assert snapshot(clinic) == books
    assert [r.receipt_no for r in again] == [r.receipt_no for r in first]
    assert all(r.replayed for r in again if not isinstance(r, cashier.VoidResult))
    assert again[-1] == first[-1]
    # The same key with another amount is refused, never answered with the first receipt as if it were this
    with pytest.raises(ValidationError) as e:
        cashier.settle(clinic, desk.cashier, order_id, payment_method_id=desk.methods["现金"], amount_fen=1,
                       idempotency_key="pay")
    assert e.value.errors["amount"].startswith(f"这笔已经办理过（收据 {first[3].receipt_no}")
    # A key belongs to one request: used for another thing it is refused.
    refused(lambda: top_up(clinic, desk, desk.member, "prepaid", 300_000, "top"), "收款请求无效，请关闭后重新收款")
    refused(lambda: top_up(clinic, desk, desk.plain, "deposit", 300_000, "top"), "收款请求无效，请关闭后重新收款")
    refused(lambda: cashier.pay(clinic, desk.cashier, other, [cash(desk, 1)], idempotency_key="collect"),
            "收款请求无效，请关闭后重新收款")
    refused(lambda: top_up(clinic, desk, desk.plain, "prepaid", 300_000, " "), "收款请求无效，请关闭后重新收款")
    assert snapshot(clinic) == books


# --- data scope ---------------------------------------------------------------------------------------------


def test_a_cashier_outside_the_customers_scope_is_refused(clinic: Clinic, desk: Desk) -> None:
    order_id = order(clinic, desk, desk.plain, ("脱毛", 1, None))
    paid = order(clinic, desk, desk.plain, ("脱毛", 1, None))
    cashier.pay(clinic, desk.cashier, paid, [cash(desk, 50_000)], idempotency_key="paid")
    own = make_user(clinic, desk.admin, "own", pages=[Page.CASHIER, Page.REGISTRATION], scope=DataScope.OWN,
                    grants={right_code(Right.VOID)})
    before = snapshot(clinic)
    with pytest.raises(NotFound):
        cashier.pay(clinic, own, order_id, [cash(desk, 50_000)], idempotency_key="steal")
    with pytest.raises(NotFound):
        cashier.pay(clinic, own, paid, [cash(desk, 50_000)], idempotency_key="paid")  # not even a replay
    with pytest.raises(NotFound):
        ledger.top_up(clinic, own, desk.plain, account="prepaid", tenders=[cash(desk, 100)], idempotency_key="t")
    with pytest.raises(NotFound):
        cashier.void(clinic, own, paid, reason="退", supervisor=desk.boss, reverse_performance=True,
                     idempotency_key="v")
    with pytest.raises(NotFound):
        ledger.customer_accounts(clinic, own, desk.plain)
    with pytest.raises(NotFound):
        ledger.refund_balance(clinic, own, desk.plain, account="prepaid", tenders=[cash(desk, 100)],
                              idempotency_key="r", supervisor=desk.boss, reason="退")
    assert snapshot(clinic) == before


def test_numbers_restart_each_business_day(clinic: Clinic, desk: Desk, frozen: list[datetime]) -> None:
    top_up(clinic, desk, desk.plain, "prepaid", 100, "a")
    top_up(clinic, desk, desk.plain, "prepaid", 100, "b")
    frozen[0] += timedelta(days=1)
    assert top_up(clinic, desk, desk.plain, "prepaid", 100, "c").receipt_no == "R20260303-0001"


def test_an_invoice_is_registered_on_a_settled_order_up_to_its_net_amount(clinic: Clinic, desk: Desk) -> None:
    order_id = order(clinic, desk, desk.plain, ("脱毛", 1, None))
    refused(lambda: cashier.register_invoice(clinic, desk.cashier, order_id, invoice_no="No.1", title="李四",
                                             amount_fen=50_000), "只能为已结单的单据登记发票")
    cashier.pay(clinic, desk.cashier, order_id, [cash(desk, 50_000)], idempotency_key="pay")
    cashier.refund_line(clinic, desk.cashier, lines_of(clinic, order_id)[0].id, amount_fen=10_000,
                        tenders=[cash(desk, 10_000)], reason="退", supervisor=desk.boss, reverse_performance=True,
                        idempotency_key="r")
    refused(lambda: cashier.register_invoice(clinic, desk.cashier, order_id, invoice_no="No.1", title="李四",
                                             amount_fen=50_000), "发票金额应在 ￥0.01–￥400.00 之间")
    refused(lambda: cashier.register_invoice(clinic, desk.cashier, order_id, invoice_no=" ", title="",
                                             amount_fen=40_000), field="invoice_title")
    cashier.register_invoice(clinic, desk.cashier, order_id, invoice_no="No.1", title="李四", amount_fen=40_000)
    with clinic.read() as s:
        saved = s.get(Order, order_id)
        assert saved is not None and (saved.invoice_no, saved.invoice_title, saved.invoice_fen) == (
            "No.1", "李四", 40_000)


def test_a_key_sent_again_with_another_amount_is_refused_not_replayed(
        clinic: Clinic, desk: Desk, frozen: list[datetime]) -> None:
    """Review of issue 14: a dialog keeps its key; a cashier who corrected the amount after an error that
    had in fact gone through was told the corrected amount was taken."""
    cash = desk.methods["现金"]
    first = ledger.top_up(clinic, desk.cashier, desk.member, account="prepaid", tenders=[Tender(cash, 100_000)],
                          idempotency_key="k-same")
    again = ledger.top_up(clinic, desk.cashier, desk.member, account="prepaid", tenders=[Tender(cash, 100_000)],
                          idempotency_key="k-same")
    assert again.replayed and again.receipt_no == first.receipt_no
    with pytest.raises(ValidationError) as e:
        ledger.top_up(clinic, desk.cashier, desk.member, account="prepaid", tenders=[Tender(cash, 500_000)],
                      idempotency_key="k-same")
    assert f"收据 {first.receipt_no}，￥1,000.00" in e.value.errors["amount"]
    assert ledger.customer_accounts(clinic, desk.cashier, desk.member).balances["prepaid"] == 100_000
    order = cashier.open_order(clinic, desk.cashier, customer_id=desk.plain, lines=[LineSpec(desk.items["脱毛"])])
    paid = cashier.pay(clinic, desk.cashier, order, [Tender(cash, 50_000)], idempotency_key="p-same")
    assert cashier.pay(clinic, desk.cashier, order, [Tender(cash, 50_000)], idempotency_key="p-same").replayed
    with pytest.raises(ValidationError):
        cashier.pay(clinic, desk.cashier, order, [Tender(desk.methods["微信"], 50_000)], idempotency_key="p-same")
    assert paid.receipt_no
