"""Customer accounts: no balance below zero, coupon and arrears entries where they belong."""

from __future__ import annotations

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from meike.check.common import sum_by, who
from meike.check.report import CheckReport
from meike.models import (
    AccountEntry,
    Coupon,
    Customer,
    Order,
)
from meike.models.ledger import ACCOUNT_ARREARS, ACCOUNT_COUPON, ACCOUNT_LABELS, ASSET_ACCOUNTS
from meike.money import yuan


def balances(s: Session, report: CheckReport) -> None:
    label = ACCOUNT_LABELS
    total = func.sum(AccountEntry.amount_fen)
    rows = s.execute(
        select(Customer.name, Customer.card_no, AccountEntry.account, total)
        .join(Customer, Customer.id == AccountEntry.customer_id)
        .where(AccountEntry.account.in_(ASSET_ACCOUNTS))
        .group_by(Customer.id, Customer.name, Customer.card_no, AccountEntry.account)
        .having(total < 0).order_by(Customer.id)).all()
    details = [f"{who(name, card)}：{label.get(account, account)}余额 {yuan(int(v))}" for name, card, account, v in rows]
    owed = (select(AccountEntry.order_id, func.sum(AccountEntry.amount_fen).label("owed"))
            .where(AccountEntry.account == ACCOUNT_ARREARS, AccountEntry.order_id.is_not(None))
            .group_by(AccountEntry.order_id).subquery())
    rows = s.execute(select(Order.id, Order.receipt_no, Customer.name, Customer.card_no, owed.c.owed)
                     .join(owed, owed.c.order_id == Order.id).join(Customer, Customer.id == Order.customer_id)
                     .where(owed.c.owed < 0).order_by(Order.id)).all()
    details += [f"{who(name, card)}：业务单 #{oid}（{no or '未结单'}）欠款 {yuan(int(v))}" for oid, no, name, card, v in rows]
    report.add("negative_balance", details)

    left = sum_by(AccountEntry.coupon_id, AccountEntry.amount_fen, AccountEntry.coupon_id.is_not(None), name="left")
    coupons = s.execute(select(Coupon.id, Coupon.name, Coupon.face_value_fen, func.coalesce(left.c.total, 0),
                               Customer.name, Customer.card_no)
                     .outerjoin(left, left.c.key == Coupon.id).join(Customer, Customer.id == Coupon.customer_id)
                        .where(or_(func.coalesce(left.c.total, 0) < 0, func.coalesce(left.c.total, 0) > Coupon.face_value_fen))
                        .order_by(Coupon.id)).all()
    details = [f"{who(cname, card)}：券 #{cid}“{name}”面值 {yuan(face)}，余额 {yuan(int(v))}"
               for cid, name, face, v, cname, card in coupons]
    misplaced = s.execute(select(AccountEntry.id, Coupon.id).join(Coupon, Coupon.id == AccountEntry.coupon_id)
                     .where(or_(AccountEntry.customer_id != Coupon.customer_id,
                                AccountEntry.account != ACCOUNT_COUPON)).order_by(AccountEntry.id)).all()
    details += [f"账户流水 #{eid} 记在券 #{cid} 上，但顾客或账户类型不符" for eid, cid in misplaced]
    report.add("coupon", details)

    orphans = s.execute(select(AccountEntry.id, AccountEntry.account).where(or_(
        and_(AccountEntry.account == ACCOUNT_COUPON, AccountEntry.coupon_id.is_(None)),
        and_(AccountEntry.account == ACCOUNT_ARREARS, AccountEntry.order_id.is_(None)),
        AccountEntry.account.not_in((*ASSET_ACCOUNTS, ACCOUNT_ARREARS)))).order_by(AccountEntry.id)).all()
    report.add("entry", [f"账户流水 #{eid}（{label.get(a, a)}）缺少所属的券或业务单，或账户类型无效" for eid, a in orphans])
