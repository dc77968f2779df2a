"""业绩分配: who gets each role's performance on an order."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from meike.db import Clinic
from meike.errors import ValidationError
from meike.models import (
    Item,
    OrderShare,
    Staff,
    StaffRole,
)
from meike.models.cashier import ORDER_NEW
from meike.permissions import Actor, Page
from meike.services import audit, performance
from meike.services.cashier.common import load_order


@dataclass(frozen=True)
class ShareSpec:
    """One person's share of a role's performance on an order (业绩分配): percents of a role sum to 100."""

    role: str  # consultant / doctor / developer
    staff_id: int
    percent: int


def check_shares(s: Session, shares: Sequence[ShareSpec]) -> list[OrderShare]:
    errors: dict[str, str] = {}
    by_role: dict[str, list[ShareSpec]] = {}
    for share in shares:
        label = performance.ROLE_LABELS.get(share.role, share.role)
        if share.role not in performance.SHARED_ROLES:
            errors.setdefault("shares", f"不能分配“{label}”业绩")
        elif not isinstance(share.percent, int) or not 1 <= share.percent <= 100:
            errors.setdefault("shares", f"{label}业绩比例应在 1%–100% 之间")
        elif s.get(Staff, share.staff_id) is None:
            errors.setdefault("shares", "职员不存在")
        else:
            by_role.setdefault(share.role, []).append(share)
    for role, rows in by_role.items():
        label = performance.ROLE_LABELS[role]
        if len({r.staff_id for r in rows}) != len(rows):
            errors.setdefault("shares", f"{label}业绩里同一职员出现了两次")
        elif sum(r.percent for r in rows) != 100:
            errors.setdefault("shares", f"{label}业绩比例合计应为 100%，现在是 {sum(r.percent for r in rows)}%")
    if errors:
        raise ValidationError(errors)
    return [OrderShare(role=r.role, staff_id=r.staff_id, percent=r.percent) for r in shares]


def set_order_shares(clinic: Clinic, actor: Actor, order_id: int, shares: Sequence[ShareSpec], *,
                     expected_version: int | None = None) -> None:
    """业绩分配 of an unpaid order; an empty list for a role gives it back to the default person."""
    actor.require_page(Page.CASHIER)
    with clinic.write() as s:
        order = load_order(s, actor, order_id, lock=True, expected_version=expected_version)
        if order.status != ORDER_NEW:
            raise ValidationError.single("shares", "只能在结单前分配业绩")
        rows = check_shares(s, shares)
        before = [{"role": r, "staff_id": st, "percent": pc}
                  for r, people in performance.order_shares(s, order.id).items() for st, pc in people]
        for old in s.scalars(select(OrderShare).where(OrderShare.order_id == order.id)):
            s.delete(old)
        s.flush()
        for row in rows:
            row.order_id = order.id
            s.add(row)
        order.version += 1  # the shares are part of the order: another window's view of it is stale now
        audit.record(s, actor, "order.shares", "order", order.id, before={"shares": before}, after={
            "shares": [{"role": r.role, "staff_id": r.staff_id, "percent": r.percent} for r in rows]})


@dataclass(frozen=True)
class ShareView:
    role: str
    staff_id: int
    staff_name: str
    percent: int


@dataclass(frozen=True)
class SharesView:
    """An order's 业绩分配 and who gets each role when it names nobody."""

    shares: list[ShareView]
    version: int
    defaults: dict[str, str]  # role → the default person's name ("" = nobody)
    item_percents: list[tuple[str, int, int, int]]  # item name, consultant %, doctor %, developer %


def order_shares(clinic: Clinic, actor: Actor, order_id: int) -> SharesView:
    actor.require_page(Page.CASHIER)
    with clinic.read() as s:
        order = load_order(s, actor, order_id)
        names = dict(s.execute(select(Staff.id, Staff.name)).tuples().all())
        shares = [ShareView(role, staff_id, names.get(staff_id, ""), percent)
                  for role, people in performance.order_shares(s, order.id).items() for staff_id, percent in people]
        doctors = sorted({names.get(li.doctor_id, "") for li in order.lines if li.doctor_id is not None})
        defaults = {"consultant": names.get(order.consultant_id, "") if order.consultant_id else "",
                    "doctor": "、".join(doctors),
                    "developer": (names.get(order.customer.developer_id, "")
                                  if order.customer.developer_id else "")}
        percents: list[tuple[str, int, int, int]] = []
        for li in order.lines:
            item = s.get(Item, li.item_id)
            consultant, doctor, developer = (performance.item_percent(item, r) for r in performance.SHARED_ROLES)
            percents.append((li.item_name, consultant, doctor, developer))
        return SharesView(shares, order.version, defaults, percents)


SHARE_STAFF_ROLES = {"consultant": ("onsite_consultant", "online_consultant"), "doctor": ("doctor",),
                     "developer": None}  # None: anyone on the staff


def share_candidates(clinic: Clinic, actor: Actor) -> dict[str, list[tuple[int, str]]]:
    """Who can be given each role's performance: consultants, doctors, and anyone as developer."""
    actor.require_page(Page.CASHIER)
    with clinic.read() as s:
        out: dict[str, list[tuple[int, str]]] = {}
        for role, codes in SHARE_STAFF_ROLES.items():
            q = select(Staff.id, Staff.name).where(Staff.is_active.is_(True)).order_by(Staff.sort_order, Staff.id)
            if codes is not None:
                q = q.where(Staff.id.in_(select(StaffRole.staff_id).where(StaffRole.role.in_(codes))))
            out[role] = [(i, n) for i, n in s.execute(q)]
        return out


