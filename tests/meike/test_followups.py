"""Reminders 提醒 (追单 / 术后回访): due and overdue boundaries, data scope, done / postpone, dashboard counts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from meike import clock
from meike.db import Clinic
from meike.errors import NotFound, PermissionDenied, ValidationError
from meike.models import AuditEntry, Reminder, User
from meike.permissions import Actor, DataScope, Page
from meike.services import accounts, cashier, customers, dictionaries, followups
from meike.services.dictionaries import Kind
from tests.conftest import make_user

TODAY = clock.now().date()


def _login(clinic: Clinic, username: str) -> Actor:
    return accounts.authenticate(clinic, username, "123")


@pytest.fixture
def gl(demo_clinic: Clinic) -> Actor:
    return _login(demo_clinic, "gl")


@pytest.fixture
def kf(demo_clinic: Clinic) -> Actor:
    return _login(demo_clinic, "kf")


def _ids(clinic: Clinic, actor: Actor) -> set[int]:
    return {r.id for r in customers.search_customers(clinic, actor, limit=10_000)}


def _inside_outside(clinic: Clinic, gl: Actor, other: Actor) -> tuple[int, int]:
    """A customer ``other`` can see and one they cannot."""
    mine = _ids(clinic, other)
    rest = sorted(_ids(clinic, gl) - mine)
    assert mine and rest
    return min(mine), rest[0]


def test_due_and_overdue_boundaries(demo_clinic: Clinic, gl: Actor) -> None:
    c1, c2, c3 = sorted(_ids(demo_clinic, gl))[:3]
    on_day = followups.add_reminder(demo_clinic, gl, c1, kind="chase", due=TODAY)
    next_day = followups.add_reminder(demo_clinic, gl, c2, kind="postop", due=TODAY + timedelta(days=1))
    later = followups.add_reminder(demo_clinic, gl, c3, kind="chase", due=TODAY + timedelta(days=2))

    now = followups.dashboard_counts(demo_clinic, gl, today=TODAY)
    assert (now.chase_due, now.postop_due, now.overdue) == (1, 0, 0)  # due today is due, not overdue

    tomorrow = TODAY + timedelta(days=1)
    counts = followups.dashboard_counts(demo_clinic, gl, today=tomorrow)
    assert (counts.chase_due, counts.postop_due, counts.overdue) == (1, 1, 1)
    assert [r.id for r in followups.list_due(demo_clinic, gl, today=tomorrow)] == [on_day, next_day]
    assert [r.id for r in followups.list_due(demo_clinic, gl, today=tomorrow, overdue_only=True)] == [on_day]
    assert [r.id for r in followups.list_due(demo_clinic, gl, today=tomorrow, kind="postop")] == [next_day]

    far = followups.dashboard_counts(demo_clinic, gl, today=TODAY + timedelta(days=30))
    assert (far.chase_due, far.postop_due, far.overdue) == (2, 1, 3)
    assert later in {r.id for r in followups.list_due(demo_clinic, gl, today=TODAY + timedelta(days=2))}


def test_rows_show_customer_kind_assignee_and_mask_the_mobile_without_the_right(demo_clinic: Clinic,
                                                                              gl: Actor, kf: Actor) -> None:
    inside, _ = _inside_outside(demo_clinic, gl, kf)
    followups.add_reminder(demo_clinic, gl, inside, kind="postop", due=TODAY, assignee_id=kf.user_id,
                           note="  术后第2天回访 ")
    full = followups.list_due(demo_clinic, gl)[0]
    masked = followups.list_due(demo_clinic, kf)[0]
    assert (full.kind, full.kind_label, full.assignee, full.note) == ("postop", "术后回访", "孙丽", "术后第2天回访")
    assert full.customer_id == inside and full.due_date == TODAY and full.status == "open"
    number = customers.reveal(demo_clinic, gl, inside, "mobile")  # gl holds the right: one logged click
    assert full.mobile == masked.mobile == number[:3] + "****" + number[-4:]
    assert followups.list_for_customer(demo_clinic, gl, inside)[0].id == full.id


def test_add_reminder_checks_kind_date_assignee_and_scope(demo_clinic: Clinic, gl: Actor, kf: Actor) -> None:
    inside, outside = _inside_outside(demo_clinic, gl, kf)
    with pytest.raises(ValidationError) as e:
        followups.add_reminder(demo_clinic, gl, inside, kind="birthday", due=TODAY)
    assert "kind" in e.value.errors
    with pytest.raises(ValidationError) as e:
        followups.add_reminder(demo_clinic, gl, inside, kind="chase", due=TODAY - timedelta(days=1))
    assert e.value.errors == {"due": "提醒日期不能早于今天"}
    admin_id = _login_admin(demo_clinic).user_id
    with pytest.raises(ValidationError) as e:
        followups.add_reminder(demo_clinic, gl, inside, kind="chase", due=TODAY, assignee_id=admin_id)
    assert "assignee_id" in e.value.errors
    with pytest.raises(NotFound):
        followups.add_reminder(demo_clinic, kf, outside, kind="chase", due=TODAY)
    rid = followups.add_reminder(demo_clinic, kf, inside, kind="chase", due=TODAY)
    with demo_clinic.read() as s:
        reminder = s.get(Reminder, rid)
        assert reminder is not None and reminder.assignee_id == kf.user_id  # defaults to the one who adds it
        audited = s.scalars(select(AuditEntry.entity_id).where(AuditEntry.action == "reminder.create")).all()
    assert audited == [rid]


def _login_admin(clinic: Clinic) -> Actor:
    return accounts.authenticate(clinic, "admin", "admin")


def test_own_scope_sees_reminders_of_own_customers_or_assigned_to_them(demo_clinic: Clinic, gl: Actor,
                                                                       kf: Actor) -> None:
    inside, outside = _inside_outside(demo_clinic, gl, kf)
    theirs = followups.add_reminder(demo_clinic, gl, inside, kind="chase", due=TODAY)  # assigned to gl
    assigned = followups.add_reminder(demo_clinic, gl, outside, kind="postop", due=TODAY, assignee_id=kf.user_id)
    hidden = followups.add_reminder(demo_clinic, gl, outside, kind="chase", due=TODAY)

    assert {r.id for r in followups.list_due(demo_clinic, kf)} == {theirs, assigned}
    assert {r.id for r in followups.list_due(demo_clinic, gl)} == {theirs, assigned, hidden}
    counts = followups.dashboard_counts(demo_clinic, kf)
    assert (counts.chase_due, counts.postop_due) == (1, 1)

    for call in (lambda: followups.complete(demo_clinic, kf, hidden, result="已联系"),
                 lambda: followups.postpone(demo_clinic, kf, hidden, due=TODAY + timedelta(days=3))):
        with pytest.raises(NotFound):
            call()
    with pytest.raises(NotFound):
        followups.complete(demo_clinic, kf, 999_999, result="已联系")
    with demo_clinic.read() as s:
        reminder = s.get(Reminder, hidden)
        assert reminder is not None and (reminder.status, reminder.due_date) == ("open", TODAY)
    # The one assigned to kf can be handled by kf even though the customer is not in kf's scope.
    followups.complete(demo_clinic, kf, assigned, result="恢复良好")


def test_department_scope(demo_clinic: Clinic, gl: Actor) -> None:
    wl = _login(demo_clinic, "wl")
    inside, outside = _inside_outside(demo_clinic, gl, wl)
    seen = followups.add_reminder(demo_clinic, gl, inside, kind="chase", due=TODAY)
    followups.add_reminder(demo_clinic, gl, outside, kind="chase", due=TODAY)
    assert [r.id for r in followups.list_due(demo_clinic, wl)] == [seen]
    assert followups.dashboard_counts(demo_clinic, wl).chase_due == 1


def test_complete_requires_a_result_and_can_add_the_next_reminder(demo_clinic: Clinic, gl: Actor, kf: Actor) -> None:
    inside, _ = _inside_outside(demo_clinic, gl, kf)
    rid = followups.add_reminder(demo_clinic, gl, inside, kind="postop", due=TODAY, assignee_id=kf.user_id,
                                 note="术后回访")
    for blank in ("", "   \n"):
        with pytest.raises(ValidationError) as e:
            followups.complete(demo_clinic, gl, rid, result=blank)
        assert e.value.errors == {"result": "请填写回访结果"}
    with pytest.raises(ValidationError) as e:
        followups.complete(demo_clinic, gl, rid, result="ok", next_due=TODAY - timedelta(days=1))
    assert e.value.errors == {"next_due": "下次提醒日期不能早于今天"}
    assert followups.dashboard_counts(demo_clinic, gl).postop_due == 1

    next_id = followups.complete(demo_clinic, gl, rid, result=" 恢复良好，提醒第7天复查 ",
                                 next_due=TODAY + timedelta(days=5))
    assert next_id is not None and next_id != rid
    with demo_clinic.read() as s:
        done, nxt = s.get(Reminder, rid), s.get(Reminder, next_id)
        assert done is not None and nxt is not None
        assert (done.status, done.result, done.done_by_id) == ("done", "恢复良好，提醒第7天复查", gl.user_id)
        assert done.done_at is not None
        assert (nxt.status, nxt.kind, nxt.customer_id, nxt.due_date, nxt.assignee_id, nxt.note) == (
            "open", "postop", inside, TODAY + timedelta(days=5), kf.user_id, "术后回访")
        actions = [a.action for a in s.scalars(select(AuditEntry).where(AuditEntry.entity == "reminder")
                                                 .order_by(AuditEntry.id))]
    assert actions == ["reminder.create", "reminder.done", "reminder.create"]
    assert followups.dashboard_counts(demo_clinic, gl).postop_due == 0
    assert followups.dashboard_counts(demo_clinic, gl, today=TODAY + timedelta(days=5)).postop_due == 1

    with pytest.raises(ValidationError) as e:
        followups.complete(demo_clinic, gl, rid, result="again")
    assert e.value.errors == {"result": "这条提醒已处理"}
    assert followups.complete(demo_clinic, gl, next_id, result="复查正常") is None


def test_next_reminder_of_a_disabled_assignee_goes_to_the_one_who_completes(demo_clinic: Clinic, gl: Actor) -> None:
    admin = _login_admin(demo_clinic)
    temp = make_user(demo_clinic, admin, "temp", pages=[Page.DASHBOARD])
    customer = min(_ids(demo_clinic, gl))
    rid = followups.add_reminder(demo_clinic, gl, customer, kind="chase", due=TODAY, assignee_id=temp.user_id)
    with demo_clinic.write() as s:  # the account was disabled meanwhile
        user = s.get(User, temp.user_id)
        assert user is not None
        user.is_active = False
    next_id = followups.complete(demo_clinic, gl, rid, result="再联系", next_due=TODAY + timedelta(days=1))
    with demo_clinic.read() as s:
        nxt = s.get(Reminder, next_id)
        assert nxt is not None and nxt.assignee_id == gl.user_id
    assert temp.user_id not in {i for i, _ in followups.assignees(demo_clinic, gl)}


def test_postpone_refuses_past_dates(demo_clinic: Clinic, gl: Actor) -> None:
    customer = min(_ids(demo_clinic, gl))
    rid = followups.add_reminder(demo_clinic, gl, customer, kind="chase", due=TODAY)
    with pytest.raises(ValidationError) as e:
        followups.postpone(demo_clinic, gl, rid, due=TODAY - timedelta(days=1))
    assert e.value.errors == {"due": "推迟后的日期不能早于今天"}
    followups.postpone(demo_clinic, gl, rid, due=TODAY)  # today itself is allowed
    assert followups.dashboard_counts(demo_clinic, gl).chase_due == 1
    followups.postpone(demo_clinic, gl, rid, due=TODAY + timedelta(days=3))
    assert followups.dashboard_counts(demo_clinic, gl).chase_due == 0
    assert followups.list_due(demo_clinic, gl, today=TODAY + timedelta(days=3))[0].id == rid
    # With an injected "today" the same rule holds on that day.
    with pytest.raises(ValidationError):
        followups.postpone(demo_clinic, gl, rid, due=TODAY + timedelta(days=1), today=TODAY + timedelta(days=2))
    followups.complete(demo_clinic, gl, rid, result="已成交")
    with pytest.raises(ValidationError) as e:
        followups.postpone(demo_clinic, gl, rid, due=TODAY + timedelta(days=9))
    assert e.value.errors == {"due": "这条提醒已处理"}


def test_appointments_today_and_unpaid_charges(demo_clinic: Clinic, gl: Actor, kf: Actor) -> None:
    _, outside = _inside_outside(demo_clinic, gl, kf)
    at = clock.now().replace(second=0) + timedelta(minutes=2)
    before = followups.dashboard_counts(demo_clinic, gl, today=at.date())
    customers.book_appointment(demo_clinic, gl, outside, appointment_at=at)
    item = dictionaries.list_entries(demo_clinic, gl, Kind.ITEM)[0].id
    cashier.open_order(demo_clinic, gl, customer_id=outside, lines=[(item, 1, None)])
    after = followups.dashboard_counts(demo_clinic, gl, today=at.date())
    assert after.appointments_today == before.appointments_today + 1
    assert after.unpaid_charges == before.unpaid_charges + 1
    next_day = followups.dashboard_counts(demo_clinic, gl, today=at.date() + timedelta(days=1))
    assert next_day.appointments_today == before.appointments_today
    # kf cannot see the outside customer, so neither the booking nor the order counts for kf.
    assert followups.dashboard_counts(demo_clinic, kf, today=at.date()).unpaid_charges == 0


def test_pages_are_checked(demo_clinic: Clinic) -> None:
    admin = _login_admin(demo_clinic)
    with pytest.raises(PermissionDenied):
        followups.dashboard_counts(demo_clinic, admin)
    cashier_only = make_user(demo_clinic, admin, "cash2", pages=[Page.CASHIER], scope=DataScope.ALL)
    for call in (lambda: followups.dashboard_counts(demo_clinic, cashier_only),
                 lambda: followups.list_due(demo_clinic, cashier_only),
                 lambda: followups.assignees(demo_clinic, cashier_only)):
        with pytest.raises(PermissionDenied):
            call()
    customers_only = make_user(demo_clinic, admin, "cust2", pages=[Page.CUSTOMERS])
    assert followups.list_due(demo_clinic, customers_only) == []


def test_assignees_are_active_ordinary_accounts(demo_clinic: Clinic, gl: Actor) -> None:
    names = dict(followups.assignees(demo_clinic, gl))
    assert gl.user_id in names and names[gl.user_id] == "总台"
    assert "管理员" not in names.values()
