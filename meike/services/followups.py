"""Reminders 提醒: chase follow-ups 追单 and post-op follow-ups 术后回访, and the dashboard counts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from meike import clock
from meike.db import Clinic
from meike.errors import NotFound, ValidationError
from meike.models import Appointment, Customer, Reminder, ReminderTally, ReminderTallyState, User
from meike.permissions import Actor, DataScope, Page
from meike.rules.text import NOTE_MAX, clean_text, take_text
from meike.rules.validation import mask_mobile
from meike.services import audit, scope
from meike.services.customers import load_in_scope

KINDS = {"chase": "追单", "postop": "术后回访"}
FOLLOWUP_PAGES = (Page.DASHBOARD, Page.CUSTOMERS)


def _require(actor: Actor) -> None:
    actor.require_any_page(*FOLLOWUP_PAGES)


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
    note = clean_text(note, field="note", label="提醒备注", limit=NOTE_MAX, multiline=True)
    if assignee_id is not None:
        user = s.get(User, assignee_id)
        if user is None or not user.is_active or user.is_admin:
            raise ValidationError.single("assignee_id", "请选择有效的负责人")
    reminder = Reminder(customer_id=customer_id, kind=kind, due_date=due, assignee_id=assignee_id or actor.user_id,
                        note=note, consultation_id=consultation_id, treatment_id=treatment_id,
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
    """What the dashboard shows. Due = due today or earlier and still open; overdue = before today.

    The open reminders due before the tallies' date come from ``reminder_tallies`` (a few rows per
    combination of scope keys, kept by triggers), the ones due since then are counted from the index
    on (status, kind, due date, scope copies). If ``today`` is before that date (a test, a clock set
    back), the tallied ones due after ``today`` are taken off again. All of it is one statement, so
    one snapshot: a catch-up running at the same moment never makes a reminder count twice.
    """
    _require(actor)
    today = today or clock.now().date()
    scoped = actor.data_scope is not DataScope.ALL
    cutoff = func.coalesce(_tally_date().scalar_subquery(), NOTHING_TALLIED)

    def tallied(kind: str) -> Any:
        q = select(func.coalesce(func.sum(ReminderTally.n), 0)).where(ReminderTally.kind == kind)
        return (q.where(_tally_visible(actor)) if scoped else q).scalar_subquery()

    def counted(kind: str, *where: Any) -> Any:
        q = select(func.count()).select_from(Reminder).where(Reminder.status == "open", Reminder.kind == kind, *where)
        return (q.where(_visible(actor)) if scoped else q).scalar_subquery()

    def due(kind: str) -> Any:
        return (tallied(kind) + counted(kind, Reminder.due_date >= cutoff, Reminder.due_date <= today)
                - counted(kind, Reminder.due_date > today, Reminder.due_date < cutoff))

    with clinic.read() as s:
        chase, postop, chase_today, postop_today = s.execute(select(
            due("chase"), due("postop"),
            counted("chase", Reminder.due_date == today), counted("postop", Reminder.due_date == today))).one()
        start = datetime.combine(today, time())
        appointments = s.scalar(_scoped(
            select(func.count(Appointment.id)).where(
                Appointment.status == "booked", Appointment.appointment_at >= start,
                Appointment.appointment_at < start + timedelta(days=1)),
            actor, Appointment.customer_id)) or 0
        unpaid = _unpaid_count(s, actor)
    return DashboardCounts(chase, postop, chase + postop - chase_today - postop_today, appointments, unpaid)


NOTHING_TALLIED = date(1900, 1, 1)  # migration 0012's first date: no reminder is due before it
TALLY_KEYS = (("department_id", "scope_department_id"), ("registered_by_id", "scope_registered_by_id"),
              ("cs_staff_id", "scope_cs_staff_id"), ("consultant_id", "scope_consultant_id"),
              ("assignee_id", "assignee_id"))


def _tally_visible(actor: Actor) -> ColumnElement[bool]:
    """``_visible`` on the tallies' columns (which hold 0 where a reminder's key is empty)."""
    return or_(scope.tally_clause(actor), ReminderTally.assignee_id == actor.user_id)


def catch_up_tallies(clinic: Clinic, today: date | None = None) -> bool:
    """Tally the open reminders due before ``today`` that are not tallied yet, and move the tallies'
    date to ``today``. Run by the dashboard's counter before it counts: a no-op read once done for
    the day; the first run on a large clinic tallies every open overdue reminder once (about 0.3 s
    at 1M customers). Returns whether it moved the date. Only ever forwards."""
    today = today or clock.now().date()
    with clinic.read() as s:
        if _counted_before(s) >= today:
            return False
    with clinic.write() as s:
        # Locked first (PostgreSQL; an SQLite writer holds the database): a reminder written from now
        # on waits in its trigger and then sees the new date; one written before is visible below.
        since = s.scalar(_tally_date().with_for_update())
        if since is None or since >= today:
            return False
        added = _open_by_tally_key(s, since, today)
        if added:
            names = ["kind", *(key for key, _column in TALLY_KEYS)]
            insert = (sqlite_insert if s.get_bind().dialect.name == "sqlite" else pg_insert)(ReminderTally)
            upsert = insert.on_conflict_do_update(index_elements=names, set_={"n": ReminderTally.n + insert.excluded.n})
            s.execute(upsert, [{**dict(zip(names, key, strict=True)), "n": n} for key, n in added.items()])
        s.execute(delete(ReminderTally).where(ReminderTally.n == 0))
        s.execute(update(ReminderTallyState).where(ReminderTallyState.id == 1).values(counted_before=today))
    return True


def tallies_recounted(s: Session) -> dict[tuple[Any, ...], int]:
    """What ``reminder_tallies`` should hold, counted afresh from the reminders (``--check``)."""
    return _open_by_tally_key(s, NOTHING_TALLIED, _counted_before(s))


def _open_by_tally_key(s: Session, since: date, before: date) -> dict[tuple[Any, ...], int]:
    """Open reminders due in [since, before), counted per kind and tally keys."""
    keys = [func.coalesce(getattr(Reminder, column), 0) for _key, column in TALLY_KEYS]
    rows = s.execute(select(Reminder.kind, *keys, func.count())
                     .where(Reminder.status == "open", Reminder.due_date >= since, Reminder.due_date < before)
                     .group_by(Reminder.kind, *keys)).all()
    return {tuple(row[:-1]): row[-1] for row in rows}


def _tally_date() -> Select[tuple[date]]:
    """The tallies' date: reminders due before it are in ``reminder_tallies``."""
    return select(ReminderTallyState.counted_before).where(ReminderTallyState.id == 1)


def _counted_before(s: Session) -> date:
    return s.scalar(_tally_date()) or NOTHING_TALLIED


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
    assignee: Any = User.display_name  # NULL when the reminder has no assignee (the outer join)
    return (select(Reminder, Customer, assignee)
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
        if kind not in KINDS:
            raise ValidationError.single("kind", "提醒类型无效")
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
    result = take_text(errors, result, field="result", label="回访结果", limit=NOTE_MAX, multiline=True,
                       required=True)
    if next_due is not None and next_due < today:
        errors["next_due"] = "下次提醒日期不能早于今天"
    if errors:
        raise ValidationError(errors)
    with clinic.write() as s:
        reminder = _load(s, actor, reminder_id)
        if reminder.status != "open":
            raise ValidationError.single("result", "这条提醒已处理")
        reminder.status = "done"
        reminder.result = result
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


