"""Orders, courses and performance: what each order was paid, owes and credited."""

from __future__ import annotations

from sqlalchemy import ColumnElement, Subquery, and_, func, or_, select
from sqlalchemy.orm import Session

from meike.check.common import sum_by, who
from meike.check.report import CheckReport
from meike.models import (
    AccountEntry,
    Customer,
    Order,
    OrderAdjustment,
    OrderLine,
    Package,
    PackageUse,
    Payment,
    PerformanceEntry,
    Receipt,
)
from meike.models.cashier import ORDER_CANCELLED, ORDER_NEW, ORDER_SETTLED, ORDER_VOIDED
from meike.models.ledger import ACCOUNT_ARREARS
from meike.money import yuan
from meike.services.cashier import STATUS_LABELS


def orders(s: Session, report: CheckReport) -> None:
    paid = sum_by(Payment.order_id, Payment.amount_fen, Payment.order_id.is_not(None), name="paid")
    owed = sum_by(AccountEntry.order_id, AccountEntry.amount_fen, AccountEntry.account == ACCOUNT_ARREARS,
                   AccountEntry.order_id.is_not(None), name="owed")
    adjusted = sum_by(OrderAdjustment.order_id, OrderAdjustment.amount_fen, name="adjusted")
    p, o, a = (func.coalesce(q.c.total, 0) for q in (paid, owed, adjusted))
    net = Order.total_fen + a
    base = (select(Order.id, Order.status, Order.receipt_no, Order.total_fen, p, o, a)
            .outerjoin(paid, paid.c.key == Order.id).outerjoin(owed, owed.c.key == Order.id)
            .outerjoin(adjusted, adjusted.c.key == Order.id).order_by(Order.id))
    wrong = or_(
        and_(Order.status == ORDER_SETTLED, p + o != net),
        and_(Order.status == ORDER_VOIDED, or_(p != 0, o != 0)),
        and_(Order.status.in_((ORDER_NEW, ORDER_CANCELLED)), or_(p != 0, o != 0, a != 0)),
        Order.status.not_in((ORDER_NEW, ORDER_SETTLED, ORDER_CANCELLED, ORDER_VOIDED)))
    details = []
    for oid, status, no, total, got, due, adj in s.execute(base.where(wrong)):
        details.append(f"业务单 #{oid}（{no or '未结单'}，{STATUS_LABELS.get(status, status)}）：应收 {yuan(total + int(adj))}，"
                       f"已付 {yuan(int(got))}，欠款 {yuan(int(due))}")
    report.add("order_amounts", details)
    rows = s.execute(base.where(Order.status == ORDER_SETTLED, p > net)).all()
    report.add("overpaid", [f"业务单 #{oid}（{no}）：应收 {yuan(total + int(adj))}，已付 {yuan(int(got))}"
                            for oid, _st, no, total, got, _due, adj in rows])
    settle = (select(Receipt.id).where(Receipt.order_id == Order.id, Receipt.kind == "settle",
                                       Receipt.receipt_no == Order.receipt_no).exists())
    rows = s.execute(select(Order.id, Order.receipt_no)
                     .where(Order.status.in_((ORDER_SETTLED, ORDER_VOIDED)), ~settle).order_by(Order.id)).all()
    report.add("order_receipt", [f"业务单 #{oid}：结单收据 {no or '（无号码）'} 不存在" for oid, no in rows])


def packages(s: Session, report: CheckReport) -> None:
    def uses(name: str, *where: ColumnElement[bool]) -> Subquery:
        return sum_by(PackageUse.package_id, PackageUse.sessions, *where, name=name)

    left = uses("left")
    bought = uses("bought", PackageUse.kind == "bought")
    used = uses("used", PackageUse.kind.in_(("used", "restored")))
    bought_rows = (select(PackageUse.package_id.label("key"), func.count().label("total"))
                   .where(PackageUse.kind == "bought").group_by(PackageUse.package_id).subquery("bought_rows"))
    lines = (select(OrderLine.package_id.label("key"), func.sum(OrderLine.quantity).label("total"))
             .join(Order, Order.id == OrderLine.order_id)
             .where(OrderLine.package_id.is_not(None), Order.status == ORDER_SETTLED)
             .group_by(OrderLine.package_id).subquery("lines"))
    remaining, once, sessions_in, used_net, on_lines = (
        func.coalesce(q.c.total, 0) for q in (left, bought_rows, bought, used, lines))
    wrong_sign = (select(PackageUse.id).where(PackageUse.package_id == Package.id, or_(
        and_(PackageUse.kind.in_(("bought", "restored")), PackageUse.sessions <= 0),
        and_(PackageUse.kind.in_(("used", "refunded")), PackageUse.sessions >= 0))).exists())
    rows = s.execute(
        select(Package.id, Package.item_name, Package.sessions, remaining, once, sessions_in, used_net, on_lines,
               wrong_sign, Customer.name, Customer.card_no)
        .join(Customer, Customer.id == Package.customer_id)
        .outerjoin(left, left.c.key == Package.id).outerjoin(bought_rows, bought_rows.c.key == Package.id)
        .outerjoin(bought, bought.c.key == Package.id).outerjoin(used, used.c.key == Package.id)
        .outerjoin(lines, lines.c.key == Package.id)
        .where(or_(remaining < 0, remaining > Package.sessions, once != 1, sessions_in != Package.sessions,
                   -used_net != on_lines, wrong_sign))
        .order_by(Package.id)).all()
    details = []
    for pid, item, sessions, rem, n_bought, got, net_used, lined, bad_sign, name, card in rows:
        why = []
        if not 0 <= rem <= sessions:
            why.append(f"剩余 {rem} 次，共 {sessions} 次")
        if n_bought != 1 or got != sessions:
            why.append(f"购买记录 {n_bought} 条共 {got} 次")
        if -net_used != lined:
            why.append(f"划扣 {-net_used} 次，已结单的划扣项目为 {lined} 次")
        if bad_sign:
            why.append("次数记录的正负号与类型不符")
        details.append(f"{who(name, card)}：疗程 #{pid}“{item}”" + "，".join(why))
    report.add("package", details)


def performance(s: Session, report: CheckReport) -> None:
    credit = func.sum(PerformanceEntry.amount_fen)
    rows = s.execute(
        select(Order.id, Order.receipt_no, Order.status, credit)
        .join(PerformanceEntry, PerformanceEntry.order_id == Order.id)
        .where(PerformanceEntry.role == "department")
        .group_by(Order.id, Order.receipt_no, Order.status)
        .having(or_(credit < 0, and_(Order.status == ORDER_VOIDED, credit != 0)))
        .order_by(Order.id)).all()
    details = [f"业务单 #{oid}（{no or '未结单'}，{STATUS_LABELS.get(status, status)}）：科室业绩 {yuan(int(v))}"
               for oid, no, status, v in rows]
    # A settled order credits its departments with exactly its net amount (total + price changes and refunds).
    adjusted = sum_by(OrderAdjustment.order_id, OrderAdjustment.amount_fen, name="adjusted")
    department = sum_by(PerformanceEntry.order_id, PerformanceEntry.amount_fen, PerformanceEntry.role == "department",
                        PerformanceEntry.order_id.is_not(None), name="department")
    net = Order.total_fen + func.coalesce(adjusted.c.total, 0)
    credited = func.coalesce(department.c.total, 0)
    details += [f"业务单 #{oid}（{no}）：净额 {yuan(int(n))}，科室业绩 {yuan(int(c))}" for oid, no, n, c in s.execute(
        select(Order.id, Order.receipt_no, net, credited)
        .outerjoin(adjusted, adjusted.c.key == Order.id)
        .outerjoin(department, department.c.key == Order.id)
        .where(Order.status == ORDER_SETTLED, net != credited).order_by(Order.id))]
    report.add("performance", details)
