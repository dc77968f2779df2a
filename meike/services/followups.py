"""Reminders 提醒: chase follow-ups 追单 and post-op follow-ups 术后回访, and the dashboard counts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.orm import Session

from meike import clock
from meike.db import Clinic
from meike.errors import NotFound, ValidationError
from meike.models import Appointment, Customer, Reminder, User
from meike.permissions import Actor, DataScope, Page
from meike.rules.validation import mask_mobile
from meike.services import audit, scope
from meike.services.customers import load_in_scope

KINDS = {"chase": "追单", "postop": "术后回访"}
FOLLOWUP_PAGES = (Page.DASHBOARD, Page.CUSTOMERS)


def _require(actor: Actor) -> None:
    if not any(actor.can_open(p) for p in FOLLOWUP_PAGES):
        actor.require_page(Page.DASHBOARD)


def _visible(actor: Actor) -> ColumnElement[bool]:
    """Reminders of customers in scope; with own scope, also the ones assigned to the actor.

    Read on the customer's scope keys copied onto each reminder, so the reminders are filtered by
    their own indexes before any customer is joined for display.
    """
    clause = scope.reminder_clause(actor)
    if actor.data_scope is not DataScope.ALL:
        clause = or_(clause, Reminder.assignee_id == actor.user_id)
    return clause


def add_in(s: Session, actor: Actor, *, customer_id: int, kind: str, due: date, assignee_id: int | None,
           note: str = "", consultation_id: int | None = None, treatment_id: int | None = None) -> Reminder:
    """Add a reminder inside the caller's transaction (records set theirs this way)."""
    if kind not in KINDS:
        raise ValidationError.single("kind", "提醒类型无效")
    if assignee_id is not None:
        user = s.get(User, assignee_id)
        if user is None or not user.is_active or user.is_admin:
            raise ValidationError.single("assignee_id", "请选择有效的负责人")
    reminder = Reminder(customer_id=customer_id, kind=kind, due_date=due, assignee_id=assignee_id or actor.user_id,
                        note=note.strip(), consultation_id=consultation_id, treatment_id=treatment_id,
                        created_by_id=actor.user_id, created_at=clock.now())
    s.add(reminder)
    return reminder


def add_reminder(clinic: Clinic, actor: Actor, customer_id: int, *, kind: str, due: date,
                 assignee_id: int | None = None, note: str = "", today: date | None = None) -> int:
    """Add a reminder for a customer in scope (右击 → 添加提醒). A due date in the past is refused."""
    _require(actor)
    today = today or clock.now().date()
    if due < today:
        raise ValidationError.single("due", "提醒日期不能早于今天")
    with clinic.write() as s:
        load_in_scope(s, actor, customer_id)
        reminder = add_in(s, actor, customer_id=customer_id, kind=kind, due=due, assignee_id=assignee_id, note=note)
        s.flush()
        audit.record(s, actor, "reminder.create", "reminder", reminder.id,
                     after={"kind": kind, "due": due, "assignee_id": reminder.assignee_id})
        return reminder.id


@dataclass(frozen=True)
class DashboardCounts:
    chase_due: int
    postop_due: int
    overdue: int
    appointments_today: int
    unpaid_charges: int


def dashboard_counts(clinic: Clinic, actor: Actor, *, today: date | None = None) -> DashboardCounts:
    """What the dashboard shows. Due = due today or earlier and still open; overdue = before today."""
    _require(actor)
    today = today or clock.now().date()
    with clinic.read() as s:
        # Each count is a range of an index on (status, kind, due_date) answered from the index alone:
        # a limited scope is checked on the customer's keys copied onto the reminder, never by a join.
        scoped = None if actor.data_scope is DataScope.ALL else _visible(actor)

        def count(kind: str, upto: Any) -> int:
            q = select(func.count()).select_from(Reminder).where(Reminder.status == "open", Reminder.kind == kind, upto)
            return s.scalar(q if scoped is None else q.where(scoped)) or 0

        chase = count("chase", Reminder.due_date <= today)
        postop = count("postop", Reminder.due_date <= today)
        due_today = count("chase", Reminder.due_date == today) + count("postop", Reminder.due_date == today)
        overdue = chase + postop - due_today
        start = datetime.combine(today, time())
        appointments = s.scalar(_scoped(
            select(func.count(Appointment.id)).where(
                Appointment.status == "booked", Appointment.appointment_at >= start,
                Appointment.appointment_at < start + timedelta(days=1)),
            actor, Appointment.customer_id)) or 0
        unpaid = _unpaid_count(s, actor)
    return DashboardCounts(chase, postop, overdue, appointments, unpaid)


def _unpaid_count(s: Session, actor: Actor) -> int:
    from meike.models import Order

    return s.scalar(_scoped(select(func.count(Order.id)).where(Order.status == "new"), actor, Order.customer_id)) or 0


def _scoped(stmt: Select[Any], actor: Actor, customer_fk: Any) -> Select[Any]:
    """Limit a count to the actor's customers; with scope "all" no join is needed at all."""
    if actor.data_scope is DataScope.ALL:
        return stmt
    return stmt.join(Customer, Customer.id == customer_fk).where(scope.customer_clause(actor))


@dataclass(frozen=True)
class ReminderRow:
    id: int
    customer_id: int
    customer_name: str
    mobile: str
    kind: str
    kind_label: str
    due_date: date
    assignee: str
    note: str
    status: str
    result: str


def _rows_query(actor: Actor) -> Select[tuple[Reminder, Customer, str | None]]:
    return (select(Reminder, Customer, User.display_name)
            .join(Customer, Customer.id == Reminder.customer_id)
            .outerjoin(User, User.id == Reminder.assignee_id)
            .where(_visible(actor)))


def _row(r: Reminder, c: Customer, assignee: str | None, actor: Actor) -> ReminderRow:

    mobile = mask_mobile(c.mobile)  # full numbers only by a logged reveal
    return ReminderRow(r.id, c.id, c.name, mobile, r.kind, KINDS[r.kind], r.due_date, assignee or "", r.note,
                       r.status, r.result)


def list_due(clinic: Clinic, actor: Actor, *, kind: str | None = None, overdue_only: bool = False,
             today: date | None = None, limit: int = 500) -> list[ReminderRow]:
    """Open reminders due today or earlier (the list behind a dashboard count), oldest first."""
    _require(actor)
    today = today or clock.now().date()
    q = _rows_query(actor).where(Reminder.status == "open",
                                 Reminder.due_date < today if overdue_only else Reminder.due_date <= today)
    if kind:
        q = q.where(Reminder.kind == kind)
    with clinic.read() as s:
        return [_row(r, c, a, actor) for r, c, a in s.execute(q.order_by(Reminder.due_date, Reminder.id).limit(limit))]


def list_for_customer(clinic: Clinic, actor: Actor, customer_id: int) -> list[ReminderRow]:
    _require(actor)
    with clinic.read() as s:
        load_in_scope(s, actor, customer_id)
        q = _rows_query(actor).where(Reminder.customer_id == customer_id).order_by(Reminder.due_date.desc())
        return [_row(r, c, a, actor) for r, c, a in s.execute(q)]


def _load(s: Session, actor: Actor, reminder_id: int) -> Reminder:
    reminder = s.scalar(select(Reminder).join(Customer, Customer.id == Reminder.customer_id)
                        .where(Reminder.id == reminder_id, _visible(actor)))
    if reminder is None:
        raise NotFound("提醒不存在或不在您的查看范围内")
    return reminder


def complete(clinic: Clinic, actor: Actor, reminder_id: int, *, result: str,
             next_due: date | None = None, today: date | None = None) -> int | None:
    """Mark done with what came of the call; optionally add the next reminder of the same kind.

    Returns the id of the next reminder, if one was asked for.
    """
    _require(actor)
    today = today or clock.now().date()
    errors: dict[str, str] = {}
    if not result.strip():
        errors["result"] = "请填写回访结果"
    if next_due is not None and next_due < today:
        errors["next_due"] = "下次提醒日期不能早于今天"
    if errors:
        raise ValidationError(errors)
    with clinic.write() as s:
        reminder = _load(s, actor, reminder_id)
        if reminder.status != "open":
            raise ValidationError.single("result", "这条提醒已处理")
        reminder.status = "done"
        reminder.result = result.strip()
        reminder.done_at = clock.now()
        reminder.done_by_id = actor.user_id
        audit.record(s, actor, "reminder.done", "reminder", reminder.id, after={"result": reminder.result})
        if next_due is None:
            return None
        assignee = s.get(User, reminder.assignee_id) if reminder.assignee_id is not None else None
        keep = assignee is not None and assignee.is_active and not assignee.is_admin
        nxt = add_in(s, actor, customer_id=reminder.customer_id, kind=reminder.kind, due=next_due,
                     assignee_id=reminder.assignee_id if keep else None, note=reminder.note)
        s.flush()
        audit.record(s, actor, "reminder.create", "reminder", nxt.id,
                     after={"kind": nxt.kind, "due": next_due, "assignee_id": nxt.assignee_id, "after": reminder.id})
        return nxt.id


def postpone(clinic: Clinic, actor: Actor, reminder_id: int, *, due: date, today: date | None = None) -> None:
    _require(actor)
    today = today or clock.now().date()
    if due < today:
        raise ValidationError.single("due", "推迟后的日期不能早于今天")
    with clinic.write() as s:
        reminder = _load(s, actor, reminder_id)
        if reminder.status != "open":
            raise ValidationError.single("due", "这条提醒已处理")
        audit.record(s, actor, "reminder.postpone", "reminder", reminder.id,
                     before={"due": reminder.due_date}, after={"due": due})
        reminder.due_date = due


def assignees(clinic: Clinic, actor: Actor) -> list[tuple[int, str]]:
    """Accounts a reminder can be given to (active, not the administrator)."""
    _require(actor)
    with clinic.read() as s:
        q = select(User.id, User.display_name, User.username).where(
            User.is_active.is_(True), User.is_admin.is_(False)).order_by(User.username)
        return [(i, d or u) for i, d, u in s.execute(q)]


