"""Customers desk 顾客管理: search within the data scope, read, register."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import Integer, Select, String, and_, bindparam, func, literal, or_, select
from sqlalchemy.orm import Session, aliased

from meike import clock
from meike.db import Clinic
from meike.db.prefix import prefix_clause, upper_bound
from meike.db.prepared import Prepared
from meike.errors import ConflictError, NotFound, PermissionDenied, ValidationError
from meike.models import Appointment, Channel, Customer, Department, InfoSource, MemberLevel, Staff, Visit
from meike.permissions import Actor, Page, Right
from meike.rules.customer_class import (
    CLASS_LABELS,
    VISIT_TYPE_LABELS,
    CustomerClass,
    VisitType,
    customer_class,
)
from meike.rules.pinyin import initials, is_pinyin_query
from meike.rules.text import CONTENT_MAX, NOTE_MAX, clean_text, search_text, take_text
from meike.rules.validation import (
    age_error,
    age_on,
    birthday_error,
    birthday_from_id_card,
    card_no_error,
    digits_error,
    id_card_error,
    mask_mobile,
    mask_number,
    mobile_error,
    nfkc,
    normalise_id_card,
    normalise_mobile,
    sex_from_id_card,
)
from meike.services import audit, scope

CUSTOMER_PAGES = (Page.CUSTOMERS, Page.REGISTRATION, Page.DASHBOARD, Page.CASHIER)
GENDERS = {"F": "女", "M": "男", "U": "未知"}
VISIT_TABS = ("arrived", "deal", "no_deal")
_CS_STAFF = aliased(Staff, name="cs_staff")
_CONSULTANT = aliased(Staff, name="consultant")


def _require_customer_page(actor: Actor) -> None:
    actor.check_live()
    if actor.is_admin or not any(actor.can_open(p) for p in CUSTOMER_PAGES):
        raise PermissionDenied("您没有查看顾客的权限，请联系管理员")


@dataclass(frozen=True)
class CustomerRow:
    """One grid row: a customer, or in the visit tabs one visit of a customer."""

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
    customer_class: str = ""
    visit_id: int | None = None
    visit_type: str = ""
    visit_status: str = ""
    appointment_at: datetime | None = None


TABS = {"booked": "已预约", "arrived": "已到诊", "deal": "已成交", "no_deal": "未成交", "all": "全部"}


@dataclass(frozen=True)
class CustomerQuery:
    """The query conditions of the customer grid. Dates filter the tab's own date (see ``_tab_query``)."""

    text: str = ""
    tab: str = "all"
    date_from: date | None = None
    date_to: date | None = None
    channel_id: int | None = None
    consultant_id: int | None = None
    cs_staff_id: int | None = None
    customer_class: str | None = None  # new / returning / potential


def _prefix(column: Any, text: str) -> Any:
    """``column LIKE 'text%'`` written as a range so it uses the index on SQLite and PostgreSQL."""
    return prefix_clause(column, text)


def _search_kind(text: str, *, prefixes: bool = True) -> tuple[str, dict[str, str]] | None:
    """What the search box's text is (``mobile``, ``last4``, ``digits``, ``card``, ``pinyin``, ``name``)
    and the values to look for; None for an empty box.

    Digits typed full-width (``１３８…``) are digits (NFKC). Other digits are the whole mobile (11),
    its last 4, or a card number; ``digits`` also matches the mobiles starting with them, ``card``
    (``prefixes`` False: a user without the right to see numbers in full) does not: the first digits
    of a masked mobile would otherwise be rebuilt one search at a time. Every customer search passes
    here: a text too long or with control characters is refused (``rules.text.search_text``).
    """
    text = search_text(text)
    if not text:
        return None
    typed = nfkc(text)
    mobile = normalise_mobile(typed)
    if mobile.isascii() and mobile.isdigit():  # "138 0013 8000", "+86 138…", "１３８…": a number
        text = mobile
    elif typed.isascii():
        text = typed  # full-width Latin letters: pinyin initials
    if text.isascii() and text.isdigit():
        if len(text) == 11:
            return "mobile", {"mobile": text, "card": text}
        if len(text) == 4:
            return "last4", {"last4": text, "card": text}
        if not prefixes:
            return "card", {"card": text}
        return "digits", {"card": text, "lo": text, "hi": upper_bound(text)}
    if is_pinyin_query(text):
        low = text.lower()
        return "pinyin", {"lo": low, "hi": upper_bound(low), "card": text.upper()}
    return "name", {"lo": text, "hi": upper_bound(text), "card": text}


def _text_clause(kind: str, value: Any) -> Any:
    """The search condition of a kind; ``value(name)`` gives each value (literal, or a bind parameter)."""
    if kind == "mobile":
        return or_(Customer.mobile == value("mobile"), Customer.card_no == value("card"))
    if kind == "last4":
        return or_(Customer.mobile_last4 == value("last4"), Customer.card_no == value("card"))
    if kind == "card":
        return Customer.card_no == value("card")
    if kind == "digits":  # a card number, or the start of a mobile (prefix as a range: it uses the index)
        return or_(Customer.card_no == value("card"), and_(Customer.mobile >= value("lo"), Customer.mobile < value("hi")))
    column = Customer.name_initials if kind == "pinyin" else Customer.name
    return or_(and_(column >= value("lo"), column < value("hi")), Customer.card_no == value("card"))


def _may_see_numbers(actor: Actor) -> bool:
    return actor.has_right(Right.VIEW_PRIVATE)


def _search_clause(text: str, actor: Actor) -> Any:
    found = _search_kind(text, prefixes=_may_see_numbers(actor))
    if found is None:
        return None
    kind, values = found
    return _text_clause(kind, values.__getitem__)


# --- number probes --------------------------------------------------------------------------------

PROBE_WINDOW = timedelta(minutes=10)
PROBE_LIMIT = 20
_MOBILE_START = re.compile(r"1[3-9][0-9]{3,8}\Z")  # 5–10 digits: the first digits of a mobile


class _Probes:
    """The number probes of each user (per database) in the last ``PROBE_WINDOW``, kept in memory.

    A probe is a search for the first digits of a mobile (5–10 digits starting 13–19, whether or not
    they may match mobiles for this user) or for a whole mobile that found no one: the searches that
    rebuild a masked number. A user makes ``PROBE_LIMIT`` different ones in the window; further new
    ones are refused until the oldest fall out of it (the same text again is free: the grid counts and
    pages the same search), and the first refusal of a window is written to the audit log with the
    masked text, never the digits typed. Time from ``meike.clock``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, int], dict[str, datetime]] = {}
        self._reported: dict[tuple[str, int], datetime] = {}

    def _window(self, key: tuple[str, int], now: datetime) -> dict[str, datetime]:
        seen = self._seen.setdefault(key, {})
        for text in [t for t, at in seen.items() if at <= now - PROBE_WINDOW]:
            del seen[text]
        return seen

    def admit(self, key: tuple[str, int], text: str, *, count: bool, now: datetime) -> tuple[bool, int, bool]:
        """(allowed, probes in the window, report this refusal). ``count``: an allowed ``text`` is a
        probe now (a prefix); else it becomes one only if it finds nobody (``miss``)."""
        with self._lock:
            seen = self._window(key, now)
            if text in seen:
                return True, len(seen), False
            if len(seen) >= PROBE_LIMIT:
                last = self._reported.get(key)
                report = last is None or last <= now - PROBE_WINDOW
                if report:
                    self._reported[key] = now
                return False, len(seen), report
            if count:
                seen[text] = now
            return True, len(seen), False

    def miss(self, key: tuple[str, int], text: str, now: datetime) -> None:
        with self._lock:
            seen = self._window(key, now)
            if text not in seen:
                seen[text] = now

    def forget(self) -> None:
        with self._lock:
            self._seen.clear()
            self._reported.clear()


_PROBES = _Probes()
TOO_MANY_PROBES = "号码查询过于频繁：10 分钟内最多查询 20 个不同的号码或号码开头，请稍后再试（已记入操作日志）"


def forget_probes() -> None:
    """Clear the memory of number probes (the benchmark's thousands of lookups in a row)."""
    _PROBES.forget()


def _probe_of(found: tuple[str, dict[str, str]] | None) -> tuple[str, bool] | None:
    """(the digits, counted at once) when the search is a number probe: a mobile's first digits count
    at once, a whole mobile only when it finds nobody."""
    if found is None:
        return None
    kind, values = found
    if kind in ("digits", "card") and _MOBILE_START.match(values["card"]):
        return values["card"], True
    if kind == "mobile":
        return values["mobile"], False
    return None


def _probe_key(clinic: Clinic, actor: Actor) -> tuple[str, int]:
    return clinic.engine.url.render_as_string(hide_password=True), actor.user_id


def guard_search(clinic: Clinic, actor: Actor, text: str, *, field: str = "text") -> None:
    """Refuse a new number probe beyond the limit (ValidationError on ``field``, logged once a window).
    Every service that matches customers by typed digits calls it first."""
    actor.check_live()
    found = _search_kind(text, prefixes=_may_see_numbers(actor))
    _guard(clinic, actor, found, field)


def _guard(clinic: Clinic, actor: Actor, found: tuple[str, dict[str, str]] | None, field: str = "text") -> None:
    probe = _probe_of(found)
    if probe is None:
        return
    digits, count = probe
    allowed, probes, report = _PROBES.admit(_probe_key(clinic, actor), digits, count=count, now=clock.now())
    if allowed:
        return
    if report:
        with clinic.write() as s:
            audit.record(s, actor, "privacy.search_limited", "customer", None, after={
                "probes": probes, "minutes": int(PROBE_WINDOW.total_seconds() // 60),
                "typed": mask_number(digits)})
    raise ValidationError.single(field, TOO_MANY_PROBES)


def guard_number(clinic: Clinic, actor: Actor, number: str, *, field: str = "number") -> None:
    """A whole number looked up outside the search box (the caller card) by a user who may not see
    numbers: within the same budget of probes (ValidationError beyond it, logged). Call
    ``number_missed`` when it found nobody."""
    actor.check_live()
    if number and not _may_see_numbers(actor):
        _guard(clinic, actor, ("mobile", {"mobile": number}), field)


def number_missed(clinic: Clinic, actor: Actor, number: str) -> None:
    """``guard_number``'s number found nobody: it counts as a probe."""
    actor.check_live()
    if number and not _may_see_numbers(actor):
        _missed(clinic, actor, ("mobile", {"mobile": number}), 0)


def _missed(clinic: Clinic, actor: Actor, found: tuple[str, dict[str, str]] | None, hits: int) -> None:
    probe = _probe_of(found)
    if probe is not None and not probe[1] and hits == 0:
        _PROBES.miss(_probe_key(clinic, actor), probe[0], clock.now())


def _class_clause(value: str) -> Any:
    if value == CustomerClass.POTENTIAL:
        return Customer.purchase_occasions == 0
    if value == CustomerClass.NEW:
        return Customer.purchase_occasions == 1
    if value == CustomerClass.RETURNING:
        return Customer.purchase_occasions >= 2
    raise ValidationError.single("customer_class", "顾客类别无效")


def _day_range(column: Any, start: date | None, end: date | None, *, is_date: bool = False) -> list[Any]:
    out = []
    if start is not None:
        out.append(column >= (start if is_date else datetime.combine(start, time())))
    if end is not None:
        out.append(column <= end if is_date else column < datetime.combine(end + timedelta(days=1), time()))
    return out


def _tab_query(actor: Actor, q: CustomerQuery) -> Select[Any]:
    """Rows of the tab as (Customer, Visit | None, Appointment | None), scope and conditions applied."""
    if q.tab not in TABS:
        raise ValidationError.single("tab", "未知的页签")
    conditions: list[Any] = [scope.customer_clause(actor)]
    text = _search_clause(q.text, actor)
    if text is not None:
        conditions.append(text)
    if q.channel_id is not None:
        conditions.append(Customer.channel_id == q.channel_id)
    if q.cs_staff_id is not None:
        conditions.append(Customer.cs_staff_id == q.cs_staff_id)
    if q.customer_class:
        conditions.append(_class_clause(q.customer_class))
    if q.tab in VISIT_TABS:
        stmt = select(Customer, Visit, literal(None)).join(Visit, Visit.customer_id == Customer.id)
        conditions.append(Visit.status == "active")
        conditions += _day_range(Visit.business_date, q.date_from, q.date_to, is_date=True)
        if q.tab == "deal":
            conditions.append(Visit.is_deal.is_(True))
        elif q.tab == "no_deal":
            conditions.append(Visit.is_deal.is_(False))
        if q.consultant_id is not None:
            conditions.append(Visit.consultant_id == q.consultant_id)
        return stmt.where(*conditions).order_by(Visit.id.desc())
    if q.tab == "booked":
        stmt = select(Customer, literal(None), Appointment).join(Appointment, Appointment.customer_id == Customer.id)
        conditions.append(Appointment.status == "booked")
        conditions += _day_range(Appointment.appointment_at, q.date_from, q.date_to)
        if q.consultant_id is not None:
            conditions.append(Customer.consultant_id == q.consultant_id)
        return stmt.where(*conditions).order_by(Appointment.appointment_at, Appointment.id)
    conditions += _day_range(Customer.created_at, q.date_from, q.date_to)
    if q.consultant_id is not None:
        conditions.append(Customer.consultant_id == q.consultant_id)
    return select(Customer, literal(None), literal(None)).where(*conditions).order_by(Customer.id.desc())


def _query(text: str, query: CustomerQuery | None) -> CustomerQuery:
    return query if query is not None else CustomerQuery(text=text)


def count_customers(clinic: Clinic, actor: Actor, *, text: str = "", query: CustomerQuery | None = None) -> int:
    _require_customer_page(actor)
    q = _query(text, query)
    found = _search_kind(q.text, prefixes=_may_see_numbers(actor))
    _guard(clinic, actor, found)
    stmt = _tab_query(actor, q).order_by(None)
    with clinic.read() as s:
        total = s.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    _missed(clinic, actor, found, total)
    return total


def search_customers(clinic: Clinic, actor: Actor, *, text: str = "", query: CustomerQuery | None = None,
                     offset: int = 0, limit: int = 200) -> list[CustomerRow]:
    """One page of the grid in the actor's scope; mobiles masked. Number probes are limited (``_Probes``)."""
    box_alone = query is None or query == CustomerQuery(text=query.text)  # the search box alone
    found = _search_kind(text if query is None else query.text, prefixes=_may_see_numbers(actor))
    if found is not None and box_alone:
        if _probe_of(found) is not None:
            _require_customer_page(actor)  # checks the account too
            _guard(clinic, actor, found)
        else:  # the statement and the scope's values are kept per actor: the account is checked here
            actor.check_live()
        rows = _search_box(clinic, actor, *found, offset=offset, limit=limit)
    else:
        _require_customer_page(actor)
        _guard(clinic, actor, found)
        rows = _search_grid(clinic, actor, _query(text, query), offset=offset, limit=limit)
    if offset == 0:
        _missed(clinic, actor, found, len(rows))
    return rows


_SEARCH_BOX: dict[tuple[str, tuple[str, ...]], Prepared] = {}


@lru_cache(maxsize=256)
def _search_box_statement(kind: str, actor: Actor) -> tuple[Prepared, dict[str, int]]:
    """The 全部 tab filtered by the search box only, for one kind of text and one scope shape, and the
    actor's scope values (read only: every search of the actor shares them); PermissionDenied without
    the right to see customers. Kept per actor, which is immutable (a refusal is not kept): checking
    the right and working out the scope at every search cost a tenth of a lookup by mobile."""
    _require_customer_page(actor)
    key = (kind, scope.shape(actor))
    prepared = _SEARCH_BOX.get(key)
    if prepared is not None:
        return prepared, scope.bind_values(actor)

    def build() -> Select[Any]:
        in_scope = scope.bound_customer_clause(actor)  # the shape decides the SQL, not the ids
        text = _text_clause(kind, lambda name: bindparam(name, type_=String))
        page = (select(Customer.id).where(in_scope, text).order_by(Customer.id.desc())
                .offset(bindparam("offset", type_=Integer)).limit(bindparam("limit", type_=Integer)))
        customer = select(Customer.id, Customer.card_no, Customer.name, Customer.gender, Customer.mobile,
                          Customer.created_at, Customer.purchase_occasions)
        return (_with_names(customer, Customer.consultant_id)
                .where(Customer.id.in_(page.scalar_subquery())).order_by(Customer.id.desc()))

    return _SEARCH_BOX.setdefault(key, Prepared(build)), scope.bind_values(actor)


def _search_box(clinic: Clinic, actor: Actor, kind: str, values: dict[str, str], *, offset: int,
                limit: int) -> list[CustomerRow]:
    """The same rows as ``_search_grid`` for the search box alone, without the ORM: a mobile, a card
    number or a name typed at the front desk (or a caller's number) is answered in well under a
    millisecond. tests/meike/test_search_box.py compares both paths."""
    statement, scope_values = _search_box_statement(kind, actor)
    params = {**values, **scope_values, "offset": offset, "limit": limit}
    return [_row(*row) for row in statement.rows(clinic.engine, params)]


def _with_names(stmt: Select[Any], consultant_id: Any) -> Select[Any]:
    """The page with the names of customer service, consultant, channel and department: one round trip
    however many rows are shown."""
    cs, consultant = _CS_STAFF, _CONSULTANT
    return (stmt.add_columns(cs.name, consultant.name, Channel.name, Department.name)
            .outerjoin(cs, cs.id == Customer.cs_staff_id)
            .outerjoin(consultant, consultant.id == consultant_id)
            .outerjoin(Channel, Channel.id == Customer.channel_id)
            .outerjoin(Department, Department.id == Customer.department_id))


def _row(cid: int, card_no: str, name: str, gender: str, mobile: str, created_at: datetime, occasions: int,
         cs_name: str | None, consultant_name: str | None, channel: str | None, department: str | None,
         v: Visit | None = None, a: Appointment | None = None) -> CustomerRow:
    return CustomerRow(
        cid, card_no, name, GENDERS.get(gender, ""), mask_mobile(mobile), channel or "", cs_name or "",
        consultant_name or "", department or "", created_at, CLASS_LABELS[customer_class(occasions)],
        v.id if v is not None else None,
        VISIT_TYPE_LABELS[VisitType(v.visit_type)] if v is not None else "",
        ("成交" if v.is_deal else "未成交") if v is not None else "",
        a.appointment_at if a is not None else None,
    )


def _search_grid(clinic: Clinic, actor: Actor, q: CustomerQuery, *, offset: int, limit: int) -> list[CustomerRow]:
    stmt = _tab_query(actor, q)
    if q.tab == "all":
        # Pick the page of ids first: with scope "all" the search indexes cover it, so only the
        # rows shown are read from the table, however many customers match.
        page_ids = stmt.with_only_columns(Customer.id).offset(offset).limit(limit).scalar_subquery()
        stmt = stmt.where(Customer.id.in_(page_ids))
    else:
        stmt = stmt.offset(offset).limit(limit)
    consultant_id = Visit.consultant_id if q.tab in VISIT_TABS else Customer.consultant_id
    with clinic.read() as s:
        return [_row(c.id, c.card_no, c.name, c.gender, c.mobile, c.created_at, c.purchase_occasions,
                     cs_name, consultant_name, channel, department, v, a)
                for c, v, a, cs_name, consultant_name, channel, department
                in s.execute(_with_names(stmt, consultant_id))]


def load_in_scope(s: Session, actor: Actor, customer_id: int, *, lock: bool = False) -> Customer:
    """The customer, or NotFound when missing or outside the actor's data scope. ``lock``: the row stays
    locked to this transaction (PostgreSQL ``FOR UPDATE``; SQLite writers hold the database lock)."""
    actor.check_live()
    customer = s.get(Customer, customer_id, with_for_update=lock or None)
    if customer is None or not scope.in_scope(actor, customer):
        raise NotFound("顾客不存在或不在您的查看范围内")
    return customer


def find_by_mobile(clinic: Clinic, actor: Actor, mobile: str) -> CustomerRow | None:
    """An existing customer with this mobile, if the actor may see them (duplicate check)."""
    mobile = normalise_mobile(mobile)
    if len(mobile) != 11:
        return None
    rows = search_customers(clinic, actor, text=mobile, limit=1)
    return rows[0] if rows else None


def next_card_no(s: Session, today: datetime) -> str:
    """Card numbers are ``YYMMDD`` + a 4-digit serial of the day: 2611230001."""
    stem = today.strftime("%y%m%d")
    last = s.scalar(select(func.max(Customer.card_no)).where(_prefix(Customer.card_no, stem)))
    serial = int(last[len(stem):]) + 1 if last and last[len(stem):].isdigit() else 1
    return f"{stem}{serial:04d}"


# --- the profile ---------------------------------------------------------------------------------

PROFILE_FIELDS = (
    "name", "gender", "mobile", "channel_id", "info_source_id", "cs_staff_id", "developer_id", "member_level_id",
    "referrer", "card_no", "file_no", "birthday", "age", "id_card", "wechat", "qq", "region", "address",
    "occupation", "sms_opt_in", "notes",
)
TEXT_LIMITS = {"referrer": 40, "file_no": 30, "wechat": 40, "qq": 20, "region": 40, "address": 200,
               "occupation": 40, "card_no": 20}
TEXT_LABELS = {"referrer": "介绍人", "file_no": "档案号", "wechat": "微信", "qq": "QQ 号", "region": "地区",
               "address": "地址", "occupation": "职业", "card_no": "卡号"}
REFERENCES = {"channel_id": Channel, "info_source_id": InfoSource, "cs_staff_id": Staff, "developer_id": Staff,
              "member_level_id": MemberLevel}


NUMBER_FIELDS = ("qq", "card_no")  # typed numbers: NFKC-normalised like the mobile and the ID card
DUPLICATE_HIDDEN = "该手机号已登记，请联系主管处理"


class DuplicateMobile(ValidationError):
    """The mobile is on file already; ``customer_id`` is set when the actor may open that customer.
    One the actor may not open is named neither by name nor by why (``DUPLICATE_HIDDEN``); its id
    stays in ``hidden_id`` for the audit log."""

    def __init__(self, message: str, customer_id: int | None, hidden_id: int | None = None) -> None:
        super().__init__({"mobile": message})
        self.customer_id = customer_id
        self.hidden_id = hidden_id


def _log_hidden_duplicate(clinic: Clinic, actor: Actor, e: DuplicateMobile, mobile: str, during: str) -> None:
    """A duplicate the actor may not open: the hit is audited (its own transaction: the registration or
    the edit was rolled back)."""
    if e.hidden_id is None:
        return
    with clinic.write() as s:
        audit.record(s, actor, "customer.duplicate_mobile", "customer", e.hidden_id,
                     after={"during": during, "mobile": mask_number(normalise_mobile(mobile))})


def _clean_profile(s: Session, actor: Actor, values: dict[str, Any], customer_id: int | None,
                   today: date) -> dict[str, Any]:
    """Validate every field at once; the errors name the fields so the form shows them in place."""
    unknown = set(values) - set(PROFILE_FIELDS)
    if unknown:
        raise ValueError(f"unknown customer fields: {sorted(unknown)}")
    errors: dict[str, str] = {}
    out: dict[str, Any] = {}
    name = take_text(errors, values.get("name"), field="name", label="姓名", limit=40)
    if not name and "name" not in errors:
        errors["name"] = "请填写顾客姓名"
    out["name"] = name
    gender = values.get("gender") or "F"
    if gender not in GENDERS:
        errors["gender"] = "请选择性别"
    out["gender"] = gender
    message = mobile_error(str(values.get("mobile") or ""))
    mobile = normalise_mobile(str(values.get("mobile") or ""))
    if message:
        errors["mobile"] = message
    out["mobile"] = mobile
    for key, model in REFERENCES.items():
        value = values.get(key)
        if value in (None, ""):
            out[key] = None
            continue
        row = s.get(model, int(value))
        if row is None:
            errors[key] = "所选项目不存在"
        out[key] = int(value)
    for key, limit in TEXT_LIMITS.items():
        raw = values.get(key)
        raw = nfkc(str(raw or "")) if key in NUMBER_FIELDS else raw
        out[key] = take_text(errors, raw, field=key, label=TEXT_LABELS[key], limit=limit)
    problem = digits_error(out["qq"], "QQ 号")
    if problem:
        errors["qq"] = problem
    problem = card_no_error(out["card_no"])
    if problem:
        errors.setdefault("card_no", problem)
    id_card = normalise_id_card(str(values.get("id_card") or ""))
    if id_card:
        problem = id_card_error(id_card, today=today)
        if problem:
            errors["id_card"] = problem
        elif gender in ("F", "M") and sex_from_id_card(id_card) != gender:
            errors["gender"] = f"性别与身份证号不一致（身份证号为{GENDERS[sex_from_id_card(id_card)]}性）"
    out["id_card"] = id_card
    birthday = values.get("birthday")
    problem = birthday_error(birthday, today=today)
    if problem:
        errors["birthday"] = problem
    if birthday is None and id_card and "id_card" not in errors:
        birthday = birthday_from_id_card(id_card)
    elif birthday is not None and id_card and "id_card" not in errors and birthday != birthday_from_id_card(id_card):
        errors["birthday"] = "生日与身份证号中的出生日期不一致"
    out["birthday"] = birthday
    age = values.get("age")
    problem = age_error(age)
    if problem:
        errors["age"] = problem
    out["age"] = age_on(birthday, today) if birthday is not None and "birthday" not in errors else age
    out["sms_opt_in"] = bool(values.get("sms_opt_in", True))
    out["notes"] = take_text(errors, values.get("notes"), field="notes", label="备注", limit=CONTENT_MAX,
                             multiline=True)
    if out["card_no"] and "card_no" not in errors:
        clash = s.scalar(select(Customer.id).where(Customer.card_no == out["card_no"], Customer.id != (customer_id or 0)))
        if clash is not None:
            errors["card_no"] = f"卡号 {out['card_no']} 已被使用"
    if errors:
        raise ValidationError(errors)
    return out


def _refuse_duplicate(s: Session, actor: Actor, mobile: str, customer_id: int | None) -> None:
    """The mobile on file already: DuplicateMobile. Asked only once everything else of the form is valid,
    right before the write: a form refused for another field says nothing about the number, so the
    duplicate check is no oracle that rebuilds a masked mobile for free (every miss saves the customer,
    audited)."""
    existing = s.scalar(select(Customer).where(Customer.mobile == mobile, Customer.id != (customer_id or 0)))
    if existing is not None:
        if scope.in_scope(actor, existing):
            raise DuplicateMobile(f"手机号已登记：{existing.name}（卡号 {existing.card_no}）", existing.id)
        raise DuplicateMobile(DUPLICATE_HIDDEN, None, hidden_id=existing.id)


def _appointment_errors(appointment_at: datetime | None, now: datetime) -> dict[str, str]:
    if appointment_at is not None and appointment_at < now - timedelta(minutes=5):
        return {"appointment_at": "预约时间不能早于现在"}
    return {}


def register_customer(clinic: Clinic, actor: Actor, *, name: str, mobile: str, gender: str = "F",
                      appointment_at: datetime | None = None, appointment_items: str = "",
                      appointment_notes: str = "", now: datetime | None = None, **fields: Any) -> int:
    """挂号: create a customer (and their appointment, if a time is given) in one transaction.

    A mobile already on file raises DuplicateMobile: book for that customer instead of a duplicate.
    """
    actor.require_page(Page.REGISTRATION)
    now = now or clock.now()
    values = dict(fields, name=name, mobile=mobile, gender=gender)
    if appointment_at is not None:
        appointment_items, appointment_notes = _appointment_texts(appointment_items, appointment_notes, "appointment_")
    try:
        with clinic.write() as s:
            try:
                clean = _clean_profile(s, actor, values, None, now.date())
            except ValidationError as e:
                e.errors.update(_appointment_errors(appointment_at, now))
                raise
            errors = _appointment_errors(appointment_at, now)
            if errors:
                raise ValidationError(errors)
            _refuse_duplicate(s, actor, clean["mobile"], None)
            clean["card_no"] = clean["card_no"] or next_card_no(s, now)
            customer = Customer(**clean, name_initials=initials(clean["name"]), mobile_last4=clean["mobile"][-4:],
                                department_id=actor.department_id, registered_by_id=actor.user_id, created_at=now)
            s.add(customer)
            s.flush()
            audit.record(s, actor, "customer.create", "customer", customer.id,
                         after={"card_no": customer.card_no, "name": customer.name,
                                "mobile": mask_mobile(customer.mobile)})
            if appointment_at is not None:
                _add_appointment(s, actor, customer, appointment_at, appointment_items, appointment_notes, now)
            return customer.id
    except DuplicateMobile as e:
        _log_hidden_duplicate(clinic, actor, e, mobile, "register")
        raise


def _appointment_texts(items: object, notes: object, prefix: str = "") -> tuple[str, str]:
    """The typed items and note of an appointment, cleaned (fields ``items`` / ``notes``, with ``prefix``)."""
    errors: dict[str, str] = {}
    items = take_text(errors, items, field=f"{prefix}items", label="意向项目", limit=200)
    notes = take_text(errors, notes, field=f"{prefix}notes", label="预约备注", limit=NOTE_MAX, multiline=True)
    if errors:
        raise ValidationError(errors)
    return items, notes


def _add_appointment(s: Session, actor: Actor, customer: Customer, at: datetime, items: str, notes: str,
                     now: datetime) -> Appointment:
    items, notes = _appointment_texts(items, notes)
    appointment = Appointment(customer_id=customer.id, appointment_at=at, items=items,
                              cs_staff_id=customer.cs_staff_id, notes=notes, created_by_id=actor.user_id,
                              created_at=now)
    s.add(appointment)
    s.flush()
    audit.record(s, actor, "appointment.create", "appointment", appointment.id,
                 after={"customer_id": customer.id, "at": at, "items": appointment.items})
    return appointment


def book_appointment(clinic: Clinic, actor: Actor, customer_id: int, *, appointment_at: datetime,
                     items: str = "", notes: str = "", now: datetime | None = None) -> int:
    """A new appointment for a customer on file (the answer to a duplicate mobile at registration)."""
    actor.require_page(Page.REGISTRATION)
    now = now or clock.now()
    errors = _appointment_errors(appointment_at, now)
    if errors:
        raise ValidationError(errors)
    with clinic.write() as s:
        customer = load_in_scope(s, actor, customer_id)
        return _add_appointment(s, actor, customer, appointment_at, items, notes, now).id


APPOINTMENT_STATUS = {"booked": "已预约", "arrived": "已到诊", "cancelled": "已取消"}
STALE_APPOINTMENT = "这条预约在您打开后已被其他电脑修改，您的修改没有保存，请刷新后再改"


@dataclass(frozen=True)
class AppointmentRow:
    id: int
    appointment_at: datetime
    items: str
    notes: str
    status: str
    status_label: str
    version: int  # hand back to change / cancel


def list_appointments(clinic: Clinic, actor: Actor, customer_id: int) -> list[AppointmentRow]:
    """A customer's appointments, newest first."""
    _require_customer_page(actor)
    with clinic.read() as s:
        load_in_scope(s, actor, customer_id)
        rows = s.scalars(select(Appointment).where(Appointment.customer_id == customer_id)
                         .order_by(Appointment.appointment_at.desc(), Appointment.id.desc()))
        return [AppointmentRow(a.id, a.appointment_at, a.items, a.notes, a.status,
                               APPOINTMENT_STATUS.get(a.status, a.status), a.version) for a in rows]


def _booked(s: Session, actor: Actor, appointment_id: int, expected_version: int | None) -> Appointment:
    appointment = s.get(Appointment, appointment_id, with_for_update=True)
    if appointment is None:
        raise NotFound("预约不存在")
    load_in_scope(s, actor, appointment.customer_id)
    if expected_version is not None and appointment.version != expected_version:
        raise ConflictError(STALE_APPOINTMENT)
    if appointment.status != "booked":
        raise ValidationError.single("appointment_at", f"该预约{APPOINTMENT_STATUS.get(appointment.status, '')}，不能再改")
    return appointment


def change_appointment(clinic: Clinic, actor: Actor, appointment_id: int, *, appointment_at: datetime,
                       items: str, notes: str, expected_version: int | None = None,
                       now: datetime | None = None) -> None:
    """改约: another time, items or note. Refused when another workstation changed it meanwhile."""
    actor.require_page(Page.REGISTRATION)
    now = now or clock.now()
    errors = _appointment_errors(appointment_at, now)
    if errors:
        raise ValidationError(errors)
    items, notes = _appointment_texts(items, notes)
    with clinic.write() as s:
        appointment = _booked(s, actor, appointment_id, expected_version)
        before = {"at": appointment.appointment_at, "items": appointment.items, "notes": appointment.notes}
        appointment.appointment_at = appointment_at
        appointment.items = items
        appointment.notes = notes
        audit.record(s, actor, "appointment.update", "appointment", appointment.id, before=before,
                     after={"at": appointment_at, "items": appointment.items, "notes": appointment.notes})


def cancel_appointment(clinic: Clinic, actor: Actor, appointment_id: int, *, reason: str,
                       expected_version: int | None = None) -> None:
    """取消预约 with a reason (kept in the note); the row stays."""
    actor.require_page(Page.REGISTRATION)
    reason = clean_text(reason, field="reason", label="取消原因", limit=200, required=True)
    with clinic.write() as s:
        appointment = _booked(s, actor, appointment_id, expected_version)
        appointment.status = "cancelled"
        appointment.notes = f"{appointment.notes}（取消：{reason}）".lstrip()
        audit.record(s, actor, "appointment.cancel", "appointment", appointment.id, before={"status": "booked"},
                     after={"status": "cancelled", "reason": reason})


@dataclass(frozen=True)
class CustomerDetail:
    id: int
    card_no: str
    name: str
    gender: str
    mobile: str
    channel_id: int | None
    info_source_id: int | None
    cs_staff_id: int | None
    developer_id: int | None
    member_level_id: int | None
    consultant: str
    referrer: str
    file_no: str
    birthday: date | None
    age: int | None
    id_card: str
    wechat: str
    qq: str
    region: str
    address: str
    occupation: str
    sms_opt_in: bool
    notes: str
    customer_class: str
    created_at: datetime
    version: int = 1  # pass back to update_customer: a save over someone else's change is refused
    # The birthday is digits 7–14 of the ID card on file: shown with the ID only (``reveal``), never
    # beside its mask. ``birthday`` is None then and ``age`` says how old the customer is today.
    birthday_hidden: bool = False


def mask_id_card(id_card: str) -> str:
    return mask_number(id_card)


def get_customer(clinic: Clinic, actor: Actor, customer_id: int, *, today: date | None = None) -> CustomerDetail:
    """The profile as shown: mobile and ID card masked (``mask_number``) for everyone — a user with the
    right reveals one with a click, logged — and, with an ID card on file, the age instead of the
    birthday, so that nothing shown together gives the ID number back."""
    _require_customer_page(actor)
    today = today or clock.now().date()
    with clinic.read() as s:
        c = load_in_scope(s, actor, customer_id)
        hidden = bool(c.id_card)
        age = age_on(c.birthday, today) if c.birthday is not None else c.age
        return CustomerDetail(
            c.id, c.card_no, c.name, c.gender, mask_mobile(c.mobile), c.channel_id,
            c.info_source_id, c.cs_staff_id, c.developer_id, c.member_level_id,
            c.consultant.name if c.consultant else "", c.referrer, c.file_no, None if hidden else c.birthday, age,
            mask_id_card(c.id_card) if c.id_card else "", c.wechat,
            c.qq, c.region, c.address, c.occupation, c.sms_opt_in, c.notes,
            CLASS_LABELS[customer_class(c.purchase_occasions)], c.created_at, c.version, hidden,
        )


REVEALABLE = {"mobile": "手机号", "id_card": "身份证号"}


def reveal(clinic: Clinic, actor: Actor, customer_id: int, field: str) -> str:
    """The full mobile or ID-card number, for a user with the right to see it; every reveal is logged."""
    if field not in REVEALABLE:
        raise ValueError(field)
    actor.require_right(Right.VIEW_PRIVATE, f"您没有查看完整{REVEALABLE[field]}的权限")
    with clinic.write() as s:
        c = load_in_scope(s, actor, customer_id)
        value = str(getattr(c, field) or "")
        audit.record(s, actor, "privacy.reveal", "customer", c.id,
                     after={"field": field, "what": REVEALABLE[field], "customer": c.name, "card_no": c.card_no})
        return value


def update_customer(clinic: Clinic, actor: Actor, customer_id: int, values: dict[str, Any],
                    *, now: datetime | None = None, expected_version: int | None = None) -> None:
    """Edit the profile with the registration rules. The masked values shown (138****8000) mean
    "unchanged". ``expected_version`` is the version the form was filled from: if another workstation
    saved in between, ConflictError and nothing is written."""
    actor.require_any_page(Page.CUSTOMERS, Page.REGISTRATION)
    now = now or clock.now()
    try:
        _update_customer(clinic, actor, customer_id, values, now, expected_version)
    except DuplicateMobile as e:
        _log_hidden_duplicate(clinic, actor, e, str(values.get("mobile") or ""), "update")
        raise


def _update_customer(clinic: Clinic, actor: Actor, customer_id: int, values: dict[str, Any], now: datetime,
                     expected_version: int | None) -> None:
    with clinic.write() as s:
        c = load_in_scope(s, actor, customer_id, lock=True)
        if expected_version is not None and c.version != expected_version:
            raise ConflictError("该顾客的资料在您打开后已被其他电脑修改，您的修改没有保存。"
                                "请关闭后重新打开，核对后再保存。")
        values = dict(values)
        masked = {"mobile": mask_mobile(c.mobile), "id_card": mask_id_card(c.id_card) if c.id_card else ""}
        for key in ("mobile", "id_card"):
            if str(values.get(key) or "").strip() == masked[key] and masked[key]:
                values[key] = getattr(c, key)
        clean = _clean_profile(s, actor, values, customer_id, now.date())
        if clean["mobile"] != c.mobile:
            _refuse_duplicate(s, actor, clean["mobile"], customer_id)
        clean["card_no"] = clean["card_no"] or c.card_no
        before = {k: getattr(c, k) for k in clean}
        for key, value in clean.items():
            setattr(c, key, value)
        c.name_initials = initials(c.name)
        c.mobile_last4 = c.mobile[-4:]
        changed = {k: v for k, v in clean.items() if before[k] != v}
        if changed:
            c.version += 1
            private = {"mobile", "id_card", "birthday"}  # the birthday is part of the ID number
            audit.record(s, actor, "customer.update", "customer", c.id,
                         before={k: ("***" if k in private else before[k]) for k in changed},
                         after={k: ("***" if k in private else v) for k, v in changed.items()})


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
