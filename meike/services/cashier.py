"""Cashier desk 收费中心: orders 开单, payments 结单 / 分次支付, cancel 消单, void 退单, refunds 退款,
price changes 多退少补, courses 疗程, invoices 发票.

Every function checks the page permission and the customer data scope. Money is integer fen; every
movement of money is one numbered receipt (``meike.services.ledger``) written in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from meike import clock
from meike.db import Clinic
from meike.db.prefix import prefix_clause
from meike.errors import ConflictError, NotFound, ValidationError
from meike.models import (
    AccountEntry,
    Customer,
    Item,
    MemberLevel,
    Order,
    OrderAdjustment,
    OrderLine,
    OrderShare,
    Package,
    PackageUse,
    Payment,
    PaymentMethod,
    Receipt,
    Staff,
    StaffRole,
    Treatment,
    User,
    Visit,
)
from meike.models.cashier import ORDER_CANCELLED, ORDER_NEW, ORDER_SETTLED, ORDER_VOIDED
from meike.models.ledger import ACCOUNT_ARREARS
from meike.money import MAX_FEN, yuan
from meike.permissions import Actor, DataScope, Page, Right
from meike.rules.text import clean_text, normalise_text, search_text, take_text
from meike.rules.validation import mask_mobile, nfkc, normalise_mobile
from meike.services import audit, bizday, history, ledger, performance, promotions, scope
from meike.services.customers import guard_search, load_in_scope
from meike.services.ledger import Tender, receipt_number  # noqa: F401 (the cashier's API)

STATUS_LABELS = {ORDER_NEW: "未付款", ORDER_SETTLED: "已付款", ORDER_CANCELLED: "已消单", ORDER_VOIDED: "已退单"}
MAX_QUANTITY = 999
MAX_REASON = 200


# --- items for the order dialog ---------------------------------------------------------------


@dataclass(frozen=True)
class ItemChoice:
    id: int
    name: str
    pinyin_code: str
    price_fen: int
    min_price_fen: int
    unit: str
    promotion: str = ""  # "促销：国庆特惠 特价 ¥880.00" while the item is on promotion


def find_items(clinic: Clinic, actor: Actor, text: str, *, limit: int = 30) -> list[ItemChoice]:
    """Active items whose pinyin code starts with ``text`` ("syp" → 双眼皮) or whose name contains it."""
    actor.require_page(Page.CASHIER)
    text = search_text(text, field="item")
    q = select(Item).where(Item.is_active.is_(True)).order_by(Item.sort_order, Item.id).limit(limit)
    if text:
        code = text.lower()
        q = q.where(or_(prefix_clause(Item.pinyin_code, code),
                        Item.name.contains(text, autoescape=True)))
    with clinic.read() as s:
        items = list(s.scalars(q))
        day = bizday.open_business_date(s)
        running = {p.item_id: p for p in s.scalars(select(promotions.Promotion).where(
            promotions.Promotion.item_id.in_([i.id for i in items]), promotions.Promotion.is_active.is_(True),
            promotions.Promotion.starts_on <= day, promotions.Promotion.ends_on >= day))}
        choices = []
        for i in items:
            promo = running.get(i.id)
            note = (f"促销：{promo.name} {yuan(promotions.unit_price(promo, i.price_fen))}"
                    if promo is not None else "")
            choices.append(ItemChoice(i.id, i.name, i.pinyin_code, i.price_fen, i.min_price_fen, i.unit, note))
        return choices


@dataclass(frozen=True)
class PriceQuote:
    """What a line of an item costs a customer now: the price filled in, and the lowest price that
    needs no supervisor (the item's minimum, or the promotion's price when that is lower)."""

    list_price_fen: int
    price_fen: int
    minimum_fen: int
    note: str  # 会员 9.5 折 / 促销：国庆特惠 / ""
    promotion_id: int | None


def price_quote(s: Session, customer: Customer | None, item: Item, sessions: int, day: date) -> PriceQuote:
    """A course of ``sessions`` (0 = a single unit) is priced for all its sessions."""
    sessions = max(1, sessions)
    list_price, minimum = item.price_fen * sessions, item.min_price_fen * sessions
    level = (s.get(MemberLevel, customer.member_level_id)
             if customer is not None and customer.member_level_id else None)
    permille = level.discount_permille if level is not None and level.is_active else 1000
    price = member_price(list_price, minimum, permille)
    note = f"{level.name} {permille / 100:g} 折" if level is not None and price < list_price else ""
    promo = promotions.active(s, item.id, day)
    if promo is None:
        return PriceQuote(list_price, price, minimum, note, None)
    promo_price = promotions.unit_price(promo, item.price_fen) * sessions
    if promo_price < price:
        price, note = promo_price, f"促销：{promo.name}"
    return PriceQuote(list_price, price, min(minimum, promo_price), note,
                      promo.id if price == promo_price else None)


def quote(clinic: Clinic, actor: Actor, *, customer_id: int | None, item_id: int, sessions: int = 0) -> PriceQuote:
    """The price the order dialog fills in for an item (member discount, promotion)."""
    actor.require_page(Page.CASHIER)
    with clinic.read() as s:
        item = s.get(Item, item_id)
        if item is None:
            raise NotFound("项目不存在")
        customer = load_in_scope(s, actor, customer_id) if customer_id is not None else None
        return price_quote(s, customer, item, sessions, bizday.open_business_date(s))


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


@dataclass(frozen=True)
class ShareSpec:
    """One person's share of a role's performance on an order (业绩分配): percents of a role sum to 100."""

    role: str  # consultant / doctor / developer
    staff_id: int
    percent: int


def _check_shares(s: Session, shares: Sequence[ShareSpec]) -> list[OrderShare]:
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
        order = _load_order(s, actor, order_id, lock=True, expected_version=expected_version)
        if order.status != ORDER_NEW:
            raise ValidationError.single("shares", "只能在结单前分配业绩")
        rows = _check_shares(s, shares)
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
        order = _load_order(s, actor, order_id)
        names = dict(s.execute(select(Staff.id, Staff.name)).tuples().all())
        shares = [ShareView(role, staff_id, names.get(staff_id, ""), percent)
                  for role, people in performance.order_shares(s, order.id).items() for staff_id, percent in people]
        doctors = sorted({names.get(li.doctor_id, "") for li in order.lines if li.doctor_id is not None})
        defaults = {"consultant": names.get(order.consultant_id, "") if order.consultant_id else "",
                    "doctor": "、".join(doctors),
                    "developer": (names.get(order.customer.developer_id, "")
                                  if order.customer.developer_id else "")}
        percents = []
        for li in order.lines:
            item = s.get(Item, li.item_id)
            percents.append((li.item_name, *(performance.item_percent(item, r) for r in performance.SHARED_ROLES)))
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
        share_rows = _check_shares(s, shares)
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


def member_price(list_price: int, minimum: int, permille: int) -> int:
    """The member level's discount, rounded to the fen; an automatic discount never goes below the minimum."""
    if permille >= 1000:
        return list_price
    return max(minimum, (list_price * permille + 500) // 1000)


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
    text = search_text(text)
    if text:
        needle = text.lower()
        number = normalise_mobile(text)  # "１３８ 0013 8000": the digits as stored
        number = number if number.isascii() and number.isdigit() else text
        clauses.append(or_(
            prefix_clause(Customer.name, text),
            prefix_clause(Customer.name_initials, needle),
            Customer.mobile == number, Customer.mobile_last4 == number, Customer.card_no == nfkc(text),
            Order.receipt_no == nfkc(text).upper(),
        ))
    return tuple(clauses)


def _needs_customer(actor: Actor, text: str) -> bool:
    return bool(text.strip()) or actor.data_scope is not DataScope.ALL


def count_orders(clinic: Clinic, actor: Actor, *, status: str, text: str = "") -> int:
    actor.require_page(Page.CASHIER)
    clauses = _list_query(actor, status, text)
    guard_search(clinic, actor, text)  # a whole mobile typed here is a number probe too
    q = select(func.count(Order.id))
    if _needs_customer(actor, text):
        q = q.join(Customer, Customer.id == Order.customer_id).where(*clauses)
    else:  # scope "all" and no text: the (status, …) index answers alone
        q = q.where(Order.status == status)
    with clinic.read() as s:
        return s.scalar(q) or 0


def list_orders(clinic: Clinic, actor: Actor, *, status: str, offset: int = 0, limit: int = 200,
                text: str = "") -> list[OrderRow]:
    """One page of orders of a status ('new' = 未付款, 'settled' = 已付款), newest first, within scope."""
    actor.require_page(Page.CASHIER)
    guard_search(clinic, actor, text)
    newest = Order.settled_at.desc() if status == ORDER_SETTLED else Order.created_at.desc()
    q = (
        select(Order, Customer, User.display_name, User.username)
        .join(Customer, Customer.id == Order.customer_id)
        .join(User, User.id == Order.created_by_id)
        .where(*_list_query(actor, status, text))
        .order_by(newest, Order.id.desc()).offset(offset).limit(limit)
    )
    with clinic.read() as s:
        found = s.execute(q).all()
        ids = [o.id for o, *_ in found]
        summaries = _item_summaries(s, ids)
        # What was paid, for the orders of this page only.
        paid = dict(s.execute(select(Payment.order_id, func.sum(Payment.amount_fen))
                              .where(Payment.order_id.in_(ids)).group_by(Payment.order_id)).all()) if ids else {}
        return [
            OrderRow(o.id, c.id, c.name, c.card_no, mask_mobile(c.mobile),
                     summaries.get(o.id, ""), o.total_fen, int(paid.get(o.id) or 0), o.status, o.receipt_no or "",
                     o.created_at, o.settled_at, display or username, o.cancel_reason)
            for o, c, display, username in found
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


STALE_ORDER = "这张收费单在您打开后已被其他电脑修改（业绩分配、合并或状态变了），请刷新后再操作"


def _load_order(s: Session, actor: Actor, order_id: int, *, lock: bool = False,
                expected_version: int | None = None) -> Order:
    """The order in the actor's scope; ``expected_version`` (what the window showed) must still hold."""
    q = select(Order).where(Order.id == order_id)
    order = s.scalar(q.with_for_update() if lock else q)
    if order is None:
        raise NotFound("收费单不存在")
    load_in_scope(s, actor, order.customer_id, lock=lock)  # the customer's money: one transaction at a time
    if expected_version is not None and order.version != expected_version:
        raise ConflictError(STALE_ORDER)
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


# --- pay: settle 结单 and collect arrears 还欠款 ---------------------------------------------------


@dataclass(frozen=True)
class PayResult:
    receipt_id: int
    receipt_no: str
    paid_fen: int
    arrears_fen: int  # what the customer still owes on this order
    replayed: bool = False


def order_arrears(s: Session, order_id: int) -> int:
    return int(s.scalar(select(func.coalesce(func.sum(AccountEntry.amount_fen), 0)).where(
        AccountEntry.order_id == order_id, AccountEntry.account == ACCOUNT_ARREARS)) or 0)


def pay(clinic: Clinic, actor: Actor, order_id: int, tenders: Sequence[Tender], *, idempotency_key: str,
        allow_arrears: bool = False, expected_version: int | None = None) -> PayResult:
    """Take payment for an order, split across methods and accounts, in one receipt.

    A new order is settled 结单: it gets this receipt's number, its lines credit performance, courses
    sold become the customer's and course sessions used are deducted. What is not paid becomes
    arrears 欠款 when ``allow_arrears`` (the cashier confirmed it), otherwise the payment is refused.
    A settled order with arrears takes further payments 分次支付 the same way, up to what is owed.
    """
    actor.require_page(Page.CASHIER)
    key = ledger.check_key(idempotency_key)

    def replay(s: Session) -> PayResult | None:
        found = ledger.replayed(s, key, kind=("settle", "collect"), order_id=order_id, tenders=tenders)
        if found is None:
            return None
        _load_order(s, actor, order_id)
        return PayResult(found.receipt_id, found.receipt_no, found.amount_fen, order_arrears(s, order_id), True)

    def work() -> PayResult:
        with clinic.write() as s:
            again = replay(s)
            if again is not None:
                return again
            order = _load_order(s, actor, order_id, lock=True, expected_version=expected_version)
            if order.status == ORDER_NEW:
                return _settle_in(s, actor, order, tenders, key, allow_arrears)
            if order.status == ORDER_SETTLED:
                return _collect_in(s, actor, order, tenders, key)
            raise ValidationError.single("order", f"该单{STATUS_LABELS.get(order.status, order.status)}，不能收款")

    return ledger.once(clinic, key, work, replay)


def _tendered(tenders: Sequence[Tender]) -> int:
    return sum(t.amount_fen for t in tenders if isinstance(t.amount_fen, int))


def _settle_in(s: Session, actor: Actor, order: Order, tenders: Sequence[Tender], key: str,
               allow_arrears: bool) -> PayResult:
    paying = _tendered(tenders)
    if paying > order.total_fen:
        raise ValidationError.single("amount", f"收款合计 {yuan(paying)} 超过应收 {yuan(order.total_fen)}")
    if paying < order.total_fen and not allow_arrears:
        raise ValidationError.single(
            "amount", f"收款合计 {yuan(paying)} 少于应收 {yuan(order.total_fen)}；如需欠款请勾选“余额记欠款”")
    customer = order.customer
    if tenders:
        receipt = ledger.write_receipt(s, actor, kind="settle", customer=customer, key=key, tenders=tenders,
                                       order_id=order.id)
    else:  # nothing paid now (all on arrears, or a course session only): still one numbered document
        receipt = _empty_receipt(s, actor, "settle", customer.id, order.id, key)
    arrears = order.total_fen - paying
    if arrears:
        ledger.post(s, actor, receipt, ACCOUNT_ARREARS, arrears, order_id=order.id, note="结单欠款")
    day = receipt.business_date
    order.status = ORDER_SETTLED
    order.settled_at = receipt.created_at
    order.business_date = day
    order.receipt_no = receipt.receipt_no
    s.flush()
    shares = performance.order_shares(s, order.id)
    for line in order.lines:
        if line.package_id is not None:
            s.add(PackageUse(package_id=line.package_id, sessions=-line.quantity, kind="used",
                             order_line_id=line.id, receipt_id=receipt.id, business_date=day,
                             created_at=receipt.created_at))
        if line.package_sessions:
            package = Package(customer_id=customer.id, item_id=line.item_id, item_name=line.item_name,
                              order_line_id=line.id, sessions=line.package_sessions * line.quantity,
                              value_fen=line.amount_fen, created_at=receipt.created_at)
            s.add(package)
            s.flush()
            s.add(PackageUse(package_id=package.id, sessions=package.sessions, kind="bought", order_line_id=line.id,
                             receipt_id=receipt.id, business_date=day, created_at=receipt.created_at))
        performance.credit_line(s, order, line, line.amount_fen, receipt, shares)
    # Sessions used must still be there now (another workstation may have used them meanwhile).
    for package_id in {line.package_id for line in order.lines if line.package_id is not None}:
        s.flush()
        if ledger.package_remaining(s, package_id) < 0:
            raise ValidationError.single("package", "疗程剩余次数不足，请刷新后重试")
    history.after_settlement(s, order)
    audit.record(s, actor, "order.settle", "order", order.id, before={"status": ORDER_NEW}, after={
        "status": ORDER_SETTLED, "receipt_no": receipt.receipt_no, "paid_fen": paying, "arrears_fen": arrears,
        "tenders": _tender_log(s, receipt), "business_date": day})
    return PayResult(receipt.id, receipt.receipt_no, paying, arrears)


def _collect_in(s: Session, actor: Actor, order: Order, tenders: Sequence[Tender], key: str) -> PayResult:
    owed = order_arrears(s, order.id)
    if owed <= 0:
        raise ValidationError.single("order", "该单已结清，不能再收款")
    paying = _tendered(tenders)
    if paying > owed:
        raise ValidationError.single("amount", f"收款合计 {yuan(paying)} 超过欠款 {yuan(owed)}")
    receipt = ledger.write_receipt(s, actor, kind="collect", customer=order.customer, key=key, tenders=tenders,
                                   order_id=order.id, note=f"{order.receipt_no} 欠款")
    ledger.post(s, actor, receipt, ACCOUNT_ARREARS, -paying, order_id=order.id, note="还欠款")
    audit.record(s, actor, "order.collect", "order", order.id, after={
        "receipt_no": receipt.receipt_no, "paid_fen": paying, "arrears_fen": owed - paying,
        "tenders": _tender_log(s, receipt)})
    return PayResult(receipt.id, receipt.receipt_no, paying, owed - paying)


def _empty_receipt(s: Session, actor: Actor, kind: str, customer_id: int, order_id: int | None, key: str,
                   note: str = "") -> Receipt:
    day = bizday.posting_day(s)
    receipt = Receipt(receipt_no=ledger.next_receipt_no(s, day), business_date=day, kind=kind,
                      customer_id=customer_id, order_id=order_id, amount_fen=0, status="valid",
                      cashier_id=actor.user_id, created_at=clock.now(), idempotency_key=key, note=note, reprints=0)
    s.add(receipt)
    s.flush()
    return receipt


def _tender_log(s: Session, receipt: Receipt) -> list[dict[str, object]]:
    s.flush()
    rows = s.execute(select(PaymentMethod.name, Payment.amount_fen).join(Payment, Payment.payment_method_id == PaymentMethod.id)
                     .where(Payment.receipt_id == receipt.id).order_by(Payment.id))
    return [{"method": name, "amount_fen": amount} for name, amount in rows]


def settle(clinic: Clinic, actor: Actor, order_id: int, *, payment_method_id: int | None, amount_fen: int,
           idempotency_key: str) -> str:
    """结单 with the whole amount in one method (the quick path of the payment dialog)."""
    with clinic.read() as s:
        order = _load_order(s, actor, order_id)
        if order.status == ORDER_NEW and isinstance(amount_fen, int) and amount_fen != order.total_fen:
            raise ValidationError.single("amount", f"收款金额应等于应收金额 {yuan(order.total_fen)}")
    result = pay(clinic, actor, order_id, [Tender(payment_method_id, amount_fen)], idempotency_key=idempotency_key)
    return result.receipt_no


# --- cancel 消单, void 退单 ----------------------------------------------------------------------


def cancel(clinic: Clinic, actor: Actor, order_id: int, *, reason: str, expected_version: int | None = None) -> None:
    """消单: an unpaid order is cancelled with a reason (kept, never deleted). Paid ones need a void."""
    actor.require_page(Page.CASHIER)
    reason = _reason(reason, "消单")
    with clinic.write() as s:
        order = _load_order(s, actor, order_id, lock=True, expected_version=expected_version)
        if order.status != ORDER_NEW:
            label = STATUS_LABELS.get(order.status, order.status)
            raise ValidationError.single("reason", f"该单{label}，只能消未付款的单")
        order.status = ORDER_CANCELLED
        order.cancel_reason = reason
        audit.record(s, actor, "order.cancel", "order", order.id,
                     before={"status": ORDER_NEW}, after={"status": ORDER_CANCELLED, "reason": reason,
                                                          "total_fen": order.total_fen})


def _reason(reason: str, what: str) -> str:
    reason = normalise_text(reason, multiline=True)
    if not reason:
        raise ValidationError.single("reason", f"请填写{what}原因")
    return clean_text(reason, field="reason", label="原因", limit=MAX_REASON, multiline=True)


@dataclass(frozen=True)
class VoidResult:
    receipt_no: str
    refunded_fen: int
    reopened_order_id: int


def void(clinic: Clinic, actor: Actor, order_id: int, *, reason: str, supervisor: Actor | None,
         reverse_performance: bool, idempotency_key: str) -> VoidResult:
    """退单: a settled order is voided on the open business day by a supervisor.

    Everything it moved is reversed by a numbered void receipt: the tenders are paid back the way
    they came, account entries and arrears are reversed, course sessions used come back, courses it
    sold are withdrawn (only if unused). Its receipts keep their numbers, marked voided. The order
    comes back as a new unpaid order with the same lines (恢复结帐前的业务状态) so it can be corrected.
    """
    actor.require_page(Page.CASHIER)
    reason = _reason(reason, "退单")
    ledger.require_supervisor(supervisor, Right.VOID, "退单")
    assert supervisor is not None
    key = ledger.check_key(idempotency_key)

    def replay(s: Session) -> VoidResult | None:
        found = ledger.replayed(s, key, kind="void", order_id=order_id)
        if found is None:
            return None
        reopened = s.scalar(select(Order.id).where(Order.source_order_id == order_id))
        return VoidResult(found.receipt_no, -found.amount_fen, reopened or 0)

    def work() -> VoidResult:
        with clinic.write() as s:
            again = replay(s)
            if again is not None:
                return again
            order = _load_order(s, actor, order_id, lock=True)
            if order.status != ORDER_SETTLED:
                raise ValidationError.single("order", f"该单{STATUS_LABELS.get(order.status, order.status)}，只能退已结单的单")
            if s.scalar(select(OrderAdjustment.id).where(OrderAdjustment.order_id == order.id).limit(1)):
                raise ValidationError.single("order", "该单已办理退款或改价，不能整单退单")
            sold = list(s.scalars(select(Package).where(Package.order_line_id.in_([li.id for li in order.lines]))))
            for package in sold:
                if ledger.package_remaining(s, package.id) != package.sessions:
                    raise ValidationError.single("order", f"“{package.item_name}”疗程已使用，不能退单，请办理疗程退款")
            receipts = list(s.scalars(select(Receipt).where(Receipt.order_id == order.id, Receipt.status == "valid")))
            payments = list(s.scalars(select(Payment).where(Payment.order_id == order.id)))
            entries = list(s.scalars(select(AccountEntry).where(AccountEntry.order_id == order.id)))
            day = bizday.posting_day(s)
            now = clock.now()
            receipt = Receipt(receipt_no=ledger.next_receipt_no(s, day), business_date=day, kind="void",
                              customer_id=order.customer_id, order_id=order.id,
                              amount_fen=-sum(p.amount_fen for p in payments), status="valid",
                              cashier_id=actor.user_id, created_at=now, idempotency_key=key,
                              note=f"退单 {order.receipt_no}：{reason}", reprints=0)
            s.add(receipt)
            s.flush()
            for p in payments:
                s.add(Payment(receipt_id=receipt.id, order_id=order.id, payment_method_id=p.payment_method_id,
                              account=p.account, amount_fen=-p.amount_fen, business_date=day,
                              received_by_id=actor.user_id, created_at=now))
            for e in entries:
                ledger.post(s, actor, receipt, e.account, -e.amount_fen, order_id=order.id, coupon_id=e.coupon_id,
                            note="退单冲回")
            for line in order.lines:
                if line.package_id is not None:
                    s.add(PackageUse(package_id=line.package_id, sessions=line.quantity, kind="restored",
                                     order_line_id=line.id, receipt_id=receipt.id, business_date=day, created_at=now))
            for package in sold:
                s.add(PackageUse(package_id=package.id, sessions=-package.sessions, kind="refunded",
                                 order_line_id=package.order_line_id, receipt_id=receipt.id, business_date=day,
                                 created_at=now))
            performance.reverse_order(s, order, receipt, staff=reverse_performance)
            for r in receipts:
                r.status = "voided"
            order.status = ORDER_VOIDED
            order.void_reason = reason
            order.voided_at = now
            reopened = Order(customer_id=order.customer_id, visit_id=order.visit_id, status=ORDER_NEW,
                             total_fen=order.total_fen, created_by_id=actor.user_id, created_at=now,
                             cancel_reason="", consultant_id=order.consultant_id, source_order_id=order.id,
                             lines=[li.copy() for li in order.lines])
            s.add(reopened)
            s.flush()
            for share in s.scalars(select(OrderShare).where(OrderShare.order_id == order.id)).all():
                s.add(OrderShare(order_id=reopened.id, role=share.role, staff_id=share.staff_id,
                                 percent=share.percent))
            history.after_void(s, order)
            audit.record(s, actor, "order.void", "order", order.id, before={"status": ORDER_SETTLED}, after={
                "status": ORDER_VOIDED, "reason": reason, "supervisor": supervisor.username,
                "receipt_no": receipt.receipt_no, "voided_receipts": [r.receipt_no for r in receipts],
                "refunded_fen": -receipt.amount_fen, "reverse_performance": reverse_performance,
                "reopened_order_id": reopened.id})
            return VoidResult(receipt.receipt_no, -receipt.amount_fen, reopened.id)

    return ledger.once(clinic, key, work, replay)


# --- refunds 退款 and price changes 多退少补 on a settled order ------------------------------------


def _replay_receipt(key: str, kind: str | tuple[str, ...]) -> Callable[[Session], PayResult | None]:
    """The result of an earlier call with this key (refunds and price changes), or None."""
    def replay(s: Session) -> PayResult | None:
        found = ledger.replayed(s, key, kind=kind)
        return None if found is None else PayResult(found.receipt_id, found.receipt_no, found.amount_fen, 0, True)

    return replay


def line_net(s: Session, line: OrderLine) -> int:
    """What a line is worth now: its amount plus its price changes and refunds."""
    return line.amount_fen + int(s.scalar(select(func.coalesce(func.sum(OrderAdjustment.amount_fen), 0))
                                          .where(OrderAdjustment.order_line_id == line.id)) or 0)


def _settled_line(s: Session, actor: Actor, order_line_id: int) -> tuple[Order, OrderLine]:
    line = s.get(OrderLine, order_line_id)
    if line is None:
        raise NotFound("收费项目不存在")
    order = _load_order(s, actor, line.order_id, lock=True)
    if order.status != ORDER_SETTLED:
        raise ValidationError.single("order", "只能对已结单的收费项目退款或改价")
    return order, line


def refund_line(clinic: Clinic, actor: Actor, order_line_id: int, *, amount_fen: int, tenders: Sequence[Tender],
                reason: str, supervisor: Actor | None, reverse_performance: bool, idempotency_key: str) -> PayResult:
    """项目退款: give back part or all of a settled line. Arrears on the order are reduced first; the
    rest goes out through ``tenders`` (cash, card, … or into the prepaid balance). The consultant's
    and doctor's performance is reversed in proportion when ``reverse_performance``."""
    actor.require_page(Page.CASHIER)
    reason = _reason(reason, "退款")
    ledger.require_supervisor(supervisor, Right.REFUND, "退款")
    assert supervisor is not None
    key = ledger.check_key(idempotency_key)
    if not isinstance(amount_fen, int) or amount_fen <= 0:
        raise ValidationError.single("amount", "退款金额必须大于 0")

    replay = _replay_receipt(key, "refund")

    def work() -> PayResult:
        with clinic.write() as s:
            again = replay(s)
            if again is not None:
                return again
            order, line = _settled_line(s, actor, order_line_id)
            if line.package_sessions:
                raise ValidationError.single("amount", "疗程请按次数办理疗程退款")
            return _refund_in(s, actor, order, line, amount_fen, 0, "refund", tenders, reason, supervisor,
                              reverse_performance, key)

    return ledger.once(clinic, key, work, replay)


def _refund_in(s: Session, actor: Actor, order: Order, line: OrderLine, amount: int, sessions: int, kind: str,
               tenders: Sequence[Tender], reason: str, supervisor: Actor, reverse_performance: bool,
               key: str) -> PayResult:
    net = line_net(s, line)
    if amount > net:
        raise ValidationError.single("amount", f"退款金额不能超过该项目剩余金额 {yuan(net)}")
    owed = order_arrears(s, order.id)
    from_arrears = min(owed, amount)
    paying_out = _tendered(tenders)
    if paying_out != amount - from_arrears:
        hint = f"（其中 {yuan(from_arrears)} 冲减欠款）" if from_arrears else ""
        raise ValidationError.single("amount", f"退款方式合计应为 {yuan(amount - from_arrears)}{hint}")
    if tenders:
        receipt = ledger.write_receipt(s, actor, kind="refund", customer=order.customer, key=key, tenders=tenders,
                                       order_id=order.id, note=reason, sign=-1)
    else:
        receipt = _empty_receipt(s, actor, "refund", order.customer_id, order.id, key, note=reason)
    if from_arrears:
        ledger.post(s, actor, receipt, ACCOUNT_ARREARS, -from_arrears, order_id=order.id, note="退款冲减欠款")
    s.add(OrderAdjustment(order_id=order.id, order_line_id=line.id, kind=kind, amount_fen=-amount, sessions=sessions,
                          reverse_performance=reverse_performance, receipt_id=receipt.id,
                          business_date=receipt.business_date, reason=reason, created_by_id=actor.user_id,
                          created_at=receipt.created_at))
    performance.reverse_line(s, order, line, amount, receipt, staff=reverse_performance)
    audit.record(s, actor, f"order.{kind}", "order", order.id, after={
        "line": line.item_name, "amount_fen": amount, "sessions": sessions, "from_arrears_fen": from_arrears,
        "receipt_no": receipt.receipt_no, "reason": reason, "supervisor": supervisor.username,
        "reverse_performance": reverse_performance, "tenders": _tender_log(s, receipt)})
    return PayResult(receipt.id, receipt.receipt_no, -paying_out, order_arrears(s, order.id))


def refund_package(clinic: Clinic, actor: Actor, package_id: int, *, sessions: int, tenders: Sequence[Tender],
                   reason: str, supervisor: Actor | None, reverse_performance: bool,
                   idempotency_key: str) -> PayResult:
    """疗程退款: give back unused sessions of a course at the price the course was sold for."""
    actor.require_page(Page.CASHIER)
    reason = _reason(reason, "退款")
    ledger.require_supervisor(supervisor, Right.REFUND, "退款")
    assert supervisor is not None
    key = ledger.check_key(idempotency_key)

    replay = _replay_receipt(key, "refund")

    def work() -> PayResult:
        with clinic.write() as s:
            again = replay(s)
            if again is not None:
                return again
            package = s.get(Package, package_id)
            if package is None:
                raise NotFound("疗程不存在")
            order, line = _settled_line(s, actor, package.order_line_id)
            left = ledger.package_remaining(s, package.id)
            if not isinstance(sessions, int) or not 1 <= sessions <= left:
                raise ValidationError.single("sessions", f"退款次数应在 1–{left} 之间")
            amount = refund_value(package.value_fen, package.sessions, left, sessions)
            result = _refund_in(s, actor, order, line, amount, sessions, "package_refund", tenders, reason,
                                supervisor, reverse_performance, key)
            receipt = s.get(Receipt, result.receipt_id)
            assert receipt is not None
            s.add(PackageUse(package_id=package.id, sessions=-sessions, kind="refunded", order_line_id=line.id,
                             receipt_id=receipt.id, business_date=receipt.business_date,
                             created_at=receipt.created_at))
            return result

    return ledger.once(clinic, key, work, replay)


def refund_value(value_fen: int, total: int, left: int, sessions: int) -> int:
    """What ``sessions`` of the ``left`` unused sessions are worth: additive, and all of them unused = the price."""
    return value_fen * left // total - value_fen * (left - sessions) // total


def package_refund_quote(clinic: Clinic, actor: Actor, package_id: int, sessions: int) -> int:
    actor.require_page(Page.CASHIER)
    with clinic.read() as s:
        package = s.get(Package, package_id)
        if package is None:
            raise NotFound("疗程不存在")
        load_in_scope(s, actor, package.customer_id)
        left = ledger.package_remaining(s, package.id)
        return refund_value(package.value_fen, package.sessions, left, max(0, min(sessions, left)))


def reprice_line(clinic: Clinic, actor: Actor, order_line_id: int, *, unit_price_fen: int, reason: str,
                 supervisor: Actor | None, tenders: Sequence[Tender], idempotency_key: str,
                 reverse_performance: bool = True) -> PayResult:
    """多退少补: a settled line's price changes. Higher: the difference becomes arrears, collected now
    with ``tenders`` or later, and is credited as performance. Lower: the difference is refunded like a
    project refund; the staff's performance of it is taken back when ``reverse_performance``."""
    actor.require_page(Page.CASHIER)
    reason = _reason(reason, "改价")
    key = ledger.check_key(idempotency_key)

    replay = _replay_receipt(key, ("refund", "collect"))

    def work() -> PayResult:
        with clinic.write() as s:
            again = replay(s)
            if again is not None:
                return again
            order, line = _settled_line(s, actor, order_line_id)
            if line.package_id is not None or line.package_sessions:
                raise ValidationError.single("price", "疗程项目不能改价")
            if not isinstance(unit_price_fen, int) or unit_price_fen < 0:
                raise ValidationError.single("price", "单价不能小于 0")
            item = s.get(Item, line.item_id)
            new_amount = unit_price_fen * line.quantity
            if new_amount >= MAX_FEN:
                raise ValidationError.single("price", "金额过大")
            if item is not None and unit_price_fen < item.min_price_fen:
                ledger.require_supervisor(supervisor, Right.APPROVE_PRICE, "低于最低价")
            diff = new_amount - line_net(s, line)
            if diff == 0:
                raise ValidationError.single("price", "价格没有变化")
            if diff < 0:
                ledger.require_supervisor(supervisor, Right.REFUND, "退差价")
                assert supervisor is not None
                return _refund_in(s, actor, order, line, -diff, 0, "reprice", tenders, reason, supervisor,
                                  reverse_performance, key)
            receipt = (ledger.write_receipt(s, actor, kind="collect", customer=order.customer, key=key,
                                            tenders=tenders, order_id=order.id, note=reason)
                       if tenders else _empty_receipt(s, actor, "collect", order.customer_id, order.id, key, reason))
            paying = _tendered(tenders)
            if paying > diff:
                raise ValidationError.single("amount", f"补收金额不能超过差价 {yuan(diff)}")
            ledger.post(s, actor, receipt, ACCOUNT_ARREARS, diff - paying, order_id=order.id, note="改价补差")
            s.add(OrderAdjustment(order_id=order.id, order_line_id=line.id, kind="reprice", amount_fen=diff,
                                  sessions=0, reverse_performance=False, receipt_id=receipt.id,
                                  business_date=receipt.business_date, reason=reason, created_by_id=actor.user_id,
                                  created_at=receipt.created_at))
            performance.credit_line(s, order, line, diff, receipt)
            audit.record(s, actor, "order.reprice", "order", order.id, before={"amount_fen": new_amount - diff},
                         after={"amount_fen": new_amount, "line": line.item_name, "paid_fen": paying,
                                "receipt_no": receipt.receipt_no, "reason": reason,
                                "supervisor": supervisor.username if supervisor else None})
            return PayResult(receipt.id, receipt.receipt_no, paying, order_arrears(s, order.id))

    return ledger.once(clinic, key, work, replay)


# --- invoices, merging, reprints ---------------------------------------------------------------


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
        order = _load_order(s, actor, order_id, lock=True)
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
        orders = [_load_order(s, actor, i, lock=True) for i in ids]
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
