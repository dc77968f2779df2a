"""Performance 业绩: each settled line credits its consultant, doctor, developer and department.

Each role is its own statistic, credited with the line's full amount (咨询业绩, 医生业绩, 开发业绩,
科室业绩). Price changes credit or debit the difference; a refund or a void reverses what was credited
when the cashier says so (seed 004: "是否需要扣减原有咨询、医生的业绩"), with negative entries.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from meike.models import Item, Order, OrderLine, PerformanceEntry, Receipt

ROLE_LABELS = {"consultant": "咨询", "doctor": "医生", "developer": "开发", "referrer": "推介", "department": "科室",
               "deposit": "科室定金"}


def credit_deposit(s: Session, receipt: Receipt, amount_fen: int, staff_id: int | None,
                   department_id: int | None) -> None:
    """A deposit 定金 / inpatient deposit credits its referring staff and department (seed 004), apart from
    sales: it is spent on orders later, which credit sales then."""
    for role, staff, department in (("referrer", staff_id, None), ("deposit", None, department_id)):
        if staff is not None or department is not None:
            s.add(PerformanceEntry(order_id=None, order_line_id=None, receipt_id=receipt.id, role=role,
                                   staff_id=staff, department_id=department, amount_fen=amount_fen,
                                   business_date=receipt.business_date))


def credit_line(s: Session, order: Order, line: OrderLine, amount_fen: int, receipt: Receipt) -> None:
    if amount_fen == 0:
        return
    item = s.get(Item, line.item_id)
    targets = [
        ("consultant", order.consultant_id, None),
        ("doctor", line.doctor_id, None),
        ("developer", order.customer.developer_id, None),
        ("department", None, item.department_id if item is not None else None),
    ]
    for role, staff_id, department_id in targets:
        if staff_id is None and department_id is None:
            continue
        s.add(PerformanceEntry(order_id=order.id, order_line_id=line.id, receipt_id=receipt.id, role=role,
                               staff_id=staff_id, department_id=department_id, amount_fen=amount_fen,
                               business_date=receipt.business_date))


def _credited(s: Session, *where: object) -> list[tuple[int | None, str, int | None, int | None, int]]:
    return list(s.execute(
        select(PerformanceEntry.order_line_id, PerformanceEntry.role, PerformanceEntry.staff_id,
               PerformanceEntry.department_id, func.sum(PerformanceEntry.amount_fen))
        .where(*where)  # type: ignore[arg-type]
        .group_by(PerformanceEntry.order_line_id, PerformanceEntry.role, PerformanceEntry.staff_id,
                  PerformanceEntry.department_id)).tuples())


def reverse_line(s: Session, order: Order, line: OrderLine, amount_fen: int, receipt: Receipt, *,
                 staff: bool) -> None:
    """Take back ``amount_fen`` from the roles credited for the line (never more than each holds).

    The department's sales always follow the money; the staff's only when the cashier says so.
    """
    s.flush()
    for line_id, role, staff_id, department_id, held in _credited(s, PerformanceEntry.order_line_id == line.id):
        if role != "department" and not staff:
            continue
        take = min(amount_fen, int(held or 0))
        if take > 0:
            s.add(PerformanceEntry(order_id=order.id, order_line_id=line_id, receipt_id=receipt.id, role=role,
                                   staff_id=staff_id, department_id=department_id, amount_fen=-take,
                                   business_date=receipt.business_date))


def reverse_order(s: Session, order: Order, receipt: Receipt, *, staff: bool) -> None:
    """A void: what is still credited for the order goes back to zero (the staff's only when asked)."""
    s.flush()
    for line_id, role, staff_id, department_id, held in _credited(s, PerformanceEntry.order_id == order.id):
        if held and (staff or role == "department"):
            s.add(PerformanceEntry(order_id=order.id, order_line_id=line_id, receipt_id=receipt.id, role=role,
                                   staff_id=staff_id, department_id=department_id, amount_fen=-int(held),
                                   business_date=receipt.business_date))
