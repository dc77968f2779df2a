"""The dashboard's due counts read tallies of the older open reminders (migration 0012).

Triggers keep ``reminder_tallies`` equal to the reminders; ``catch_up_tallies`` moves their date. Each
test checks the counts against the same counts made the plain way: every reminder with its customer,
filtered in Python by the data-scope rules (``scope.in_scope``) and the assignee.
"""

from __future__ import annotations

import random
import threading
from datetime import date, timedelta

from sqlalchemy import delete, select, text

from meike import check
from meike.db import Clinic
from meike.models import Customer, Reminder, ReminderTally, ReminderTallyState, Staff, User
from meike.permissions import Actor, DataScope, Page
from meike.scheduler import ReminderCounter
from meike.services import accounts, customers, followups, scope
from tests.conftest import make_user

DAY = date(2026, 6, 15)  # the clinic's "today" in these tests; counts are asked for around it


def _login(clinic: Clinic, username: str) -> Actor:
    return accounts.authenticate(clinic, username, "123")


def _plain(clinic: Clinic, actor: Actor, today: date) -> tuple[int, int, int]:
    """(chase due, post-op due, overdue) counted one reminder at a time."""
    everyone = actor.data_scope is DataScope.ALL
    with clinic.read() as s:
        rows = s.execute(select(Reminder, Customer).join(Customer, Customer.id == Reminder.customer_id)).all()
        due = [r for r, c in rows if r.status == "open" and r.due_date <= today
               and (everyone or scope.in_scope(actor, c) or r.assignee_id == actor.user_id)]
        return (sum(r.kind == "chase" for r in due), sum(r.kind == "postop" for r in due),
                sum(r.due_date < today for r in due))


def _counts(clinic: Clinic, actor: Actor, today: date) -> tuple[int, int, int]:
    c = followups.dashboard_counts(clinic, actor, today=today)
    return c.chase_due, c.postop_due, c.overdue


def _tallies(clinic: Clinic) -> dict[tuple[object, ...], int]:
    with clinic.read() as s:
        return {(t.kind, t.department_id, t.registered_by_id, t.cs_staff_id, t.consultant_id, t.assignee_id): t.n
                for t in s.scalars(select(ReminderTally)) if t.n != 0}


def _recounted(clinic: Clinic) -> dict[tuple[object, ...], int]:
    with clinic.read() as s:
        return followups.tallies_recounted(s)


def _counted_before(clinic: Clinic) -> date:
    with clinic.read() as s:
        return s.scalar(select(ReminderTallyState.counted_before))


def _add(clinic: Clinic, actor: Actor, customer_id: int, kind: str, due: date, assignee_id: int) -> int:
    with clinic.write() as s:
        reminder = followups.add_in(s, actor, customer_id=customer_id, kind=kind, due=due, assignee_id=assignee_id)
        s.flush()
        return reminder.id


def _actors(clinic: Clinic, admin: Actor) -> list[Actor]:
    with clinic.read() as s:
        consultant = s.scalar(select(Staff.id).where(Staff.name == "李静"))
    mine = make_user(clinic, admin, "lijing", pages=[Page.DASHBOARD, Page.CUSTOMERS], scope=DataScope.OWN,
                     staff_id=consultant)
    return [_login(clinic, "gl"), _login(clinic, "wl"), _login(clinic, "kf"), mine]


def test_counts_stay_right_through_every_kind_of_change(demo_clinic: Clinic, admin: Actor) -> None:
    """A random day's worth of changes, with the tallies' date moving forward in between: after each,
    every actor's counts for three different days equal the plain count, and the tallies equal a
    fresh recount."""
    actors = _actors(demo_clinic, admin)
    gl = actors[0]
    rng = random.Random(20261123)
    with demo_clinic.read() as s:
        cids = list(s.scalars(select(Customer.id)))
        users = list(s.scalars(select(User.id).where(User.is_admin.is_(False))))
        departments = sorted({d for d in s.scalars(select(Customer.department_id)) if d is not None})
        staff = list(s.scalars(select(Staff.id)))
    rids = [_add(demo_clinic, gl, rng.choice(cids), rng.choice(("chase", "postop")),
                 DAY + timedelta(days=rng.randint(-60, 10)), rng.choice(users)) for _ in range(40)]
    assert followups.catch_up_tallies(demo_clinic, DAY - timedelta(days=20))
    assert _tallies(demo_clinic), "reminders due before the date are tallied"
    moves = ["add", "done", "reopen", "postpone", "reassign", "kind", "customer", "delete", "catch_up"]
    seen: set[str] = set()
    for step in range(70):
        move = moves[step % len(moves)] if step < len(moves) else rng.choice(moves)
        seen.add(move)
        rid = rng.choice(rids)
        if move == "add":
            rids.append(_add(demo_clinic, gl, rng.choice(cids), rng.choice(("chase", "postop")),
                             DAY + timedelta(days=rng.randint(-60, 10)), rng.choice(users)))
        elif move == "catch_up":
            followups.catch_up_tallies(demo_clinic, _counted_before(demo_clinic) + timedelta(days=rng.randint(1, 9)))
        elif move == "customer":  # the registration desk moves a customer: the reminders' copies follow
            with demo_clinic.write() as s:
                c = s.get(Customer, s.get(Reminder, rid).customer_id)
                c.department_id = rng.choice(departments)
                c.cs_staff_id = rng.choice(staff)
                c.consultant_id = rng.choice([None, *staff])
        elif move == "delete":
            with demo_clinic.write() as s:
                s.execute(delete(Reminder).where(Reminder.id == rid))
            rids.remove(rid)
        else:
            with demo_clinic.write() as s:
                r = s.get(Reminder, rid)
                if move == "done":
                    r.status = "done"
                elif move == "reopen":
                    r.status = "open"
                elif move == "postpone":
                    r.due_date = r.due_date + timedelta(days=rng.randint(-15, 15))
                elif move == "reassign":
                    r.assignee_id = rng.choice([None, *users])
                elif move == "kind":
                    r.kind = "postop" if r.kind == "chase" else "chase"
        assert _tallies(demo_clinic) == _recounted(demo_clinic), f"step {step}: {move}"
        for actor in actors:
            for day in (DAY - timedelta(days=30), DAY, DAY + timedelta(days=4)):
                assert _counts(demo_clinic, actor, day) == _plain(demo_clinic, actor, day), (step, move, actor.username, day)
    assert seen == set(moves)
    assert _counted_before(demo_clinic) > DAY - timedelta(days=20)
    assert check.run_check(demo_clinic).ok


def test_services_keep_the_tallies(demo_clinic: Clinic) -> None:
    """Through the program's own calls: an overdue reminder done, one postponed, one added."""
    gl = _login(demo_clinic, "gl")
    cid = customers.search_customers(demo_clinic, gl, limit=1)[0].id
    old = _add(demo_clinic, gl, cid, "chase", DAY - timedelta(days=10), gl.user_id)
    late = _add(demo_clinic, gl, cid, "postop", DAY - timedelta(days=5), gl.user_id)
    followups.catch_up_tallies(demo_clinic, DAY)
    before = _counts(demo_clinic, gl, DAY)
    followups.complete(demo_clinic, gl, old, result="已到店复诊", today=DAY)
    followups.postpone(demo_clinic, gl, late, due=DAY + timedelta(days=3), today=DAY)
    followups.add_reminder(demo_clinic, gl, cid, kind="chase", due=DAY, today=DAY)
    assert _counts(demo_clinic, gl, DAY) == (before[0], before[1] - 1, before[2] - 2) == _plain(demo_clinic, gl, DAY)
    assert _tallies(demo_clinic) == _recounted(demo_clinic)


def test_catching_up_moves_forward_only_and_once(demo_clinic: Clinic) -> None:
    gl = _login(demo_clinic, "gl")
    cid = customers.search_customers(demo_clinic, gl, limit=1)[0].id
    for days in (3, 2, 1):
        _add(demo_clinic, gl, cid, "chase", DAY - timedelta(days=days), gl.user_id)
    assert _counted_before(demo_clinic) == followups.NOTHING_TALLIED  # a new database: nothing tallied yet
    counts = _counts(demo_clinic, gl, DAY)
    assert followups.catch_up_tallies(demo_clinic, DAY) is True
    assert followups.catch_up_tallies(demo_clinic, DAY) is False  # already done today
    assert followups.catch_up_tallies(demo_clinic, DAY - timedelta(days=2)) is False  # never backwards
    assert _counted_before(demo_clinic) == DAY
    assert sum(_tallies(demo_clinic).values()) == sum(_recounted(demo_clinic).values()) >= 3
    assert _counts(demo_clinic, gl, DAY) == counts
    # Days before the tallies' date: the tallied reminders due after that day are taken off again.
    assert _counts(demo_clinic, gl, DAY - timedelta(days=2)) == _plain(demo_clinic, gl, DAY - timedelta(days=2))


def test_empty_tallies_are_removed_when_catching_up(demo_clinic: Clinic) -> None:
    gl = _login(demo_clinic, "gl")
    cid = customers.search_customers(demo_clinic, gl, limit=1)[0].id
    rid = _add(demo_clinic, gl, cid, "chase", DAY - timedelta(days=3), gl.user_id)
    followups.catch_up_tallies(demo_clinic, DAY - timedelta(days=1))
    followups.complete(demo_clinic, gl, rid, result="不需要了", today=DAY)
    with demo_clinic.read() as s:
        assert s.scalar(select(ReminderTally.n).where(ReminderTally.n == 0)) == 0  # left at zero by the trigger
    followups.catch_up_tallies(demo_clinic, DAY)
    with demo_clinic.read() as s:
        assert s.scalar(select(ReminderTally.n).where(ReminderTally.n == 0)) is None


def test_the_dashboard_counter_catches_up_before_counting(demo_clinic: Clinic) -> None:
    gl = _login(demo_clinic, "gl")
    counter = ReminderCounter(demo_clinic, gl, today=lambda: DAY)
    counts = counter.run_once()
    assert _counted_before(demo_clinic) == DAY
    assert counts is not None and (counts.chase_due, counts.postop_due, counts.overdue) == _plain(demo_clinic, gl, DAY)


def test_check_reports_a_tally_changed_behind_the_programs_back(demo_clinic: Clinic) -> None:
    gl = _login(demo_clinic, "gl")
    _add(demo_clinic, gl, customers.search_customers(demo_clinic, gl, limit=1)[0].id, "postop",
         DAY - timedelta(days=4), gl.user_id)
    followups.catch_up_tallies(demo_clinic, DAY)
    assert check.run_check(demo_clinic).ok
    with demo_clinic.engine.begin() as conn:
        conn.execute(text("UPDATE reminder_tallies SET n = n + 2 WHERE kind = 'postop'"))
    report = check.run_check(demo_clinic)
    assert "reminder_tally" in report.codes()
    assert f"【{check.TITLES['reminder_tally']}】" in report.render()


def test_reminders_written_while_catching_up_are_counted_once(demo_clinic: Clinic) -> None:
    """Several writers add overdue reminders while the date moves forward day by day (on PostgreSQL,
    really at the same time): afterwards the tallies equal a recount."""
    gl = _login(demo_clinic, "gl")
    cids = [r.id for r in customers.search_customers(demo_clinic, gl, limit=8)]
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(15):
                _add(demo_clinic, gl, cids[(n + i) % len(cids)], "chase", DAY - timedelta(days=i % 12), gl.user_id)
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    def mover() -> None:
        try:
            for days in range(12, -1, -1):
                followups.catch_up_tallies(demo_clinic, DAY - timedelta(days=days))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(3)] + [threading.Thread(target=mover)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert _counted_before(demo_clinic) == DAY
    assert _tallies(demo_clinic) == _recounted(demo_clinic)
    assert _counts(demo_clinic, gl, DAY) == _plain(demo_clinic, gl, DAY)
