"""What a customer list asks for (``CustomerQuery``, its tabs, the rows) and how typed search text is read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, or_
from sqlalchemy.orm import aliased

from meike.db.prefix import prefix_clause, upper_bound
from meike.errors import PermissionDenied
from meike.models import Customer, Staff
from meike.permissions import Actor, Page, Right
from meike.rules.pinyin import is_pinyin_query
from meike.rules.text import search_text
from meike.rules.validation import (
    nfkc,
    normalise_mobile,
)

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
    """The query conditions of the customer grid. Dates filter the tab's own date (see ``tab_query``)."""

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
