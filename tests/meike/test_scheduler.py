"""The dashboard's reminder counter on APScheduler: the job with an injected date, pokes, shutdown."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from apscheduler.schedulers.background import BackgroundScheduler

from meike import clock
from meike.db import Clinic
from meike.permissions import Actor
from meike.scheduler import ReminderCounter, new_scheduler
from meike.services import accounts, customers, followups
from meike.services.followups import DashboardCounts

TODAY = clock.now().date()


def _scheduler_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "APScheduler" or t.name.startswith("ThreadPoolExecutor")]


@pytest.fixture(autouse=True)
def _no_thread_outlives_a_test() -> Iterator[None]:
    before = set(_scheduler_threads())
    yield
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and set(_scheduler_threads()) - before:
        time.sleep(0.02)
    assert not set(_scheduler_threads()) - before


@pytest.fixture
def gl(demo_clinic: Clinic) -> Actor:
    return accounts.authenticate(demo_clinic, "gl", "123")


class Inbox:
    """Collects callback values from the scheduler thread."""

    def __init__(self) -> None:
        self.values: list[object] = []
        self.event = threading.Event()
        self.lock = threading.Lock()

    def __call__(self, value: object) -> None:
        with self.lock:
            self.values.append(value)
        self.event.set()

    def wait_for(self, predicate, timeout: float = 5.0) -> object:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if self.values and predicate(self.values[-1]):
                    return self.values[-1]
            self.event.wait(0.05)
            self.event.clear()
        raise AssertionError(f"no matching value within {timeout} s: {self.values[-3:]}")

    def wait_len(self, n: int, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.values) < n and time.monotonic() < deadline:
            self.event.wait(0.05)
            self.event.clear()
        assert len(self.values) >= n, f"{len(self.values)} values, expected {n} within {timeout} s"


@pytest.fixture
def counter(demo_clinic: Clinic, gl: Actor) -> Iterator[ReminderCounter]:
    c = ReminderCounter(demo_clinic, gl)
    yield c
    c.shutdown(wait=True)


def _customers(clinic: Clinic, actor: Actor, n: int) -> list[int]:
    return [r.id for r in customers.search_customers(clinic, actor, limit=n)]


def test_the_job_counts_for_an_injected_day_and_reports_to_subscribers(demo_clinic: Clinic, gl: Actor) -> None:
    a, b = _customers(demo_clinic, gl, 2)
    followups.add_reminder(demo_clinic, gl, a, kind="chase", due=TODAY)
    followups.add_reminder(demo_clinic, gl, b, kind="postop", due=TODAY + timedelta(days=3))
    days = iter([TODAY, TODAY + timedelta(days=3), TODAY + timedelta(days=4)])
    counter = ReminderCounter(demo_clinic, gl, today=lambda: next(days))  # never started: no thread
    inbox = Inbox()
    counter.subscribe(inbox)
    assert counter.run_once() == DashboardCounts(1, 0, 0, 0, 0)
    assert counter.run_once() == DashboardCounts(1, 1, 1, 0, 0)
    assert counter.run_once() == DashboardCounts(1, 1, 2, 0, 0)
    assert counter.run_once(TODAY - timedelta(days=1)) == DashboardCounts(0, 0, 0, 0, 0)
    assert inbox.values[0] == DashboardCounts(1, 0, 0, 0, 0) and len(inbox.values) == 4
    assert counter.last == DashboardCounts(0, 0, 0, 0, 0)


def test_failures_go_to_the_error_callbacks(demo_clinic: Clinic) -> None:
    admin = accounts.authenticate(demo_clinic, "admin", "admin")  # may not read reminders
    counter = ReminderCounter(demo_clinic, admin)
    counts, errors = Inbox(), Inbox()
    counter.subscribe(counts)
    counter.subscribe_errors(errors)
    assert counter.run_once() is None
    assert not counts.values and "权限" in str(errors.values[0])


def test_start_counts_right_away_and_refresh_now_after_a_change(counter: ReminderCounter, demo_clinic: Clinic,
                                                                gl: Actor) -> None:
    inbox = Inbox()
    counter.subscribe(inbox)
    counter.start()
    assert inbox.wait_for(lambda v: isinstance(v, DashboardCounts)) == DashboardCounts(0, 0, 0, 0, 0)
    (a,) = _customers(demo_clinic, gl, 1)
    rid = followups.add_reminder(demo_clinic, gl, a, kind="chase", due=TODAY)
    counter.refresh_now()
    inbox.wait_for(lambda v: v.chase_due == 1)
    followups.complete(demo_clinic, gl, rid, result="已到院")
    counter.refresh_now()
    inbox.wait_for(lambda v: v.chase_due == 0)


def test_the_periodic_job_is_configured_once_on_the_clinic_time_zone(counter: ReminderCounter) -> None:
    counter.start()
    counter.start()  # idempotent
    scheduler = counter._scheduler  # the private scheduler it owns
    assert isinstance(scheduler, BackgroundScheduler)
    assert str(scheduler.timezone) == "Asia/Shanghai"
    jobs = [j for j in scheduler.get_jobs() if j.id == ReminderCounter.JOB_ID]
    assert len(jobs) == 1
    job = jobs[0]
    assert job.coalesce is True and job.max_instances == 1
    assert job.trigger.interval == timedelta(seconds=60)
    assert job.next_run_time is None or job.next_run_time.tzinfo is not None


def test_many_pokes_end_with_a_fresh_count(counter: ReminderCounter, demo_clinic: Clinic, gl: Actor) -> None:
    inbox = Inbox()
    counter.subscribe(inbox)
    counter.start()
    inbox.wait_for(lambda v: True)
    ids = _customers(demo_clinic, gl, 5)
    for cid in ids:
        followups.add_reminder(demo_clinic, gl, cid, kind="postop", due=TODAY)
        for _ in range(4):
            counter.refresh_now()
    inbox.wait_for(lambda v: v.postop_due == 5)
    time.sleep(0.3)
    assert len(inbox.values) <= 1 + 5 * 4 + 1


def test_unsubscribe_and_shutdown_stop_the_reports(counter: ReminderCounter) -> None:
    kept, dropped = Inbox(), Inbox()
    counter.subscribe(kept)
    unsubscribe = counter.subscribe(dropped)
    unsubscribe()
    counter.start()
    kept.wait_for(lambda v: True)
    assert not dropped.values
    counter.shutdown(wait=True)
    assert not counter.running
    n = len(kept.values)
    counter.refresh_now()  # harmless once stopped
    counter.run_once()  # a straggling run after shutdown reports nothing
    assert len(kept.values) == n
    counter.start()  # a stopped counter can start again (a fresh scheduler)
    kept.wait_len(n + 1)


def test_a_failing_subscriber_does_not_stop_the_others(counter: ReminderCounter) -> None:
    inbox = Inbox()

    def broken(_value: object) -> None:
        raise RuntimeError("Internal C++ object already deleted")

    counter.subscribe(broken)
    counter.subscribe(inbox)
    counter.start()
    inbox.wait_for(lambda v: True)


def test_a_shared_scheduler_is_left_running(demo_clinic: Clinic, gl: Actor) -> None:
    shared = new_scheduler()
    shared.start()
    try:
        counter = ReminderCounter(demo_clinic, gl, scheduler=shared)
        inbox = Inbox()
        counter.subscribe(inbox)
        counter.start()
        inbox.wait_for(lambda v: True)
        counter.refresh_now()
        assert any(j.id == counter.job_id for j in shared.get_jobs())
        counter.shutdown()
        assert shared.running
        assert not [j for j in shared.get_jobs() if j.id.startswith(counter.job_id)]
    finally:
        shared.shutdown(wait=True)


def test_scheduler_uses_aware_times() -> None:
    scheduler = new_scheduler()
    assert scheduler.timezone == clock.CLINIC_TZ
    assert datetime.now(scheduler.timezone).utcoffset() == timedelta(hours=8)


def test_the_program_has_one_scheduler_and_every_timed_job_runs_on_it(demo_clinic: Clinic, gl: Actor,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The composition root installs its one scheduler; the reminder counter, the SMS jobs and the daily
    backup add their jobs to it (none makes its own), and leave it running when they stop."""
    from meike import scheduler as schedules
    from meike.sms_jobs import SmsJobs

    program = new_scheduler()
    program.start()
    schedules.install(program)
    made: list[BackgroundScheduler] = []
    real_start = BackgroundScheduler.start

    def spy(self: BackgroundScheduler, *args: object, **kwargs: object) -> None:
        made.append(self)
        real_start(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(BackgroundScheduler, "start", spy)
    try:
        the_one = schedules.installed()
        assert the_one is not None and the_one == program
        counter = ReminderCounter(demo_clinic, gl, interval=3600)
        jobs = SmsJobs(demo_clinic, interval=3600)
        counter.start()
        jobs.start()
        schedules.add_backup_job(program, demo_clinic, first_after_s=3600)
        ids = {job.id for job in program.get_jobs()}
        assert made == []  # no other scheduler was started
        assert {counter.job_id, "sms.pump", "sms.daily", "backup.daily"} <= ids
        assert counter.job_id.startswith("dashboard.reminder_counts")
        counter.shutdown()
        jobs.shutdown(wait=True)
        left = {job.id for job in program.get_jobs()}
        assert program.running and not any(i.startswith(("dashboard.", "sms.")) for i in left)
        assert "backup.daily" in left
    finally:
        schedules.uninstall(program)
        program.shutdown(wait=True)
    assert schedules.installed() is None


def test_a_stopped_program_scheduler_is_not_handed_out(demo_clinic: Clinic, gl: Actor) -> None:
    """After the program's scheduler is shut down, a counter made later gets its own (nothing is added
    to a scheduler that will never run it)."""
    from meike import scheduler as schedules

    program = new_scheduler()
    program.start()
    schedules.install(program)
    program.shutdown(wait=True)
    try:
        assert schedules.installed() is None
        counter = ReminderCounter(demo_clinic, gl, interval=3600)
        assert counter.job_id == ReminderCounter.JOB_ID  # a private scheduler
    finally:
        schedules.uninstall(program)
