"""Reminders carry their customer's scope keys (migration 0010): kept in step by the database's
triggers at every write, read by the scoped dashboard counts and lists, verified by --check."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, text

from meike import check, clock
from meike.db import Clinic
from meike.models import Customer, Reminder, Staff
from meike.permissions import Actor, DataScope, Page
from meike.services import accounts, customers, followups, triage
from tests.conftest import make_user

TODAY = clock.now().date()
KEYS = ("department_id", "registered_by_id", "cs_staff_id", "consultant_id")


def _login(clinic: Clinic, username: str) -> Actor:
    return accounts.authenticate(clinic, username, "123")


def _mismatches(clinic: Clinic) -> int:
    with clinic.read() as s:
        rows = s.execute(select(Reminder, Customer).join(Customer, Customer.id == Reminder.customer_id)).all()
        return sum(1 for r, c in rows for key in KEYS if getattr(r, f"scope_{key}") != getattr(c, key))


def _profile(clinic: Clinic, actor: Actor, cid: int) -> dict[str, object]:
    detail = customers.get_customer(clinic, actor, cid)
    return {k: getattr(detail, k) for k in customers.PROFILE_FIELDS if hasattr(detail, k)}


def _staff_id(clinic: Clinic, name: str) -> int:
    with clinic.read() as s:
        return s.scalar(select(Staff.id).where(Staff.name == name))


def _outside(clinic: Clinic, gl: Actor, other: Actor) -> int:
    visible = {r.id for r in customers.search_customers(clinic, other, limit=10_000)}
    return min({r.id for r in customers.search_customers(clinic, gl, limit=10_000)} - visible)


def test_every_new_reminder_carries_its_customers_keys(demo_clinic: Clinic) -> None:
    gl = _login(demo_clinic, "gl")
    for cid in [r.id for r in customers.search_customers(demo_clinic, gl, limit=12)]:
        followups.add_reminder(demo_clinic, gl, cid, kind="chase", due=TODAY)
    with demo_clinic.read() as s:
        copies = s.execute(select(Reminder.scope_department_id, Reminder.scope_registered_by_id)).all()
    assert len(copies) >= 12 and all(dept is not None and reg is not None for dept, reg in copies)
    assert _mismatches(demo_clinic) == 0
    assert check.run_check(demo_clinic).ok


def test_a_new_customer_service_brings_the_reminder_into_her_counts(demo_clinic: Clinic) -> None:
    gl, kf = _login(demo_clinic, "gl"), _login(demo_clinic, "kf")  # kf: own customers, staff 孙丽
    cid = _outside(demo_clinic, gl, kf)
    rid = followups.add_reminder(demo_clinic, gl, cid, kind="chase", due=TODAY, assignee_id=gl.user_id)
    before = followups.dashboard_counts(demo_clinic, kf)
    assert rid not in {r.id for r in followups.list_due(demo_clinic, kf)}

    customers.update_customer(demo_clinic, gl, cid, dict(_profile(demo_clinic, gl, cid),
                                                         cs_staff_id=_staff_id(demo_clinic, "孙丽")))
    after = followups.dashboard_counts(demo_clinic, kf)
    assert after.chase_due == before.chase_due + 1
    assert rid in {r.id for r in followups.list_due(demo_clinic, kf)}
    assert _mismatches(demo_clinic) == 0

    customers.update_customer(demo_clinic, gl, cid, dict(_profile(demo_clinic, gl, cid),
                                                         cs_staff_id=_staff_id(demo_clinic, "周婷")))
    assert followups.dashboard_counts(demo_clinic, kf).chase_due == before.chase_due
    assert rid not in {r.id for r in followups.list_due(demo_clinic, kf)}


def test_triage_to_a_consultant_brings_earlier_reminders_into_his_counts(demo_clinic: Clinic, admin: Actor) -> None:
    gl = _login(demo_clinic, "gl")
    consultant = _staff_id(demo_clinic, "李静")
    mine = make_user(demo_clinic, admin, "lijing", pages=[Page.DASHBOARD, Page.CUSTOMERS], scope=DataScope.OWN,
                     staff_id=consultant)
    cid = _outside(demo_clinic, gl, mine)
    followups.add_reminder(demo_clinic, gl, cid, kind="postop", due=TODAY, assignee_id=gl.user_id)
    yesterday = followups.add_reminder(demo_clinic, gl, cid, kind="chase", due=TODAY, assignee_id=gl.user_id)
    with demo_clinic.write() as s:  # an older one, already overdue
        s.get(Reminder, yesterday).due_date = TODAY - timedelta(days=1)
    before = followups.dashboard_counts(demo_clinic, mine)

    triage.arrive(demo_clinic, gl, cid, consultant_id=consultant)
    after = followups.dashboard_counts(demo_clinic, mine)
    assert (after.postop_due, after.chase_due, after.overdue) == (
        before.postop_due + 1, before.chase_due + 1, before.overdue + 1)
    assert _mismatches(demo_clinic) == 0


def test_a_copy_changed_behind_the_programs_back_is_reported(demo_clinic: Clinic) -> None:
    gl = _login(demo_clinic, "gl")
    followups.add_reminder(demo_clinic, gl, customers.search_customers(demo_clinic, gl, limit=1)[0].id,
                           kind="chase", due=TODAY)
    with demo_clinic.engine.begin() as conn:
        conn.execute(text("UPDATE reminders SET scope_department_id = -1 WHERE id = (SELECT min(id) FROM reminders)"))
    report = check.run_check(demo_clinic)
    assert "reminder_scope" in report.codes()
    assert f"【{check.TITLES['reminder_scope']}】" in report.render()
