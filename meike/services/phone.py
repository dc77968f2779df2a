"""Phone desk 电话管理: the caller's card for the pop-up, and the call records with their notes."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, desc, func, or_, select
from sqlalchemy.orm import Session, aliased

from meike import clock
from meike.db import Clinic
from meike.errors import NotFound, ValidationError
from meike.models import (
    AccountEntry,
    CallRecord,
    Consultation,
    Customer,
    Reminder,
    Staff,
    Treatment,
    User,
    Visit,
)
from meike.models.ledger import ACCOUNT_LABELS
from meike.permissions import Actor, Page, Right
from meike.rules.customer_class import CLASS_LABELS, VISIT_TYPE_LABELS, VisitType, customer_class
from meike.rules.text import clean_text, unsafe_char
from meike.rules.validation import MOBILE_RE, mask_number, nfkc
from meike.services import audit, customers, scope
from meike.services.followups import KINDS as REMINDER_KINDS

log = logging.getLogger(__name__)

DIRECTIONS = {"in": "来电", "out": "去电"}
VISITS, CONSULTATIONS, TREATMENTS, REMINDERS = 5, 3, 3, 5
NOTE_LIMIT = 2000
MAX_NUMBER = 24  # call_records.number, sms_messages.number


def normalise_number(raw: str) -> str:
    """The number as stored and matched: digits only, no +86 / 0086 / 86, no trunk 0 before a mobile.

    ``+86 138 0013 8000``, ``008613800138000`` and ``013800138000`` (boxes that dial out with a
    leading 0) all become ``13800138000``; a landline keeps its area code (``02167891234``). Typed
    full-width digits count (NFKC); digits of other scripts do not.
    """
    raw = nfkc(raw or "")
    digits = re.sub(r"[^0-9]", "", raw)
    if raw.strip().startswith("+86") or digits.startswith("0086"):
        digits = digits[2:] if raw.strip().startswith("+86") else digits[4:]
    elif len(digits) == 13 and digits.startswith("86") and MOBILE_RE.match(digits[2:]):
        digits = digits[2:]
    if len(digits) == 12 and digits.startswith("0") and MOBILE_RE.match(digits[1:]):
        digits = digits[1:]
    return digits


def device_number(raw: str) -> str:
    """A number as a caller-ID box reported it, fit to store: ``normalise_number``, cut to the
    column's 24 digits when a box sends more (noise on the line, a misread). The call is still
    recorded; the log says it happened, without the number."""
    number = normalise_number(raw)
    if len(number) > MAX_NUMBER:
        log.warning("caller number of %d digits cut to %d", len(number), MAX_NUMBER)
        number = number[:MAX_NUMBER]
    return number


def _show_number(actor: Actor, number: str) -> str:
    return mask_number(number)  # full numbers only by a logged reveal (customers.reveal, reveal_call_number)


# --- the caller's card ------------------------------------------------------------------------------


@dataclass(frozen=True)
class HistoryLine:
    when: date | datetime
    text: str


@dataclass(frozen=True)
class CallerCard:
    """What the pop-up shows about a known caller. Money in fen; balances keyed by account label."""

    customer_id: int
    card_no: str
    name: str
    gender: str
    mobile: str  # masked (mask_number): the full number only by a logged reveal
    customer_class: str
    consultant: str
    visits: list[HistoryLine] = field(default_factory=list)
    consultations: list[HistoryLine] = field(default_factory=list)
    treatments: list[HistoryLine] = field(default_factory=list)
    open_reminders: int = 0
    reminders: list[HistoryLine] = field(default_factory=list)
    balances: dict[str, int] = field(default_factory=dict)


def _find_customer(s: Session, number: str, clause: ColumnElement[bool] | None = None) -> Customer | None:
    """The customer with this mobile (the newest if several); only mobiles are matched."""
    if not MOBILE_RE.match(number):
        return None
    q = select(Customer).where(Customer.mobile == number)
    if clause is not None:
        q = q.where(clause)
    return s.scalar(q.order_by(Customer.id.desc()).limit(1))


def caller_card(clinic: Clinic, actor: Actor, number: str) -> CallerCard | None:
    """The card of the customer with this mobile, or None (unknown, withheld, or outside the scope).

    For a user who may not see numbers, a number that finds nobody is a number probe like one in the
    search box (``customers.guard_number``): typing guesses here rebuilds a masked mobile no faster
    than there (ValidationError beyond the budget, logged)."""
    actor.require_page(Page.PHONE)
    number = normalise_number(number)
    customers.guard_number(clinic, actor, number)
    with clinic.read() as s:
        c = _find_customer(s, number, scope.customer_clause(actor))
        card = None if c is None else card_in(s, actor, c)
    if card is None:
        customers.number_missed(clinic, actor, number)
    return card


def card_in(s: Session, actor: Actor, c: Customer) -> CallerCard:
    """Build the card in an open session: one indexed query per section, each limited."""
    consultant_staff = aliased(Staff)
    consultant = s.scalar(select(consultant_staff.name).where(consultant_staff.id == c.consultant_id)) \
        if c.consultant_id else None
    visits = [
        HistoryLine(v.arrived_at, "　".join(x for x in (
            VISIT_TYPE_LABELS[VisitType(v.visit_type)], staff or "", "成交" if v.is_deal else "未成交") if x))
        for v, staff in s.execute(
            select(Visit, Staff.name).outerjoin(Staff, Staff.id == Visit.consultant_id)
            .where(Visit.customer_id == c.id, Visit.status == "active")
            .order_by(Visit.arrived_at.desc(), Visit.id.desc()).limit(VISITS))
    ]
    consultations = [
        HistoryLine(k.created_at, "　".join(x for x in (k.items, _short(k.content), staff or "") if x))
        for k, staff in s.execute(
            select(Consultation, Staff.name).outerjoin(Staff, Staff.id == Consultation.consultant_id)
            .where(Consultation.customer_id == c.id, Consultation.status == "active")
            .order_by(Consultation.created_at.desc(), Consultation.id.desc()).limit(CONSULTATIONS))
    ]
    treatments = [
        HistoryLine(t.performed_on, "　".join(x for x in (
            t.item_name + (f" ×{t.quantity}" if t.quantity != 1 else ""), staff or "") if x))
        for t, staff in s.execute(
            select(Treatment, Staff.name).outerjoin(Staff, Staff.id == Treatment.doctor_id)
            .where(Treatment.customer_id == c.id, Treatment.status == "active")
            .order_by(Treatment.performed_on.desc(), Treatment.id.desc()).limit(TREATMENTS))
    ]
    open_q = select(Reminder).where(Reminder.customer_id == c.id, Reminder.status == "open")
    open_count = s.scalar(select(func.count()).select_from(open_q.subquery())) or 0
    reminders = [HistoryLine(r.due_date, "　".join(x for x in (REMINDER_KINDS.get(r.kind, r.kind), _short(r.note)) if x))
                 for r in s.scalars(open_q.order_by(Reminder.due_date, Reminder.id).limit(REMINDERS))]
    rows = s.execute(select(AccountEntry.account, func.sum(AccountEntry.amount_fen))
                     .where(AccountEntry.customer_id == c.id).group_by(AccountEntry.account)).all()
    sums: dict[str, int | None] = {account: total for account, total in rows}
    balances = {label: int(sums.get(code) or 0) for code, label in ACCOUNT_LABELS.items() if sums.get(code)}
    return CallerCard(
        c.id, c.card_no, c.name, {"F": "女", "M": "男"}.get(c.gender, ""), _show_number(actor, c.mobile),
        CLASS_LABELS[customer_class(c.purchase_occasions)], consultant or "", visits, consultations, treatments,
        open_count, reminders, balances,
    )


def _short(text: str, limit: int = 40) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- call records -------------------------------------------------------------------------------------


def record_call(clinic: Clinic, actor: Actor, number: str, *, started_at: datetime | None = None,
                direction: str = "in", customer_id: int | None = None) -> int:
    """Write the call record of a call taken (or made) by the actor; returns its id.

    The customer is matched by mobile over the whole clinic (a fact about the number); who may see
    the record is decided when listing. A ``customer_id`` given by the caller must be in scope.
    """
    actor.require_page(Page.PHONE)
    if direction not in DIRECTIONS:
        raise ValidationError.single("direction", "通话方向无效")
    number = device_number(number)
    with clinic.write() as s:
        if customer_id is not None:
            customer = s.get(Customer, customer_id)
            if customer is None or not scope.in_scope(actor, customer):
                raise NotFound("顾客不存在或不在您的查看范围内")
        else:
            found = _find_customer(s, number)
            customer_id = found.id if found is not None else None
        record = CallRecord(number=number, direction=direction, started_at=started_at or clock.now(),
                            customer_id=customer_id, user_id=actor.user_id)
        s.add(record)
        s.flush()
        return record.id


def reveal_call_number(clinic: Clinic, actor: Actor, call_id: int) -> str:
    """The full number of a call, for a user with the right to see numbers; the reveal is logged (the
    pop-up's 显示 for a caller who is not a customer in the actor's scope)."""
    actor.require_page(Page.PHONE)
    actor.require_right(Right.VIEW_PRIVATE, "您没有查看完整号码的权限")
    with clinic.write() as s:
        record = _load(s, actor, call_id)
        audit.record(s, actor, "privacy.reveal", "call_record", record.id,
                     after={"field": "number", "what": "来电号码", "customer_id": record.customer_id})
        return record.number


def _visible(actor: Actor) -> ColumnElement[bool]:
    """Calls of customers in scope, calls of unknown numbers, and the calls the actor took."""
    return or_(CallRecord.customer_id.is_(None), CallRecord.user_id == actor.user_id,
               CallRecord.customer_id.in_(select(Customer.id).where(scope.customer_clause(actor))))


def _load(s: Session, actor: Actor, call_id: int) -> CallRecord:
    record = s.scalar(select(CallRecord).where(CallRecord.id == call_id, _visible(actor)))
    if record is None:
        raise NotFound("通话记录不存在或不在您的查看范围内")
    return record


# How far before the call's start a device's stamp may fall and still be this call's: the call starts
# at this PC's first-ring stamp, taken on the GUI thread, while the box's events are stamped on its
# own thread (or by its own clock), so "picked up" can read a moment before "rang".
DEVICE_CLOCK_SKEW = timedelta(seconds=30)


def _after_start(record: CallRecord, at: datetime | None, field: str, message: str) -> datetime:
    """``at`` (now when not given); a time slightly before the call started is the start (logged), one
    further back is refused."""
    at = at or clock.now()
    if at < record.started_at:
        if record.started_at - at > DEVICE_CLOCK_SKEW:
            raise ValidationError.single(field, message)
        log.info("call %s: %s %s is before the call's start %s; taken as the start",
                 record.id, field, at.isoformat(), record.started_at.isoformat())
        at = record.started_at
    return at


def answer_call(clinic: Clinic, actor: Actor, call_id: int, *, answered_at: datetime | None = None) -> None:
    """The call was picked up (the line reported off-hook)."""
    actor.require_page(Page.PHONE)
    with clinic.write() as s:
        record = _load(s, actor, call_id)
        record.answered_at = _after_start(record, answered_at, "answered_at", "接听时间不能早于来电时间")
        record.missed = False


def finish_call(clinic: Clinic, actor: Actor, call_id: int, *, ended_at: datetime | None = None,
                missed: bool = False) -> None:
    """The call ended; ``missed``: it rang out unanswered (only when the line can tell)."""
    actor.require_page(Page.PHONE)
    with clinic.write() as s:
        record = _load(s, actor, call_id)
        record.ended_at = _after_start(record, ended_at, "ended_at", "结束时间不能早于开始时间")
        record.missed = missed and record.answered_at is None


def attach_recording(clinic: Clinic, actor: Actor, call_id: int, path: str) -> None:
    """The call's recording file (made by the box or by this PC's line-in)."""
    actor.require_page(Page.PHONE)
    path = path.strip()
    if not path or len(path) > 260 or unsafe_char(path) is not None:
        raise ValidationError.single("recording_path", "录音文件路径无效")
    with clinic.write() as s:
        _load(s, actor, call_id).recording_path = path


def set_note(clinic: Clinic, actor: Actor, call_id: int, note: str) -> None:
    actor.require_page(Page.PHONE)
    note = clean_text(note, field="note", label="备注", limit=NOTE_LIMIT, multiline=True)
    with clinic.write() as s:
        _load(s, actor, call_id).note = note


@dataclass(frozen=True)
class CallRow:
    id: int
    started_at: datetime
    ended_at: datetime | None
    direction: str
    number: str  # masked (mask_number): the full number only by a logged reveal
    customer_id: int | None
    customer_name: str
    user_name: str
    note: str
    recording_path: str
    answered_at: datetime | None = None
    missed: bool = False

    @property
    def outcome(self) -> str:
        """未接 (rang out), 已接 (picked up), or '' when the line cannot tell."""
        if self.missed:
            return "未接"
        return "已接" if self.answered_at is not None else ""

    @property
    def duration_s(self) -> int | None:
        return None if self.ended_at is None else int((self.ended_at - self.started_at).total_seconds())


def _list_query(actor: Actor, customer_id: int | None) -> Any:
    q = select(CallRecord).where(_visible(actor))
    if customer_id is not None:
        q = q.where(CallRecord.customer_id == customer_id)
    return q


def count_calls(clinic: Clinic, actor: Actor, *, customer_id: int | None = None) -> int:
    actor.require_page(Page.PHONE)
    with clinic.read() as s:
        return s.scalar(select(func.count()).select_from(_list_query(actor, customer_id).subquery())) or 0


def list_calls(clinic: Clinic, actor: Actor, *, offset: int = 0, limit: int = 200,
               customer_id: int | None = None) -> list[CallRow]:
    """One page of call records, newest first, in the actor's scope."""
    actor.require_page(Page.PHONE)
    page = _list_query(actor, customer_id).order_by(desc(CallRecord.started_at), desc(CallRecord.id))
    page = page.offset(offset).limit(limit).subquery()
    record = aliased(CallRecord, page)
    q = (select(record, Customer, User.display_name, User.username)
         .outerjoin(Customer, Customer.id == record.customer_id)
         .join(User, User.id == record.user_id)
         .order_by(desc(record.started_at), desc(record.id)))
    with clinic.read() as s:
        rows = []
        for r, c, display, username in s.execute(q):
            known = c is not None and scope.in_scope(actor, c)
            rows.append(CallRow(r.id, r.started_at, r.ended_at, r.direction, _show_number(actor, r.number),
                                c.id if known else None, c.name if known else "", display or username, r.note,
                                r.recording_path, r.answered_at, r.missed))
        return rows


def format_duration(seconds: int | None) -> str:
    if seconds is None:
        return ""
    minutes, secs = divmod(max(0, seconds), 60)
    return f"{minutes}:{secs:02d}"
