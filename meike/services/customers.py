"""Customers desk 顾客管理: search within the data scope, read, register."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session, aliased

from meike import clock
from meike.db import Clinic
from meike.errors import NotFound, PermissionDenied, ValidationError
from meike.models import Channel, Customer, Department, Staff
from meike.permissions import Actor, Page, Right
from meike.rules.pinyin import initials, is_pinyin_query
from meike.rules.validation import mask_mobile, mobile_error, normalise_mobile
from meike.services import audit, scope

CUSTOMER_PAGES = (Page.CUSTOMERS, Page.REGISTRATION, Page.DASHBOARD, Page.CASHIER)
GENDERS = {"F": "女", "M": "男", "U": "未知"}


def _require_customer_page(actor: Actor) -> None:
    if actor.is_admin or not any(actor.can_open(p) for p in CUSTOMER_PAGES):
        raise PermissionDenied("您没有查看顾客的权限，请联系管理员")


@dataclass(frozen=True)
class CustomerRow:
    id: int
    card_no: str
    name: str
    gender: str
    mobile: str
    channel: str
    cs_staff: str
    consultant: str
    department: str
    created_at: datetime


def _prefix(column: object, text: str) -> object:
    """``column LIKE 'text%'`` written as a range so it uses the index on SQLite and PostgreSQL."""
    return and_(column >= text, column < text + "\uffff")


def _search_clause(text: str) -> object | None:
    text = text.strip()
    if not text:
        return None
    if text.isdigit():
        mobile = normalise_mobile(text)
        if len(mobile) == 11:
            return or_(Customer.mobile == mobile, Customer.card_no == text)
        if len(text) == 4:
            return or_(Customer.mobile_last4 == text, Customer.card_no == text)
        return or_(Customer.card_no == text, _prefix(Customer.mobile, text))
    if is_pinyin_query(text):
        return or_(_prefix(Customer.name_initials, text.lower()), Customer.card_no == text.upper())
    return or_(_prefix(Customer.name, text), Customer.card_no == text)


def _base_query(actor: Actor, text: str) -> Select[tuple[Customer]]:
    q = select(Customer).where(scope.customer_clause(actor))
    clause = _search_clause(text)
    if clause is not None:
        q = q.where(clause)
    return q


def count_customers(clinic: Clinic, actor: Actor, *, text: str = "") -> int:
    _require_customer_page(actor)
    with clinic.read() as s:
        q = _base_query(actor, text).with_only_columns(func.count(Customer.id)).order_by(None)
        return s.scalar(q) or 0


def search_customers(clinic: Clinic, actor: Actor, *, text: str = "", offset: int = 0,
                     limit: int = 200) -> list[CustomerRow]:
    """One page of customers in the actor's scope, newest first; mobiles masked without the right."""
    _require_customer_page(actor)
    cs, consultant = aliased(Staff), aliased(Staff)
    # Pick the page of ids first: with scope "all" the search indexes cover it, so only the rows
    # shown are read from the table, however many customers match.
    page_ids = (
        _base_query(actor, text).with_only_columns(Customer.id).order_by(Customer.id.desc())
        .offset(offset).limit(limit).scalar_subquery()
    )
    q = (
        select(Customer).where(Customer.id.in_(page_ids))
        .outerjoin(Channel, Channel.id == Customer.channel_id)
        .outerjoin(cs, cs.id == Customer.cs_staff_id)
        .outerjoin(consultant, consultant.id == Customer.consultant_id)
        .outerjoin(Department, Department.id == Customer.department_id)
        .with_only_columns(Customer, Channel.name, cs.name, consultant.name, Department.name)
        .order_by(Customer.id.desc())
    )
    show_full = actor.has_right(Right.VIEW_PRIVATE)
    with clinic.read() as s:
        return [
            CustomerRow(c.id, c.card_no, c.name, GENDERS.get(c.gender, ""),
                        c.mobile if show_full else mask_mobile(c.mobile), ch or "", cs_name or "",
                        cons or "", dept or "", c.created_at)
            for c, ch, cs_name, cons, dept in s.execute(q)
        ]


def load_in_scope(s: Session, actor: Actor, customer_id: int) -> Customer:
    """The customer, or NotFound when missing or outside the actor's data scope."""
    customer = s.get(Customer, customer_id)
    if customer is None or not scope.in_scope(actor, customer):
        raise NotFound("顾客不存在或不在您的查看范围内")
    return customer


def find_by_mobile(clinic: Clinic, actor: Actor, mobile: str) -> CustomerRow | None:
    """An existing customer with this mobile, if the actor may see them (duplicate check)."""
    rows = search_customers(clinic, actor, text=normalise_mobile(mobile), limit=1)
    return rows[0] if rows and len(normalise_mobile(mobile)) == 11 else None


def next_card_no(s: Session, today: datetime) -> str:
    """Card numbers are ``YYMMDD`` + a 4-digit serial of the day: 2611230001."""
    stem = today.strftime("%y%m%d")
    last = s.scalar(select(func.max(Customer.card_no)).where(_prefix(Customer.card_no, stem)))
    serial = int(last[len(stem):]) + 1 if last and last[len(stem):].isdigit() else 1
    return f"{stem}{serial:04d}"


def register_customer(clinic: Clinic, actor: Actor, *, name: str, mobile: str, gender: str = "F",
                      channel_id: int | None = None, cs_staff_id: int | None = None,
                      card_no: str = "", notes: str = "") -> int:
    """Create a customer at the front desk. A mobile already on file is refused (open that customer)."""
    actor.require_page(Page.REGISTRATION)
    errors: dict[str, str] = {}
    name = name.strip()
    if not name:
        errors["name"] = "请填写顾客姓名"
    elif len(name) > 40:
        errors["name"] = "姓名不能超过 40 个字"
    message = mobile_error(mobile)
    if message:
        errors["mobile"] = message
    if gender not in GENDERS:
        errors["gender"] = "请选择性别"
    if errors:
        raise ValidationError(errors)
    mobile = normalise_mobile(mobile)
    now = clock.now()
    with clinic.write() as s:
        existing = s.scalar(select(Customer).where(Customer.mobile == mobile))
        if existing is not None:
            raise ValidationError.single("mobile", f"手机号已登记：{existing.name}（卡号 {existing.card_no}）")
        card = card_no.strip() or next_card_no(s, now)
        if s.scalar(select(Customer.id).where(Customer.card_no == card)) is not None:
            raise ValidationError.single("card_no", f"卡号 {card} 已被使用")
        customer = Customer(
            card_no=card, name=name, name_initials=initials(name), gender=gender, mobile=mobile,
            mobile_last4=mobile[-4:], department_id=actor.department_id, registered_by_id=actor.user_id,
            cs_staff_id=cs_staff_id, channel_id=channel_id, notes=notes.strip(), created_at=now,
        )
        s.add(customer)
        s.flush()
        audit.record(s, actor, "customer.create", "customer", customer.id,
                     after={"card_no": card, "name": name, "mobile": mask_mobile(mobile)})
        return customer.id


@dataclass(frozen=True)
class DashboardCounts:
    customers: int
    registered_today: int


def dashboard_counts(clinic: Clinic, actor: Actor, *, now: datetime | None = None) -> DashboardCounts:
    actor.require_page(Page.DASHBOARD)
    now = now or clock.now()
    start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    with clinic.read() as s:
        base = select(func.count(Customer.id)).where(scope.customer_clause(actor))
        total = s.scalar(base) or 0
        today = s.scalar(base.where(Customer.created_at >= start)) or 0
    return DashboardCounts(total, today)
