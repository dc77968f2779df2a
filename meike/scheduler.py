"""Timed jobs of the clinic (APScheduler, in-process): one scheduler for the whole program.

The composition root (``ui/app.py``) makes the program's one ``BackgroundScheduler`` (``new_scheduler``),
starts it, ``install``s it, and shuts it down once on exit. Every timed job is added to it: the
dashboard's reminder counts (``ReminderCounter``), the daily backup (``start_backup_schedule``) and the
SMS queue and reminders (``meike.sms_jobs.SmsJobs``). Scripts and tests without the program's scheduler
get a private one from ``new_scheduler`` (started and stopped by whoever made it).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import date, datetime

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_STOPPED, BaseScheduler

from meike import clock
from meike.db import Clinic
from meike.permissions import Actor
from meike.services import followups
from meike.services.followups import DashboardCounts

log = logging.getLogger(__name__)

CountsCallback = Callable[[DashboardCounts], None]
ErrorCallback = Callable[[Exception], None]


def _now() -> datetime:
    return datetime.now(clock.CLINIC_TZ)


def new_scheduler() -> BackgroundScheduler:
    """A background scheduler on the clinic's time zone (aware datetimes: see DEVICES.md)."""
    return BackgroundScheduler(timezone=clock.CLINIC_TZ, daemon=True)


_program: BaseScheduler | None = None
_program_lock = threading.Lock()


def install(scheduler: BaseScheduler) -> None:
    """Make ``scheduler`` the program's one scheduler (the composition root, once it has started it)."""
    global _program
    with _program_lock:
        _program = scheduler


def uninstall(scheduler: BaseScheduler) -> None:
    """The program is ending: ``scheduler`` is no longer the one jobs are added to."""
    global _program
    with _program_lock:
        if _program is scheduler:
            _program = None


def installed() -> BaseScheduler | None:
    """The program's running scheduler, or None (a script, a test, the program shutting down)."""
    with _program_lock:
        scheduler = _program
    return scheduler if scheduler is not None and scheduler.state != STATE_STOPPED else None


class ReminderCounter:
    """Recomputes ``followups.dashboard_counts`` for one actor every ``interval`` seconds.

    Results go to plain callbacks (``subscribe``) on a scheduler worker thread: a GUI must re-emit
    them on its own thread. ``refresh_now()`` asks for a fresh count after a change; runs are
    serialised, and a request is only considered served by a run that started after it was made.

    Args:
        scheduler: a shared scheduler to add the job to (it is neither started nor shut down here);
            by default the program's (``installed()``), else the counter owns a private one.
        today: the clinic's date (tests inject one); defaults to ``clock.now().date()``.
    """

    JOB_ID = "dashboard.reminder_counts"

    def __init__(self, clinic: Clinic, actor: Actor, *, interval: float = 60.0,
                 scheduler: BaseScheduler | None = None, today: Callable[[], date] | None = None) -> None:
        self.clinic, self.actor = clinic, actor
        self.interval = interval
        self._shared = scheduler if scheduler is not None else installed()
        self._scheduler: BaseScheduler | None = None
        self._today = today or (lambda: clock.now().date())
        self._subscribers: list[CountsCallback] = []
        self._error_subscribers: list[ErrorCallback] = []
        self._state = threading.Lock()  # guards the lists, the counters and _active
        self._run_lock = threading.Lock()  # one count at a time
        self._requested = 0  # refresh requests so far
        self._started = 0  # requests already covered by a run that has started
        self._active = False  # scheduled
        self._closed = False  # shut down: a run still in flight reports nothing
        self.last: DashboardCounts | None = None

    @property
    def job_id(self) -> str:
        """Unique per counter when several share one scheduler."""
        return self.JOB_ID if self._shared is None else f"{self.JOB_ID}.{id(self)}"

    # -- callbacks -------------------------------------------------------------------------------

    def subscribe(self, fn: CountsCallback) -> Callable[[], None]:
        """Call ``fn(counts)`` after each count (on a worker thread). Returns an unsubscribe function."""
        with self._state:
            self._subscribers.append(fn)
        return lambda: self._remove(self._subscribers, fn)

    def subscribe_errors(self, fn: ErrorCallback) -> Callable[[], None]:
        """Call ``fn(exc)`` when a count fails (the database is busy, the connection dropped, ...)."""
        with self._state:
            self._error_subscribers.append(fn)
        return lambda: self._remove(self._error_subscribers, fn)

    def _remove(self, target: list, fn: Callable[..., None]) -> None:  # type: ignore[type-arg]
        with self._state:
            if fn in target:
                target.remove(fn)

    # -- the job -----------------------------------------------------------------------------------

    def compute(self, today: date | None = None) -> DashboardCounts:
        """The counts themselves (no callbacks), after bringing the reminder tallies up to today (a
        cheap read once done; the counts are right either way, only slower while behind)."""
        today = today or self._today()
        try:
            followups.catch_up_tallies(self.clinic, today)
        except Exception as exc:  # busy or read-only: count without it, try again next run
            log.warning("reminder tallies not caught up: %s", exc)
        return followups.dashboard_counts(self.clinic, self.actor, today=today)

    def run_once(self, today: date | None = None) -> DashboardCounts | None:
        """The scheduled job: count, then report to the subscribers. Errors go to the error callbacks.

        Callable directly (tests pass ``today``); after ``shutdown`` it still counts but reports nothing.
        """
        with self._run_lock:
            with self._state:
                self._started = self._requested
            return self._count_and_report(today)

    def _serve(self, request: int) -> None:
        """A ``refresh_now`` request; skipped when a run started after it was made."""
        with self._run_lock:
            with self._state:
                if self._started >= request:
                    return
                self._started = self._requested
            self._count_and_report(None)

    def _count_and_report(self, today: date | None) -> DashboardCounts | None:
        try:
            counts = self.compute(today)
        except Exception as exc:  # reported, never kills the scheduler
            log.warning("reminder counts failed: %s", exc)
            with self._state:
                failed = [] if self._closed else list(self._error_subscribers)
            self._notify(failed, exc)
            return None
        self.last = counts
        with self._state:
            listeners = [] if self._closed else list(self._subscribers)
        self._notify(listeners, counts)
        return counts

    @staticmethod
    def _notify(listeners: list, value: object) -> None:  # type: ignore[type-arg]
        for fn in listeners:
            try:
                fn(value)
            except Exception:  # a dead receiver (its window closed meanwhile) must not stop the others
                log.exception("reminder counts subscriber failed")

    # -- life cycle --------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._active

    def start(self) -> None:
        """Schedule the job (first run right away) and start the private scheduler. Idempotent."""
        with self._state:
            if self._active:
                return
            self._active, self._closed = True, False
        scheduler = self._shared or new_scheduler()
        try:
            scheduler.add_job(self.run_once, "interval", seconds=self.interval, id=self.job_id,
                              name="操作台提醒数量", replace_existing=True, coalesce=True, max_instances=1,
                              misfire_grace_time=None, next_run_time=_now())
            if self._shared is None:
                scheduler.start()
        except Exception:
            with self._state:
                self._active = False
            raise
        with self._state:
            self._scheduler = scheduler

    def refresh_now(self) -> None:
        """Count again as soon as possible (after the user changed something). Thread-safe, never blocks."""
        with self._state:
            if not self._active or self._scheduler is None:
                return
            self._requested += 1
            request = self._requested
            scheduler = self._scheduler
        try:
            scheduler.add_job(self._serve, "date", args=[request], id=f"{self.job_id}.now.{request}",
                              run_date=_now(), misfire_grace_time=None)
        except Exception:  # the scheduler is shutting down: nothing left to refresh
            log.debug("refresh_now ignored: scheduler stopped", exc_info=True)

    def shutdown(self, wait: bool = False) -> None:
        """Stop counting and reporting. With a private scheduler its threads end too (``wait`` joins them)."""
        with self._state:
            if not self._active:
                return
            self._active, self._closed = False, True
            scheduler, self._scheduler = self._scheduler, None
        if scheduler is None:
            return
        if self._shared is None:
            if scheduler.state != STATE_STOPPED:
                scheduler.shutdown(wait=wait)
            thread = getattr(scheduler, "_thread", None)
            if wait and thread is not None:
                thread.join(5)
        else:
            for job in scheduler.get_jobs():
                if job.id == self.job_id or job.id.startswith(f"{self.job_id}.now."):
                    try:
                        job.remove()
                    except Exception:  # already ran and removed itself
                        pass


def add_backup_job(scheduler: BaseScheduler, clinic: Clinic, *, first_after_s: float = 120.0,
                   every_s: float = 3600.0) -> None:
    """The daily backup (SQLite backup API, integrity-checked, retention applied) on ``scheduler``: tried
    soon after the start and then every hour; ``backup.daily_backup`` makes at most one a day. Its outcome
    is recorded there (``backup.backup_status``: the dashboard warns; a failure is also in the audit log
    and the log, with the traceback); the job never raises, and a failure is tried again at the next run."""
    from datetime import timedelta

    from meike import backup

    def job() -> None:
        try:
            backup.daily_backup(clinic)
        except Exception as exc:  # noqa: BLE001 (a full disk, a removed folder: try again next hour)
            log.warning("daily backup failed (%s); trying again at the next run", backup.failure_reason(exc))

    scheduler.add_job(job, "interval", seconds=every_s, id="backup.daily", name="每日备份", replace_existing=True,
                      next_run_time=_now() + timedelta(seconds=first_after_s), max_instances=1, coalesce=True)


def start_backup_schedule(clinic: Clinic, *, first_after_s: float = 120.0, every_s: float = 3600.0,
                          scheduler: BaseScheduler | None = None) -> BaseScheduler:
    """``add_backup_job`` on ``scheduler`` (the program's one, started by its owner), else on a new
    scheduler started here (a script, a test); either is returned."""
    target = scheduler if scheduler is not None else new_scheduler()
    add_backup_job(target, clinic, first_after_s=first_after_s, every_s=every_s)
    if scheduler is None:
        target.start()
    return target
