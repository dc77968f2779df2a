"""Orders 开单, cancel 消单, merging and invoices 发票."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from meike import clock
from meike.db import Clinic
from meike.errors import ValidationError
from meike.models import (
    Customer,
    Item,
    Order,
    OrderAdjustment,
    OrderLine,
    OrderShare,
    Package,
    Staff,
    Treatment,
    Visit,
)
from meike.models.cashier import ORDER_CANCELLED, ORDER_NEW, ORDER_SETTLED
from meike.money import MAX_FEN, yuan
from meike.permissions import Actor, Page, Right
from meike.rules.text import take_text
from meike.services import audit, bizday, ledger, performance
from meike.services.cashier.common import MAX_QUANTITY, STATUS_LABELS, load_order, reason_text
from meike.services.cashier.items import price_quote
from meike.services.cashier.shares import ShareSpec, check_shares
from meike.services.customers import load_in_scope

# --- open an order ----------------------------------------------------------------------------


@dataclass(frozen=True)
class LineSpec:
    """One line of a new order. ``unit_price_fen`` None = the list price less the member discount.

    ``package_sessions`` > 0 sells a course of that many sessions per unit, priced for all of them
    (list price and minimum = the item's × sessions); ``package_id`` pays the line with sessions of a
    course the customer holds (划扣: the line costs nothing now).
    """

    item_id: int
    quantity: int = 1
    unit_price_fen: int | None = None
    doctor_id: int | None = None
    package_sessions: int = 0
    package_id: int | None = None


LineInput = LineSpec | tuple[int, int, int | None]


def _spec(line: LineInput) -> LineSpec:
    return line if isinstance(line, LineSpec) else LineSpec(line[0], line[1], line[2])


def open_order(clinic: Clinic, actor: Actor, *, customer_id: int | None, lines: Sequence[LineInput],
               supervisor: Actor | None = None, visit_id: int | None = None,
               consultant_id: int | None = None, shares: Sequence[ShareSpec] = ()) -> int:
    """开单: a new unpaid order 新单 for a customer in the actor's scope. Returns its id.

    A unit price below the item's minimum, or a line given free (￥0 where it has a price: an item, a
    course's sessions), needs ``supervisor``: a user holding ``Right.APPROVE_PRICE`` who confirmed with
    their password (``accounts.verify_supervisor``).
    """
    actor.require_page(Page.CASHIER)
    errors: dict[str, str] = {}
    if customer_id is None:
        errors["customer"] = "请选择顾客"
    if not lines:
        errors["lines"] = "请至少添加一个项目"
    if errors:
        raise ValidationError(errors)
    assert customer_id is not None
    with clinic.write() as s:
        customer = load_in_scope(s, actor, customer_id)
        if visit_id is not None:
            visit = s.get(Visit, visit_id)
            if visit is None or visit.customer_id != customer.id:
                raise ValidationError.single("visit", "到诊记录不属于该顾客")
        share_rows = check_shares(s, shares)
        order = open_order_in(s, actor, customer, lines, supervisor=supervisor, visit_id=visit_id,
                              consultant_id=consultant_id)
        for row in share_rows:
            row.order_id = order.id
            s.add(row)
        if share_rows:
            audit.record(s, actor, "order.shares", "order", order.id, after={
                "shares": [{"role": r.role, "staff_id": r.staff_id, "percent": r.percent} for r in share_rows]})
        return order.id


def open_order_in(s: Session, actor: Actor, customer: Customer, lines: Sequence[LineInput], *,
                  supervisor: Actor | None = None, visit_id: int | None = None,
                  consultant_id: int | None = None) -> Order:
    """Build a new order inside the caller's transaction (a treatment record raises its charge this way).

    The caller has checked the customer's scope and its own page permission.
    """
    now = clock.now()
    order_lines, below_min = _build_lines(s, customer, [_spec(line) for line in lines])
    if below_min:
        if supervisor is not None:
            ledger.supervisor_live(supervisor)
            if not supervisor.has_right(Right.APPROVE_PRICE):
                raise ValidationError.single("price", f"{supervisor.label}没有审批低于最低价的权限")
        if supervisor is None:
            messages = [f"低于最低价 {yuan(minimum)}，需要主管审批" if minimum else "免费赠送，需要主管审批"
                        for _line, minimum in below_min]
            if len(order_lines) > 1:  # say which line
                messages = [f"{line.item_name}{m}" for (line, _min), m in zip(below_min, messages, strict=True)]
            raise ValidationError.single("price", "；".join(messages))
    total = sum(line.amount_fen for line in order_lines)
    if total >= MAX_FEN:
        raise ValidationError.single("lines", "金额过大")
    if consultant_id is None:
        visit = s.get(Visit, visit_id) if visit_id is not None else None
        consultant_id = visit.consultant_id if visit is not None else customer.consultant_id
    order = Order(customer_id=customer.id, visit_id=visit_id, status=ORDER_NEW, total_fen=total,
                  created_by_id=actor.user_id, created_at=now, cancel_reason="", lines=order_lines,
                  consultant_id=consultant_id)
    s.add(order)
    s.flush()
    audit.record(s, actor, "order.create", "order", order.id, after={
        "customer": customer.name, "card_no": customer.card_no, "total_fen": total,
        "lines": [_line_dict(line) for line in order_lines],
    })
    if below_min:
        assert supervisor is not None
        audit.record(s, actor, "order.price_approved", "order", order.id, after={
            "supervisor": supervisor.label, "supervisor_username": supervisor.username,
            "lines": [dict(_line_dict(line), min_price_fen=minimum) for line, minimum in below_min],
        })
    return order


def _line_dict(line: OrderLine) -> dict[str, object]:
    return {"item_id": line.item_id, "item": line.item_name, "quantity": line.quantity,
            "list_price_fen": line.list_price_fen, "unit_price_fen": line.unit_price_fen,
            "amount_fen": line.amount_fen, "package_sessions": line.package_sessions,
            "package_id": line.package_id}


def _build_lines(s: Session, customer: Customer, lines: Iterable[LineSpec]
                 ) -> tuple[list[OrderLine], list[tuple[OrderLine, int]]]:
    """Check every line; returns the order lines and those priced below their item's minimum."""
    built: list[OrderLine] = []
    below_min: list[tuple[OrderLine, int]] = []
    errors: dict[str, str] = {}
    day = bizday.open_business_date(s)
    sessions_wanted: dict[int, int] = {}
    for spec in lines:
        item = s.get(Item, spec.item_id)
        quantity = spec.quantity
        if item is None:
            errors.setdefault("lines", "项目不存在")
            continue
        if not item.is_active:
            errors.setdefault("lines", f"项目“{item.name}”已停用，不能开单")
            continue
        if not isinstance(quantity, int) or not 1 <= quantity <= MAX_QUANTITY:
            errors.setdefault("quantity", f"{item.name}的数量应在 1–{MAX_QUANTITY} 之间")
            continue
        if spec.doctor_id is not None and s.get(Staff, spec.doctor_id) is None:
            errors.setdefault("doctor", "医生不存在")
            continue
        if spec.package_id is not None:
            package = s.get(Package, spec.package_id)
            if package is None or package.customer_id != customer.id or package.item_id != item.id:
                errors.setdefault("package", f"{item.name}：请选择顾客持有的该项目疗程")
                continue
            sessions_wanted[package.id] = sessions_wanted.get(package.id, 0) + quantity
            left = ledger.package_remaining(s, package.id)
            if sessions_wanted[package.id] > left:
                errors.setdefault("package", f"{item.name}疗程只剩 {left} 次")
                continue
            built.append(OrderLine(item_id=item.id, item_name=item.name, quantity=quantity, unit_price_fen=0,
                                   amount_fen=0, list_price_fen=item.price_fen, doctor_id=spec.doctor_id,
                                   package_sessions=0, package_id=package.id))
            continue
        if not isinstance(spec.package_sessions, int) or not 0 <= spec.package_sessions <= MAX_QUANTITY:
            errors.setdefault("package", f"{item.name}的疗程次数应在 1–{MAX_QUANTITY} 之间")
            continue
        # A course is priced for all its sessions: its list price and minimum are the item's per session.
        offer = price_quote(s, customer, item, spec.package_sessions, day)
        list_price, minimum = offer.list_price_fen, offer.minimum_fen
        price = offer.price_fen if spec.unit_price_fen is None else spec.unit_price_fen
        if not isinstance(price, int) or price < 0:
            errors.setdefault("price", f"{item.name}的单价不能小于 0")
            continue
        if price * quantity >= MAX_FEN:
            errors.setdefault("price", f"{item.name}的金额过大")
            continue
        line = OrderLine(item_id=item.id, item_name=item.name, quantity=quantity, unit_price_fen=price,
                         amount_fen=price * quantity, list_price_fen=list_price, doctor_id=spec.doctor_id,
                         package_sessions=spec.package_sessions, package_id=None,
                         promotion_id=offer.promotion_id if price == offer.price_fen else None)
        built.append(line)
        if price < minimum or (price == 0 and offer.price_fen > 0):  # below the minimum, or given free
            below_min.append((line, minimum))
    if errors:
        raise ValidationError(errors)
    return built, below_min


# --- cancel 消单 -------------------------------------------------------------------------------------


def cancel(clinic: Clinic, actor: Actor, order_id: int, *, reason: str, expected_version: int | None = None) -> None:
    """消单: an unpaid order is cancelled with a reason (kept, never deleted). Paid ones need a void."""
    actor.require_page(Page.CASHIER)
    reason = reason_text(reason, "消单")
    with clinic.write() as s:
        order = load_order(s, actor, order_id, lock=True, expected_version=expected_version)
        if order.status != ORDER_NEW:
            label = STATUS_LABELS.get(order.status, order.status)
            raise ValidationError.single("reason", f"该单{label}，只能消未付款的单")
        order.status = ORDER_CANCELLED
        order.cancel_reason = reason
        audit.record(s, actor, "order.cancel", "order", order.id,
                     before={"status": ORDER_NEW}, after={"status": ORDER_CANCELLED, "reason": reason,
                                                          "total_fen": order.total_fen})


# --- invoices, merging ----------------------------------------------------------------------


def register_invoice(clinic: Clinic, actor: Actor, order_id: int, *, invoice_no: str, title: str,
                     amount_fen: int) -> None:
    """发票登记 on a settled order."""
    actor.require_page(Page.CASHIER)
    errors: dict[str, str] = {}
    invoice_no = take_text(errors, invoice_no, field="invoice_no", label="发票号", limit=40, required=True)
    title = take_text(errors, title, field="invoice_title", label="发票抬头", limit=100, required=True)
    if errors:
        raise ValidationError(errors)
    with clinic.write() as s:
        order = load_order(s, actor, order_id, lock=True)
        if order.status != ORDER_SETTLED:
            raise ValidationError.single("invoice_no", "只能为已结单的单据登记发票")
        net = order.total_fen + int(s.scalar(select(func.coalesce(func.sum(OrderAdjustment.amount_fen), 0))
                                             .where(OrderAdjustment.order_id == order.id)) or 0)
        if not isinstance(amount_fen, int) or not 0 < amount_fen <= net:
            raise ValidationError.single("invoice_amount", f"发票金额应在 ￥0.01–{yuan(net)} 之间")
        before = {"invoice_no": order.invoice_no, "title": order.invoice_title, "amount_fen": order.invoice_fen}
        order.invoice_no, order.invoice_title, order.invoice_fen = invoice_no, title, amount_fen
        audit.record(s, actor, "order.invoice", "order", order.id, before=before,
                     after={"invoice_no": invoice_no, "title": title, "amount_fen": amount_fen})


def merge_orders(clinic: Clinic, actor: Actor, order_ids: Sequence[int]) -> int:
    """Merge several unpaid orders of one customer into one bill (RMCIS: one receipt for finished services)."""
    actor.require_page(Page.CASHIER)
    ids = sorted(set(order_ids))
    if len(ids) < 2:
        raise ValidationError.single("orders", "请至少选择两张未付款的单")
    with clinic.write() as s:
        orders = [load_order(s, actor, i, lock=True) for i in ids]
        if any(o.status != ORDER_NEW for o in orders):
            raise ValidationError.single("orders", "只能合并未付款的单")
        if len({o.customer_id for o in orders}) != 1:
            raise ValidationError.single("orders", "只能合并同一位顾客的单")
        first = orders[0]
        share_sets = {tuple(sorted((r, st, pc) for r, people in performance.order_shares(s, o.id).items()
                                   for st, pc in people)) for o in orders}
        if len(share_sets) > 1:
            raise ValidationError.single("orders", "这几张单的业绩分配不同，请先改成一样再合并")
        merged = Order(customer_id=first.customer_id, visit_id=first.visit_id, status=ORDER_NEW,
                       total_fen=sum(o.total_fen for o in orders), created_by_id=actor.user_id,
                       created_at=clock.now(), cancel_reason="", consultant_id=first.consultant_id,
                       lines=[li.copy() for o in orders for li in o.lines])
        s.add(merged)
        s.flush()
        for role, staff_id, percent in share_sets.pop():
            s.add(OrderShare(order_id=merged.id, role=role, staff_id=staff_id, percent=percent))
        for o in orders:
            o.status = ORDER_CANCELLED
            o.cancel_reason = f"合并到 #{merged.id}"
        # Treatment records follow their charge.
        for t in s.scalars(select(Treatment).where(Treatment.order_id.in_(ids))):
            t.order_id = merged.id
        audit.record(s, actor, "order.merge", "order", merged.id, after={"merged": ids, "total_fen": merged.total_fen})
        return merged.id
