"""Performance 业绩: each settled line credits its consultant, doctor, developer and department.

Each role is its own statistic (咨询业绩, 医生业绩, 开发业绩, 科室业绩). The department is credited with
the line's whole amount; each staff role with the item's share of it (项目业绩比例, percent, 100 by
default), split among the people the order names for that role (业绩分配, e.g. two consultants 60/40) or
else given to the order's consultant, the line's doctor and the customer's developer.

Price changes credit the difference the same way, and a refund or a price cut takes back the credit of
the amount given back (split among the holders by what they hold). The department's credit always
follows the money, the staff's only when the cashier says so (seed 004: "是否需要扣减原有咨询、医生的业绩"). Reversals are negative entries.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from meike.models import AccountEntry, Item, Order, OrderLine, OrderShare, PerformanceEntry, Receipt

ROLE_LABELS = {"consultant": "咨询", "doctor": "医生", "developer": "开发", "referrer": "推介", "department": "科室",
               "deposit": "科室定金"}
SHARED_ROLES = ("consultant", "doctor", "developer")


def split(amount_fen: int, weights: Sequence[int]) -> list[int]:
    """``amount_fen`` in parts proportional to ``weights`` (largest remainder): the parts sum to the amount."""
    total = sum(weights)
    if total <= 0 or not weights:
        return [0] * len(weights)
    sign, amount = (-1, -amount_fen) if amount_fen < 0 else (1, amount_fen)
    parts = [amount * w // total for w in weights]
    remainders = sorted(range(len(weights)), key=lambda i: (-(amount * weights[i] % total), i))
    for i in remainders[: amount - sum(parts)]:
        parts[i] += 1
    return [sign * p for p in parts]


def percent_of(amount_fen: int, percent: int) -> int:
    """``percent`` % of an amount, rounded half away from zero."""
    value = (abs(amount_fen) * percent * 2 + 100) // 200
    return -value if amount_fen < 0 else value


def item_percent(item: Item | None, role: str) -> int:
    return 100 if item is None else int(getattr(item, f"share_{role}_pct"))


def order_shares(s: Session, order_id: int) -> dict[str, list[tuple[int, int]]]:
    """业绩分配 of an order: role → [(staff id, percent)], in a stable order."""
    shares: dict[str, list[tuple[int, int]]] = {}
    for row in s.scalars(select(OrderShare).where(OrderShare.order_id == order_id)
                         .order_by(OrderShare.role, OrderShare.staff_id)):
        shares.setdefault(row.role, []).append((row.staff_id, row.percent))
    return shares


def line_targets(s: Session, order: Order, line: OrderLine, amount_fen: int,
                 shares: dict[str, list[tuple[int, int]]] | None = None
                 ) -> list[tuple[str, int | None, int | None, int]]:
    """Who is credited how much for ``amount_fen`` of a line: (role, staff id, department id, amount).

    ``shares``: the order's 业绩分配 when the caller has read it already (one query for all lines)."""
    item = s.get(Item, line.item_id)
    shares = order_shares(s, order.id) if shares is None else shares
    defaults = {"consultant": order.consultant_id, "doctor": line.doctor_id,
                "developer": order.customer.developer_id}
    targets: list[tuple[str, int | None, int | None, int]] = []
    for role in SHARED_ROLES:
        default = defaults[role]
        people = shares.get(role) or ([(default, 100)] if default is not None else [])
        role_amount = percent_of(amount_fen, item_percent(item, role))
        for (staff_id, _pct), part in zip(people, split(role_amount, [p for _s, p in people]), strict=True):
            targets.append((role, staff_id, None, part))
    department = item.department_id if item is not None else None
    if department is not None:
        targets.append(("department", None, department, amount_fen))
    return targets


def credit_deposit(s: Session, receipt: Receipt, amount_fen: int, staff_id: int | None,
                   department_id: int | None) -> None:
    """A deposit 定金 / inpatient deposit credits its referring staff and department (seed 004), apart from
    sales: it is spent on orders later, which credit sales then."""
    for role, staff, department in (("referrer", staff_id, None), ("deposit", None, department_id)):
        if staff is not None or department is not None:
            s.add(PerformanceEntry(order_id=None, order_line_id=None, receipt_id=receipt.id, role=role,
                                   staff_id=staff, department_id=department, amount_fen=amount_fen,
                                   business_date=receipt.business_date))


def reverse_deposit(s: Session, customer_id: int, account: str, amount_fen: int, receipt: Receipt, *,
                    staff: bool) -> None:
    """A refund of ``amount_fen`` from a deposit account (定金 / 住院押金) takes back the credit it earned:
    the department's always, the referrer's when asked, split among the holders by what they hold."""
    s.flush()
    receipts = select(AccountEntry.receipt_id).where(AccountEntry.customer_id == customer_id,
                                                     AccountEntry.account == account)
    holders: dict[str, list[tuple[int | None, int | None, int]]] = {}
    for role, staff_id, department_id, held in s.execute(
            select(PerformanceEntry.role, PerformanceEntry.staff_id, PerformanceEntry.department_id,
                   func.sum(PerformanceEntry.amount_fen))
            .where(PerformanceEntry.receipt_id.in_(receipts), PerformanceEntry.order_id.is_(None),
                   PerformanceEntry.role.in_(("referrer", "deposit")))
            .group_by(PerformanceEntry.role, PerformanceEntry.staff_id, PerformanceEntry.department_id)
            .order_by(PerformanceEntry.role, PerformanceEntry.staff_id, PerformanceEntry.department_id)):
        if int(held or 0) > 0 and (staff or role == "deposit"):
            holders.setdefault(role, []).append((staff_id, department_id, int(held)))
    for role, rows in holders.items():
        total_held = sum(held for _s, _d, held in rows)
        for (staff_id, department_id, held), take in zip(
                rows, split(min(amount_fen, total_held), [h for _s, _d, h in rows]), strict=True):
            if min(take, held) > 0:
                s.add(PerformanceEntry(order_id=None, order_line_id=None, receipt_id=receipt.id, role=role,
                                       staff_id=staff_id, department_id=department_id, amount_fen=-min(take, held),
                                       business_date=receipt.business_date))


def credit_line(s: Session, order: Order, line: OrderLine, amount_fen: int, receipt: Receipt,
                shares: dict[str, list[tuple[int, int]]] | None = None) -> None:
    if amount_fen == 0:
        return
    for role, staff_id, department_id, part in line_targets(s, order, line, amount_fen, shares):
        if part:
            s.add(PerformanceEntry(order_id=order.id, order_line_id=line.id, receipt_id=receipt.id, role=role,
                                   staff_id=staff_id, department_id=department_id, amount_fen=part,
                                   business_date=receipt.business_date))


def _credited(s: Session, *where: object) -> list[tuple[int | None, str, int | None, int | None, int]]:
    return list(s.execute(
        select(PerformanceEntry.order_line_id, PerformanceEntry.role, PerformanceEntry.staff_id,
               PerformanceEntry.department_id, func.sum(PerformanceEntry.amount_fen))
        .where(*where)  # type: ignore[arg-type]
        .group_by(PerformanceEntry.order_line_id, PerformanceEntry.role, PerformanceEntry.staff_id,
                  PerformanceEntry.department_id)
        .order_by(PerformanceEntry.role, PerformanceEntry.staff_id, PerformanceEntry.department_id)).tuples())


def reverse_line(s: Session, order: Order, line: OrderLine, amount_fen: int, receipt: Receipt, *,
                 staff: bool) -> None:
    """Take back the credit of ``amount_fen`` of a line: the department ``amount_fen``, each staff role the
    item's share of it, split among that role's holders by what they hold. Nobody gives back more than
    they hold, so credit kept at an earlier refund (not reversed then) stays. The department's sales
    always follow the money; the staff's only when asked.
    """
    s.flush()
    item = s.get(Item, line.item_id)
    holders: dict[str, list[tuple[int | None, int | None, int]]] = {}
    for _line_id, role, staff_id, department_id, held in _credited(s, PerformanceEntry.order_line_id == line.id):
        if int(held or 0) > 0 and (staff or role == "department"):
            holders.setdefault(role, []).append((staff_id, department_id, int(held)))
    for role, rows in holders.items():
        wanted = amount_fen if role not in SHARED_ROLES else percent_of(amount_fen, item_percent(item, role))
        total_held = sum(held for _s, _d, held in rows)
        parts = split(min(wanted, total_held), [held for _s, _d, held in rows])
        for (staff_id, department_id, held), take in zip(rows, parts, strict=True):
            if min(take, held) > 0:
                s.add(PerformanceEntry(order_id=order.id, order_line_id=line.id, receipt_id=receipt.id, role=role,
                                       staff_id=staff_id, department_id=department_id, amount_fen=-min(take, held),
                                       business_date=receipt.business_date))


def reverse_order(s: Session, order: Order, receipt: Receipt, *, staff: bool) -> None:
    """A void: what is still credited for the order goes back to zero (the staff's only when asked)."""
    s.flush()
    for line_id, role, staff_id, department_id, held in _credited(s, PerformanceEntry.order_id == order.id):
        if held and (staff or role == "department"):
            s.add(PerformanceEntry(order_id=order.id, order_line_id=line_id, receipt_id=receipt.id, role=role,
                                   staff_id=staff_id, department_id=department_id, amount_fen=-int(held),
                                   business_date=receipt.business_date))
