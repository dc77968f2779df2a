"""Cashier desk 收费中心: open an order 开单, settle it 结单 with a gapless receipt number, cancel it 消单.

Every function checks the page permission and the customer data scope. Money is integer fen.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from meike import clock
from meike.db import Clinic
from meike.errors import NotFound, ValidationError
from meike.models import Customer, Item, Order, OrderLine, Payment, PaymentMethod, ReceiptCounter, User
from meike.models.cashier import ORDER_CANCELLED, ORDER_NEW, ORDER_SETTLED
from meike.money import MAX_FEN, format_fen
from meike.permissions import Actor, Page, Right
from meike.rules.validation import mask_mobile
from meike.services import audit, history, scope
from meike.services.customers import load_in_scope

STATUS_LABELS = {ORDER_NEW: "未付款", ORDER_SETTLED: "已付款", ORDER_CANCELLED: "已消单"}
MAX_QUANTITY = 999
MAX_REASON = 200

LineInput = tuple[int, int, int | None]  # (item_id, quantity, unit price in fen or None = list price)


def current_business_date(s: Session) -> date:
    """The business day 营业日期 receipts are numbered in. For now the clinic's calendar day."""
    return clock.now().date()


def receipt_number(day: date, serial: int) -> str:
    """R20261123-0001: the day and a gapless serial within it."""
    return f"R{day:%Y%m%d}-{serial:04d}"


def next_receipt_no(s: Session, day: date) -> str:
    """Take the next number of ``day`` inside the caller's transaction (rolled back with it: no gaps)."""
    counter = s.scalar(select(ReceiptCounter).where(ReceiptCounter.business_date == day).with_for_update())
    if counter is None:
        counter = ReceiptCounter(business_date=day, last_no=0)
        s.add(counter)
    counter.last_no += 1
    s.flush()
    return receipt_number(day, counter.last_no)


def _yuan(fen: int) -> str:
    return f"¥{format_fen(fen)}"


# --- items for the order dialog ---------------------------------------------------------------


@dataclass(frozen=True)
class ItemChoice:
    id: int
    name: str
    pinyin_code: str
    price_fen: int
    min_price_fen: int
    unit: str


def find_items(clinic: Clinic, actor: Actor, text: str, *, limit: int = 30) -> list[ItemChoice]:
    """Active items whose pinyin code starts with ``text`` ("syp" → 双眼皮) or whose name contains it."""
    actor.require_page(Page.CASHIER)
    text = text.strip()
    q = select(Item).where(Item.is_active.is_(True)).order_by(Item.sort_order, Item.id).limit(limit)
    if text:
        code = text.lower()
        q = q.where(or_(and_(Item.pinyin_code >= code, Item.pinyin_code < code + "\uffff"),
                        Item.name.contains(text, autoescape=True)))
    with clinic.read() as s:
        return [ItemChoice(i.id, i.name, i.pinyin_code, i.price_fen, i.min_price_fen, i.unit) for i in s.scalars(q)]


# --- open an order ----------------------------------------------------------------------------


def open_order(clinic: Clinic, actor: Actor, *, customer_id: int | None, lines: Sequence[LineInput],
               supervisor: Actor | None = None) -> int:
    """开单: a new unpaid order for a customer in the actor's scope. Returns its id.

    A unit price below the item's minimum needs ``supervisor``: a user holding ``Right.APPROVE_PRICE``
    who confirmed with their password (``accounts.verify_supervisor``).
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
        return open_order_in(s, actor, customer, lines, supervisor=supervisor).id


def open_order_in(s: Session, actor: Actor, customer: Customer, lines: Sequence[LineInput], *,
                  supervisor: Actor | None = None, visit_id: int | None = None) -> Order:
    """Build a new order inside the caller's transaction (a treatment record raises its charge this way).

    The caller has checked the customer's scope and its own page permission.
    """
    now = clock.now()
    order_lines, below_min = _build_lines(s, lines)
    if below_min:
        if supervisor is not None and not supervisor.has_right(Right.APPROVE_PRICE):
            raise ValidationError.single("price", f"{supervisor.label}没有审批低于最低价的权限")
        if supervisor is None:
            messages = [f"低于最低价 {_yuan(minimum)}，需要主管审批" for _line, minimum in below_min]
            if len(order_lines) > 1:  # say which line
                messages = [f"{line.item_name}{m}" for (line, _min), m in zip(below_min, messages, strict=True)]
            raise ValidationError.single("price", "；".join(messages))
    total = sum(line.amount_fen for line in order_lines)
    if total >= MAX_FEN:
        raise ValidationError.single("lines", "金额过大")
    order = Order(customer_id=customer.id, visit_id=visit_id, status=ORDER_NEW, total_fen=total,
                  created_by_id=actor.user_id, created_at=now, cancel_reason="", lines=order_lines)
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
            "unit_price_fen": line.unit_price_fen, "amount_fen": line.amount_fen}


def _build_lines(s: Session, lines: Iterable[LineInput]) -> tuple[list[OrderLine], list[tuple[OrderLine, int]]]:
    """Check every line; returns the order lines and those priced below their item's minimum."""
    built: list[OrderLine] = []
    below_min: list[tuple[OrderLine, int]] = []
    errors: dict[str, str] = {}
    for item_id, quantity, unit_price in lines:
        item = s.get(Item, item_id)
        if item is None:
            errors.setdefault("lines", "项目不存在")
            continue
        if not item.is_active:
            errors.setdefault("lines", f"项目“{item.name}”已停用，不能开单")
            continue
        if not isinstance(quantity, int) or not 1 <= quantity <= MAX_QUANTITY:
            errors.setdefault("quantity", f"{item.name}的数量应在 1–{MAX_QUANTITY} 之间")
            continue
        price = item.price_fen if unit_price is None else unit_price
        if not isinstance(price, int) or price < 0:
            errors.setdefault("price", f"{item.name}的单价不能小于 0")
            continue
        if price * quantity >= MAX_FEN:
            errors.setdefault("price", f"{item.name}的金额过大")
            continue
        line = OrderLine(item_id=item.id, item_name=item.name, quantity=quantity, unit_price_fen=price,
                         amount_fen=price * quantity)
        built.append(line)
        if price < item.min_price_fen:
            below_min.append((line, item.min_price_fen))
    if errors:
        raise ValidationError(errors)
    return built, below_min


# --- lists ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderRow:
    id: int
    customer_id: int
    customer_name: str
    card_no: str
    mobile: str
    items: str
    total_fen: int
    paid_fen: int
    status: str
    receipt_no: str
    created_at: datetime
    settled_at: datetime | None
    created_by: str
    cancel_reason: str


def _list_query(actor: Actor, status: str, text: str) -> tuple[ColumnElement[bool], ...]:
    if status not in STATUS_LABELS:
        raise ValidationError.single("status", "未知的单据状态")
    clauses: list[ColumnElement[bool]] = [Order.status == status, scope.customer_clause(actor)]
    text = text.strip()
    if text:
        needle = text.lower()
        clauses.append(or_(
            and_(Customer.name >= text, Customer.name < text + "\uffff"),
            and_(Customer.name_initials >= needle, Customer.name_initials < needle + "\uffff"),
            Customer.mobile == text, Customer.mobile_last4 == text, Customer.card_no == text,
            Order.receipt_no == text.upper(),
        ))
    return tuple(clauses)


def count_orders(clinic: Clinic, actor: Actor, *, status: str, text: str = "") -> int:
    actor.require_page(Page.CASHIER)
    q = select(func.count(Order.id)).join(Customer, Customer.id == Order.customer_id)
    with clinic.read() as s:
        return s.scalar(q.where(*_list_query(actor, status, text))) or 0


def list_orders(clinic: Clinic, actor: Actor, *, status: str, offset: int = 0, limit: int = 200,
                text: str = "") -> list[OrderRow]:
    """One page of orders of a status ('new' = 未付款, 'settled' = 已付款), newest first, within scope."""
    actor.require_page(Page.CASHIER)
    newest = Order.settled_at.desc() if status == ORDER_SETTLED else Order.created_at.desc()
    paid = (select(Payment.order_id, func.sum(Payment.amount_fen).label("paid"))
            .group_by(Payment.order_id).subquery())
    q = (
        select(Order, Customer, User.display_name, User.username, paid.c.paid)
        .join(Customer, Customer.id == Order.customer_id)
        .join(User, User.id == Order.created_by_id)
        .outerjoin(paid, paid.c.order_id == Order.id)
        .where(*_list_query(actor, status, text))
        .order_by(newest, Order.id.desc()).offset(offset).limit(limit)
    )
    show_full = actor.has_right(Right.VIEW_PRIVATE)
    with clinic.read() as s:
        found = s.execute(q).all()
        summaries = _item_summaries(s, [o.id for o, *_ in found])
        return [
            OrderRow(o.id, c.id, c.name, c.card_no, c.mobile if show_full else mask_mobile(c.mobile),
                     summaries.get(o.id, ""), o.total_fen, paid_fen or 0, o.status, o.receipt_no or "",
                     o.created_at, o.settled_at, display or username, o.cancel_reason)
            for o, c, display, username, paid_fen in found
        ]


def _item_summaries(s: Session, order_ids: list[int]) -> dict[int, str]:
    """"双眼皮、水光针×2" per order, read in one query for the whole page."""
    parts: dict[int, list[str]] = {}
    if not order_ids:
        return {}
    q = (select(OrderLine.order_id, OrderLine.item_name, OrderLine.quantity)
         .where(OrderLine.order_id.in_(order_ids)).order_by(OrderLine.order_id, OrderLine.id))
    for order_id, name, quantity in s.execute(q):
        parts.setdefault(order_id, []).append(name if quantity == 1 else f"{name}×{quantity}")
    return {k: "、".join(v) for k, v in parts.items()}


@dataclass(frozen=True)
class OrderLineView:
    item_name: str
    quantity: int
    unit_price_fen: int
    amount_fen: int


@dataclass(frozen=True)
class OrderDetail:
    id: int
    customer_name: str
    card_no: str
    status: str
    total_fen: int
    paid_fen: int
    receipt_no: str
    lines: list[OrderLineView]


def _load_order(s: Session, actor: Actor, order_id: int, *, lock: bool = False) -> Order:
    q = select(Order).where(Order.id == order_id)
    order = s.scalar(q.with_for_update() if lock else q)
    if order is None:
        raise NotFound("收费单不存在")
    load_in_scope(s, actor, order.customer_id)
    return order


def get_order(clinic: Clinic, actor: Actor, order_id: int) -> OrderDetail:
    actor.require_page(Page.CASHIER)
    with clinic.read() as s:
        o = _load_order(s, actor, order_id)
        return OrderDetail(
            o.id, o.customer.name, o.customer.card_no, o.status, o.total_fen,
            sum(p.amount_fen for p in o.payments), o.receipt_no or "",
            [OrderLineView(li.item_name, li.quantity, li.unit_price_fen, li.amount_fen) for li in o.lines],
        )


# --- settle and cancel ------------------------------------------------------------------------


def settle(clinic: Clinic, actor: Actor, order_id: int, *, payment_method_id: int | None, amount_fen: int,
           idempotency_key: str) -> str:
    """结单: take the full amount in one payment and give the order the day's next receipt number.

    One write transaction. A repeated call with the same ``idempotency_key`` (a double click, a retry
    after a lost connection) returns the first call's receipt number and charges nothing more.
    """
    actor.require_page(Page.CASHIER)
    key = idempotency_key.strip()
    if not key or len(key) > 64:
        raise ValidationError.single("amount", "收款请求无效，请关闭后重新收款")
    try:
        return _settle(clinic, actor, order_id, payment_method_id, amount_fen, key)
    except IntegrityError:
        # Another workstation committed the same key between our check and our insert.
        receipt = _receipt_for_key(clinic, actor, order_id, key)
        if receipt is None:
            raise
        return receipt


def _receipt_for_key(clinic: Clinic, actor: Actor, order_id: int, key: str) -> str | None:
    with clinic.read() as s:
        return _replayed(s, actor, order_id, key)


def _replayed(s: Session, actor: Actor, order_id: int, key: str) -> str | None:
    payment = s.scalar(select(Payment).where(Payment.idempotency_key == key))
    if payment is None:
        return None
    if payment.order_id != order_id:
        raise ValidationError.single("amount", "收款请求无效，请关闭后重新收款")
    order = _load_order(s, actor, order_id)
    return order.receipt_no or ""


def _settle(clinic: Clinic, actor: Actor, order_id: int, payment_method_id: int | None, amount_fen: int,
            key: str) -> str:
    now = clock.now()
    with clinic.write() as s:
        replay = _replayed(s, actor, order_id, key)
        if replay is not None:
            return replay
        order = _load_order(s, actor, order_id, lock=True)
        if order.status != ORDER_NEW:
            raise ValidationError.single("order", f"该单{STATUS_LABELS.get(order.status, order.status)}，不能收款")
        errors: dict[str, str] = {}
        method = s.get(PaymentMethod, payment_method_id) if payment_method_id is not None else None
        if method is None:
            errors["payment_method"] = "请选择支付方式"
        elif not method.is_active:
            errors["payment_method"] = f"支付方式“{method.name}”已停用"
        if not isinstance(amount_fen, int) or amount_fen < 0:
            errors["amount"] = "收款金额不能小于 0"
        elif amount_fen != order.total_fen:
            errors["amount"] = f"收款金额应等于应收金额 {_yuan(order.total_fen)}"
        if errors:
            raise ValidationError(errors)
        assert method is not None
        s.add(Payment(order_id=order.id, payment_method_id=method.id, amount_fen=amount_fen,
                      received_by_id=actor.user_id, created_at=now, idempotency_key=key))
        day = current_business_date(s)
        receipt = next_receipt_no(s, day)
        order.status = ORDER_SETTLED
        order.settled_at = now
        order.business_date = day
        order.receipt_no = receipt
        s.flush()
        history.after_settlement(s, order)
        audit.record(s, actor, "order.settle", "order", order.id,
                     before={"status": ORDER_NEW},
                     after={"status": ORDER_SETTLED, "receipt_no": receipt, "amount_fen": amount_fen,
                            "payment_method": method.name, "business_date": day})
        return receipt


def cancel(clinic: Clinic, actor: Actor, order_id: int, *, reason: str) -> None:
    """消单: an unpaid order is cancelled with a reason (kept, never deleted). Paid ones need a void."""
    actor.require_page(Page.CASHIER)
    reason = reason.strip()
    if not reason:
        raise ValidationError.single("reason", "请填写消单原因")
    if len(reason) > MAX_REASON:
        raise ValidationError.single("reason", f"原因不能超过 {MAX_REASON} 个字")
    with clinic.write() as s:
        order = _load_order(s, actor, order_id, lock=True)
        if order.status != ORDER_NEW:
            label = STATUS_LABELS.get(order.status, order.status)
            raise ValidationError.single("reason", f"该单{label}，只能消未付款的单")
        order.status = ORDER_CANCELLED
        order.cancel_reason = reason
        audit.record(s, actor, "order.cancel", "order", order.id,
                     before={"status": ORDER_NEW}, after={"status": ORDER_CANCELLED, "reason": reason,
                                                          "total_fen": order.total_fen})

