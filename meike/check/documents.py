"""Documents written whole: a top-up's receipt and its account entry, an order and its lines, receipts,
void and reopened copy, a course and the line that sold it (the crash harness's checks after a kill,
here since issue 15 so that ``--check`` finds the same)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Integer, ScalarSelect, case, func, or_, select
from sqlalchemy.orm import Session, aliased

from meike.check.report import CheckReport
from meike.models import (
    AccountEntry,
    Order,
    OrderLine,
    Package,
    PackageUse,
    Payment,
    PerformanceEntry,
    Receipt,
)
from meike.models.cashier import ORDER_SETTLED, ORDER_VOIDED
from meike.models.ledger import ACCOUNT_DEPOSIT, ACCOUNT_INPATIENT, ACCOUNT_PREPAID
from meike.money import yuan
from meike.services.cashier import STATUS_LABELS

TOP_UPS = (ACCOUNT_DEPOSIT, ACCOUNT_PREPAID, ACCOUNT_INPATIENT)  # receipts whose kind is the account they fill
PAID = (ORDER_SETTLED, ORDER_VOIDED)


def _count(model: Any, *where: ColumnElement[bool]) -> ScalarSelect[int]:
    return select(func.count()).select_from(model).where(*where).scalar_subquery()


def documents(s: Session, report: CheckReport) -> None:
    posted = (select(func.coalesce(func.sum(AccountEntry.amount_fen), 0))
              .where(AccountEntry.receipt_id == Receipt.id, AccountEntry.account == Receipt.kind).scalar_subquery())
    rows = s.execute(select(Receipt.receipt_no, Receipt.kind, Receipt.amount_fen, posted)
                     .where(Receipt.kind.in_(TOP_UPS), Receipt.amount_fen != posted).order_by(Receipt.id)).all()
    report.add("receipt_entries", [f"收据 {no}（{kind}）：金额 {yuan(amount)}，记入账户 {yuan(int(got))}"
                                   for no, kind, amount, got in rows])

    lines = (select(OrderLine.order_id.label("key"), func.sum(OrderLine.amount_fen).label("total"))
             .group_by(OrderLine.order_id).subquery("lines"))
    lined = func.coalesce(lines.c.total, -1)  # an order without lines never matches
    rows = s.execute(select(Order.id, Order.receipt_no, Order.total_fen, lined)
                     .outerjoin(lines, lines.c.key == Order.id).where(Order.total_fen != lined)
                     .order_by(Order.id)).all()
    report.add("order_lines", [f"业务单 #{oid}（{no or '未结单'}）：应收 {yuan(total)}，明细合计 "
                               f"{yuan(int(got)) if got >= 0 else '无明细'}" for oid, no, total, got in rows])

    models: tuple[Any, ...] = (Receipt, Payment, AccountEntry, PerformanceEntry)
    money = or_(*(select(model.id).where(model.order_id == Order.id).exists() for model in models))
    rows = s.execute(select(Order.id, Order.status).where(Order.status.not_in(PAID), money).order_by(Order.id)).all()
    report.add("order_unpaid_money", [f"业务单 #{oid}（{STATUS_LABELS.get(status, status)}）有收据、收款、账户流水或业绩"
                                      for oid, status in rows])

    rows = s.execute(select(Receipt.order_id, Receipt.kind, func.count())
                     .where(Receipt.kind.in_(("settle", "void")), Receipt.order_id.is_not(None))
                     .group_by(Receipt.order_id, Receipt.kind).having(func.count() > 1)
                     .order_by(Receipt.order_id)).all()
    report.add("order_duplicate", [f"业务单 #{oid}：{'结单' if kind == 'settle' else '退单'}收据 {n} 张"
                                   for oid, kind, n in rows])
    _voids(s, report)


def _voids(s: Session, report: CheckReport) -> None:
    """A voided order has one void receipt, none of its other receipts still valid, and one reopened copy;
    a void receipt belongs to a voided order."""
    reopened = aliased(Order)
    voids = _count(Receipt, Receipt.order_id == Order.id, Receipt.kind == "void")
    valid = _count(Receipt, Receipt.order_id == Order.id, Receipt.kind != "void", Receipt.status == "valid")
    copies = _count(reopened, reopened.source_order_id == Order.id)
    details = [f"业务单 #{oid}（{no}，已退单）：退单收据 {v} 张，仍有效的收据 {ok} 张，重开 {c} 次"
               for oid, no, v, ok, c in s.execute(
                   select(Order.id, Order.receipt_no, voids, valid, copies)
                   .where(Order.status == ORDER_VOIDED, or_(voids != 1, valid != 0, copies != 1)).order_by(Order.id))]
    details += [f"退单收据 {no} 所属的业务单 #{oid} {STATUS_LABELS.get(status, status)}，并未退单"
                for no, oid, status in s.execute(
                    select(Receipt.receipt_no, Order.id, Order.status).join(Order, Order.id == Receipt.order_id)
                    .where(Receipt.kind == "void", Order.status != ORDER_VOIDED).order_by(Receipt.id))]
    report.add("order_void", details)


def courses(s: Session, report: CheckReport) -> None:
    """A course was sold by a paid order's line that sells courses, for its sessions × quantity; every such
    line sold one; a line deducting a course used its quantity, and gave it back when voided."""
    why = case((OrderLine.id.is_(None), "没有售出它的业务单明细"),
               (OrderLine.package_sessions == 0, "售出它的明细不是疗程"),
               (Order.status.not_in(PAID), "售出它的业务单未结单"), else_="次数与售出它的明细不符")
    rows = s.execute(select(Package.id, Package.item_name, why).select_from(Package)
                     .outerjoin(OrderLine, OrderLine.id == Package.order_line_id)
                     .outerjoin(Order, Order.id == OrderLine.order_id)
                     .where(or_(OrderLine.id.is_(None), OrderLine.package_sessions == 0, Order.status.not_in(PAID),
                                Package.sessions != OrderLine.package_sessions * OrderLine.quantity))
                     .order_by(Package.id)).all()
    details = [f"疗程 #{pid}“{item}”：{reason}" for pid, item, reason in rows]
    sold = select(Package.id).where(Package.order_line_id == OrderLine.id).exists()
    rows = s.execute(select(OrderLine.id, OrderLine.item_name, Order.id).join(Order, Order.id == OrderLine.order_id)
                     .where(Order.status.in_(PAID), OrderLine.package_sessions > 0, ~sold).order_by(OrderLine.id)).all()
    details += [f"业务单 #{oid} 的明细 #{lid}“{item}”售出的疗程不存在" for lid, item, oid in rows]
    report.add("course_sale", details)

    def uses(kind: str) -> ScalarSelect[int]:
        return (select(func.coalesce(func.sum(PackageUse.sessions), 0))
                .where(PackageUse.order_line_id == OrderLine.id, PackageUse.kind == kind).scalar_subquery())

    used, restored = uses("used"), uses("restored")
    expected = case((Order.status == ORDER_VOIDED, OrderLine.quantity), else_=0).cast(Integer)
    rows = s.execute(select(OrderLine.id, OrderLine.item_name, Order.id, Order.status, OrderLine.quantity, used,
                            restored).join(Order, Order.id == OrderLine.order_id)
                     .where(Order.status.in_(PAID), OrderLine.package_id.is_not(None),
                            or_(used != -OrderLine.quantity, restored != expected))
                     .order_by(OrderLine.id)).all()
    report.add("course_use", [f"业务单 #{oid}（{STATUS_LABELS.get(status, status)}）明细 #{lid}“{item}”划扣 {q} 次："
                              f"记录划扣 {-int(u)} 次、退回 {int(r)} 次" for lid, item, oid, status, q, u, r in rows])
