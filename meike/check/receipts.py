"""Receipts: tenders, balance, numbering; grants (value that no money paid for)."""

from __future__ import annotations

import re
from datetime import date
from itertools import groupby
from typing import Any

from sqlalchemy import ColumnElement, Integer, case, func, literal, or_, select
from sqlalchemy.orm import Session

from meike import numbering
from meike.check.common import sum_by, who
from meike.check.report import CheckReport
from meike.models import (
    AccountEntry,
    Coupon,
    Customer,
    Order,
    OrderAdjustment,
    Payment,
    Receipt,
    ReceiptCounter,
)
from meike.models.cashier import ORDER_SETTLED
from meike.models.ledger import ACCOUNT_ARREARS, ACCOUNT_COUPON, ACCOUNT_LABELS, ASSET_ACCOUNTS
from meike.money import yuan
from meike.services.ledger import receipt_number


def money_total(s: Session, report: CheckReport) -> None:
    """Money is neither created nor lost, over the whole database: Σ money in through payment methods =
    Σ net amount of the settled orders + Σ customer accounts' entries − Σ granted coupon value − Σ arrears."""
    def total(amount: Any, *where: ColumnElement[bool], join: Any = None) -> int:
        q = select(func.coalesce(func.sum(amount), 0))
        if join is not None:
            q = q.join(Order, Order.id == join)
        return int(s.scalar(q.where(*where)) or 0)

    external = total(Payment.amount_fen, Payment.account.is_(None))
    sales = total(Order.total_fen, Order.status == ORDER_SETTLED)
    adjusted = total(OrderAdjustment.amount_fen, Order.status == ORDER_SETTLED, join=OrderAdjustment.order_id)
    assets = total(AccountEntry.amount_fen, AccountEntry.account.in_(ASSET_ACCOUNTS))
    granted = total(AccountEntry.amount_fen, AccountEntry.is_grant.is_(True))
    owed = total(AccountEntry.amount_fen, AccountEntry.account == ACCOUNT_ARREARS)
    accounted = sales + adjusted + assets - granted - owed
    if external != accounted:
        report.add("money_total", [f"实收合计 {yuan(external)}，而已结单净额 {yuan(sales + adjusted)} + 账户余额 "
                                   f"{yuan(assets - granted)}（不含赠送）− 欠款 {yuan(owed)} = {yuan(accounted)}"])


def receipts(s: Session, report: CheckReport) -> None:
    tendered = sum_by(Payment.receipt_id, Payment.amount_fen, name="tendered")
    rows = s.execute(
        select(Receipt.receipt_no, Receipt.amount_fen, func.coalesce(tendered.c.total, 0))
        .outerjoin(tendered, tendered.c.key == Receipt.id)
        .where(Receipt.amount_fen != func.coalesce(tendered.c.total, 0)).order_by(Receipt.id)).all()
    report.add("receipt_tenders", [f"收据 {no}：金额 {yuan(amount)}，支付明细合计 {yuan(int(total))}"
                                   for no, amount, total in rows])

    external = sum_by(Payment.receipt_id, Payment.amount_fen, Payment.account.is_(None), name="external")
    assets = sum_by(AccountEntry.receipt_id, AccountEntry.amount_fen, AccountEntry.account.in_(ASSET_ACCOUNTS),
                     AccountEntry.is_grant.is_(False), name="assets")
    arrears = sum_by(AccountEntry.receipt_id, AccountEntry.amount_fen, AccountEntry.account == ACCOUNT_ARREARS,
                      name="arrears")
    adjusted = sum_by(OrderAdjustment.receipt_id, OrderAdjustment.amount_fen, name="adjusted")
    sales = func.coalesce(adjusted.c.total, 0) + case(
        (Receipt.kind == "settle", func.coalesce(Order.total_fen, 0)),
        (Receipt.kind == "void", -func.coalesce(Order.total_fen, 0)), else_=literal(0, Integer))
    money_in = func.coalesce(external.c.total, 0)
    accounted = sales + func.coalesce(assets.c.total, 0) - func.coalesce(arrears.c.total, 0)
    rows = s.execute(
        select(Receipt.receipt_no, money_in, accounted)
        .outerjoin(Order, Order.id == Receipt.order_id)
        .outerjoin(external, external.c.key == Receipt.id).outerjoin(assets, assets.c.key == Receipt.id)
        .outerjoin(arrears, arrears.c.key == Receipt.id).outerjoin(adjusted, adjusted.c.key == Receipt.id)
        .where(money_in != accounted).order_by(Receipt.id)).all()
    report.add("receipt_balance", [
        f"收据 {no}：实收 {yuan(int(got))}，而销售 + 入账 − 欠款 = {yuan(int(want))}（差 {yuan(int(got) - int(want))}）"
        for no, got, want in rows])


_NUMBER = re.compile(r"^R(\d{8})-(\d{4,})$")


def day_number_problems(day: date, numbers: list[str], skipped: set[int] = frozenset()) -> list[str]:  # type: ignore[assignment]
    """What is wrong with one business day's receipt numbers (they must be R{day}-0001…n). ``skipped``
    are numbers issued in data a restore replaced (``numbering.skipped_numbers``): accounted for, not
    missing, and never to be seen again."""
    problems: list[str] = []
    serials: list[int] = []
    for number in numbers:
        m = _NUMBER.match(number)
        if m is None:
            problems.append(f"{day:%Y-%m-%d}：收据号 {number!r} 格式错误")
            continue
        if m[1] != f"{day:%Y%m%d}":
            problems.append(f"{day:%Y-%m-%d}：收据号 {number} 不是这一天的号码")
            continue
        serials.append(int(m[2]))
    seen: dict[int, int] = {}
    for serial in serials:
        seen[serial] = seen.get(serial, 0) + 1
    dupes = sorted(k for k, v in seen.items() if v > 1 or k in skipped)
    if dupes:
        problems.append(f"{day:%Y-%m-%d}：收据号重复 " + "、".join(receipt_number(day, k) for k in dupes[:10]))
    top = max(serials, default=0)  # a missing last number shows in the day's counter
    gaps = [k for k in range(1, top + 1) if k not in seen and k not in skipped]
    if gaps:
        more = f" 等 {len(gaps)} 个" if len(gaps) > 10 else ""
        problems.append(f"{day:%Y-%m-%d}：缺号 " + "、".join(receipt_number(day, k) for k in gaps[:10]) + more)
    return problems


def receipt_numbers(s: Session, report: CheckReport) -> None:
    counters = dict(s.execute(select(ReceiptCounter.business_date, ReceiptCounter.last_no)).tuples().all())
    skipped = numbering.skipped_numbers(s)  # issued before a restore, in data that is gone
    problems: list[str] = []
    counter_problems: list[str] = []
    days = 0
    rows = s.execute(select(Receipt.business_date, Receipt.receipt_no)
                     .order_by(Receipt.business_date, Receipt.receipt_no).execution_options(yield_per=20_000))
    for day, group in groupby(rows, key=lambda r: r[0]):
        days += 1
        numbers = [r[1] for r in group]
        lost = skipped.pop(day, set())
        problems += day_number_problems(day, numbers, lost)
        last = counters.pop(day, None)
        if last != len(numbers) + len(lost):
            gone = f"（另有恢复备份时跳过的 {len(lost)} 个）" if lost else ""
            counter_problems.append(f"{day:%Y-%m-%d}：收据 {len(numbers)} 张{gone}，计数器为 {last if last is not None else '无'}")
    for day, last in sorted(counters.items()):
        lost = skipped.pop(day, set())
        if last != len(lost) and (last or lost):
            counter_problems.append(f"{day:%Y-%m-%d}：没有收据，计数器为 {last}"
                                    + (f"，恢复备份时跳过 {len(lost)} 个" if lost else ""))
    counter_problems += [f"{day:%Y-%m-%d}：恢复备份时跳过的收据号没有计数器" for day in sorted(skipped)]
    report.counts["营业日"] = days
    report.add("receipt_numbers", problems)
    report.add("receipt_counter", counter_problems)


# --- grants: value that no money paid for ------------------------------------------------------------


def grants(s: Session, report: CheckReport) -> None:
    """Only the sale of a coupon may grant value (its face value above its price): a granted entry on any
    other account, receipt or coupon would be spendable value that no money paid for."""
    label = ACCOUNT_LABELS
    rows = s.execute(
        select(AccountEntry.id, AccountEntry.account, AccountEntry.amount_fen, Receipt.receipt_no, Customer.name,
               Customer.card_no)
        .join(Customer, Customer.id == AccountEntry.customer_id)
        .outerjoin(Receipt, Receipt.id == AccountEntry.receipt_id)
        .outerjoin(Coupon, Coupon.id == AccountEntry.coupon_id)
        .where(AccountEntry.is_grant.is_(True), or_(
            AccountEntry.account != ACCOUNT_COUPON, AccountEntry.amount_fen <= 0, Coupon.id.is_(None),
            Receipt.kind.is_distinct_from("coupon"), AccountEntry.receipt_id.is_distinct_from(Coupon.receipt_id)))
        .order_by(AccountEntry.id)).all()
    details = [f"{who(name, card)}：账户流水 #{eid}（{label.get(account, account)} {yuan(amount)}，收据 {no or '无'}）"
               "记为赠送，但只有售券时券面值高于售价的部分可以赠送"
               for eid, account, amount, no, name, card in rows]
    on_sale = (AccountEntry.coupon_id == Coupon.id, AccountEntry.receipt_id == Coupon.receipt_id)
    paid = (select(func.coalesce(func.sum(AccountEntry.amount_fen), 0)).where(*on_sale, AccountEntry.is_grant.is_(False))
            .scalar_subquery())
    granted = (select(func.coalesce(func.sum(AccountEntry.amount_fen), 0)).where(*on_sale, AccountEntry.is_grant.is_(True))
               .scalar_subquery())
    rows = s.execute(
        select(Coupon.id, Coupon.name, Coupon.face_value_fen, Coupon.price_fen, Receipt.receipt_no, Receipt.amount_fen,
               paid, granted, Customer.name, Customer.card_no)
        .join(Customer, Customer.id == Coupon.customer_id)
        .outerjoin(Receipt, Receipt.id == Coupon.receipt_id)
        .where(or_(paid != Coupon.price_fen, granted != Coupon.face_value_fen - Coupon.price_fen,
                   Receipt.amount_fen.is_distinct_from(Coupon.price_fen)))
        .order_by(Coupon.id)).all()
    details += [f"{who(cname, card)}：券 #{cid}“{name}”面值 {yuan(face)}、售价 {yuan(price)}，售券收据 {no or '无'} "
                f"金额 {yuan(amount) if amount is not None else '无'}，入账 {yuan(int(got))} + 赠送 {yuan(int(given))}"
                for cid, name, face, price, no, amount, got, given, cname, card in rows]
    report.add("grant", details)
