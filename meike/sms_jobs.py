"""SMS timed jobs (APScheduler, in-process): reminders queued once a day, the queue pumped every 30 s.

The job functions take a clinic and the clinic's local time (``clock.now()``; tests inject it):
``queue_appointment_reminders`` (tomorrow's booked appointments), ``queue_postop_messages`` (post-op
reminders due), ``queue_birthday_greetings`` — each message queued once thanks to its dedupe key —
and ``SmsJobs.pump_once`` which sends through the configured channel. ``SmsJobs`` runs them on a
``BackgroundScheduler`` (never on the GUI thread) and reports each pump to plain callbacks.
"""

from __future__ import annotations

import calendar
import logging
import socket
import threading
from collections.abc import Callable
from contextlib import nullcontext
from datetime import date, datetime, time, timedelta

from apscheduler.schedulers.base import STATE_STOPPED, BaseScheduler
from sqlalchemy import ColumnElement, extract, or_, select
from sqlalchemy.orm import Session

from meike import clock
from meike.db import Clinic
from meike.models import Appointment, Customer, Reminder, Treatment
from meike.models.sms import SmsTemplate
from meike.permissions import Actor, Page
from meike.scheduler import installed, new_scheduler
from meike.services import sms
from meike.services.sms import ChannelSettings, PumpResult, Sender

log = logging.getLogger(__name__)

REMINDER_HOUR = 9  # the daily jobs run at 09:00 (and on start, between 09:00 and LATEST_HOUR)
LATEST_HOUR = 21  # nobody wants a reminder later than this
POSTOP_CATCH_UP_DAYS = 2  # post-op reminders due up to this many days ago still get their message

PumpCallback = Callable[[PumpResult], None]


def _template(s: Session, kind: str) -> SmsTemplate | None:
    """The kind's active template (the first one, when there are several)."""
    return s.scalar(select(SmsTemplate).where(SmsTemplate.kind == kind, SmsTemplate.active.is_(True))
                    .order_by(SmsTemplate.id).limit(1))


def queue_appointment_reminders(clinic: Clinic, now: datetime | None = None) -> int:
    """预约提醒 the day before: one message per booked appointment of tomorrow (``appt:<id>:<date>``)."""
    now = now or clock.now()
    tomorrow = now.date() + timedelta(days=1)
    start = datetime.combine(tomorrow, time())
    queued = 0
    with clinic.write() as s:
        template = _template(s, "appointment")
        if template is None:
            return 0
        rows = s.execute(select(Appointment, Customer).join(Customer, Customer.id == Appointment.customer_id)
                         .where(Appointment.status == "booked", Appointment.appointment_at >= start,
                                Appointment.appointment_at < start + timedelta(days=1))
                         .order_by(Appointment.appointment_at, Appointment.id))
        for appointment, customer in rows:
            extra = {"日期": sms.format_day(tomorrow), "时间": f"{appointment.appointment_at:%H:%M}",
                     "项目": appointment.items}
            queued += sms.enqueue_system_in(s, customer=customer, template=template, kind="appointment",
                                            dedupe_key=f"appt:{appointment.id}:{tomorrow.isoformat()}",
                                            extra=extra, now=now)
    return queued


def queue_postop_messages(clinic: Clinic, now: datetime | None = None) -> int:
    """术后关怀: one message per open post-op reminder due today (or missed in the last days)."""
    now = now or clock.now()
    today = now.date()
    queued = 0
    with clinic.write() as s:
        template = _template(s, "postop")
        if template is None:
            return 0
        rows = s.execute(select(Reminder, Customer, Treatment)
                         .join(Customer, Customer.id == Reminder.customer_id)
                         .outerjoin(Treatment, Treatment.id == Reminder.treatment_id)
                         .where(Reminder.kind == "postop", Reminder.status == "open",
                                Reminder.due_date <= today,
                                Reminder.due_date >= today - timedelta(days=POSTOP_CATCH_UP_DAYS))
                         .order_by(Reminder.id))
        for reminder, customer, treatment in rows:
            extra = {"项目": treatment.item_name if treatment is not None else "",
                     "日期": sms.format_day(treatment.performed_on) if treatment is not None else ""}
            queued += sms.enqueue_system_in(s, customer=customer, template=template, kind="postop",
                                            dedupe_key=f"postop:{reminder.id}", extra=extra, now=now)
    return queued


def _birthday_clause(today: date):  # type: ignore[no-untyped-def]
    month, day = extract("month", Customer.birthday), extract("day", Customer.birthday)
    clause: ColumnElement[bool] = (month == today.month) & (day == today.day)
    if today.month == 2 and today.day == 28 and not calendar.isleap(today.year):
        clause = or_(clause, (month == 2) & (day == 29))  # 29 February birthdays, greeted on the 28th
    return clause


def queue_birthday_greetings(clinic: Clinic, now: datetime | None = None) -> int:
    """生日祝福: one message per customer whose birthday is today (``bday:<id>:<year>``)."""
    now = now or clock.now()
    today = now.date()
    queued = 0
    with clinic.write() as s:
        template = _template(s, "birthday")
        if template is None:
            return 0
        for customer in s.scalars(select(Customer).where(Customer.birthday.is_not(None), _birthday_clause(today),
                                                         Customer.sms_opt_in.is_(True)).order_by(Customer.id)):
            queued += sms.enqueue_system_in(s, customer=customer, template=template, kind="birthday",
                                            dedupe_key=f"bday:{customer.id}:{today.year}", now=now)
    return queued


def queue_daily(clinic: Clinic, now: datetime | None = None) -> dict[str, int]:
    """The three daily jobs at once; how many messages each queued."""
    now = now or clock.now()
    out: dict[str, int] = {}
    for kind, job in (("appointment", queue_appointment_reminders), ("postop", queue_postop_messages),
                      ("birthday", queue_birthday_greetings)):
        try:
            out[kind] = job(clinic, now)
        except Exception:  # one failing job must not stop the others
            log.exception("queueing %s messages failed", kind)
            out[kind] = 0
    return out


# --- the running jobs -----------------------------------------------------------------------------

_running: dict[int, SmsJobs] = {}
_running_lock = threading.Lock()


def running(clinic: Clinic) -> SmsJobs | None:
    """The started ``SmsJobs`` of this clinic in this program, if any."""
    with _running_lock:
        return _running.get(id(clinic))


def request_pump(clinic: Clinic) -> None:
    """Send what is queued as soon as possible (after 发短信); thread-safe, never blocks."""
    jobs = running(clinic)
    if jobs is not None:
        jobs.pump_soon()


def test_connection(clinic: Clinic, actor: Actor) -> str:
    """测试连接 with the saved settings, through the running sender when there is one (a serial port
    can be opened once only). Raises SmsError / ValidationError."""
    actor.require_page(Page.SETTINGS)
    jobs = running(clinic)
    if jobs is None:
        return sms.test_channel(clinic, actor)
    sender = jobs.sender()
    if sender is None:
        return sms.test_channel(clinic, actor)
    return sender.test()


class SmsJobs:
    """The clinic's SMS jobs on a scheduler: the pump every ``interval`` s, the daily queueing.

    Args:
        scheduler: a shared scheduler (neither started nor shut down here); by default the program's one
            (``meike.scheduler.installed()``), else a private one.
        now: the clinic's clock (tests inject one).
        hostname: this PC's name; a GSM modem saved on another PC is left to that PC's program.
        make_sender: builds the sender of the saved settings (tests may pass their own).
    """

    JOB_PREFIX = "sms"

    def __init__(self, clinic: Clinic, *, interval: float = 30.0, scheduler: BaseScheduler | None = None,
                 now: Callable[[], datetime] | None = None, hostname: str | None = None,
                 make_sender: Callable[[ChannelSettings], Sender | None] = sms.make_sender) -> None:
        self.clinic, self.interval = clinic, interval
        self._shared = scheduler if scheduler is not None else installed()
        self._scheduler: BaseScheduler | None = None
        self._now = now or clock.now
        self.hostname = hostname or socket.gethostname()
        self._make_sender = make_sender
        self._sender: Sender | None = None
        self._sender_key: ChannelSettings | None = None
        self._pump_lock = threading.Lock()
        self._state = threading.Lock()
        self._subscribers: list[PumpCallback] = []
        self._pokes = 0
        self._stop = threading.Event()
        self.last: PumpResult | None = None

    # -- callbacks ---------------------------------------------------------------------------------

    def subscribe(self, fn: PumpCallback) -> Callable[[], None]:
        """Call ``fn(result)`` after each pump that changed something (on a worker thread)."""
        with self._state:
            self._subscribers.append(fn)

        def unsubscribe() -> None:
            with self._state:
                if fn in self._subscribers:
                    self._subscribers.remove(fn)
        return unsubscribe

    # -- the sender --------------------------------------------------------------------------------

    def sender(self) -> Sender | None:
        """The sender of the saved settings, kept open between pumps (rebuilt when they change)."""
        settings = sms.read_channel(self.clinic)
        if settings.channel == "gsm" and settings.gsm_host and settings.gsm_host != self.hostname:
            return None  # the modem is plugged into another PC
        with self._state:
            if settings == self._sender_key and self._sender is not None:
                return self._sender
            old, self._sender, self._sender_key = self._sender, None, None
        if old is not None:
            old.close()
        sender = self._make_sender(settings)
        with self._state:
            self._sender, self._sender_key = sender, settings
        return sender

    # -- the jobs ----------------------------------------------------------------------------------

    def pump_once(self, now: datetime | None = None) -> PumpResult:
        """The pump job: stale claims requeued, then due messages sent. Never raises."""
        with self._pump_lock:
            now = now or self._now()
            try:
                sms.recover(self.clinic, now)
                sender = self.sender()
                result = PumpResult() if sender is None else sms.pump(self.clinic, sender, now, stop=self._stop)
            except Exception as exc:  # the database is busy, the connection dropped: next time
                log.warning("SMS pump failed: %s", exc)
                result = PumpResult(errors=[str(exc)])
            self.last = result
        if result.changed:
            with self._state:
                listeners = list(self._subscribers)
            for fn in listeners:
                try:
                    fn(result)
                except Exception:
                    log.exception("SMS pump subscriber failed")
        return result

    def daily(self, now: datetime | None = None) -> dict[str, int]:
        """The daily job: queue the day's reminders, then pump."""
        counts = queue_daily(self.clinic, now or self._now())
        if any(counts.values()):
            self.pump_soon()
        return counts

    # -- life cycle --------------------------------------------------------------------------------

    def start(self) -> None:
        """Requeue what a crash left, add default templates to a new clinic, schedule the jobs."""
        now = self._now()
        self._stop.clear()
        try:
            sms.ensure_default_templates(self.clinic)
            # One PC (SQLite): whatever is "sending" was left by this program. Several PCs (PostgreSQL):
            # another one may be sending right now, so only stale claims.
            single = self.clinic.engine.dialect.name == "sqlite"
            sms.recover(self.clinic, now, stale_after=timedelta(0) if single else sms.STALE_SENDING)
        except Exception:
            log.exception("SMS start-up failed")
        scheduler = self._shared or new_scheduler()
        aware = datetime.now(clock.CLINIC_TZ)
        scheduler.add_job(self.pump_once, "interval", seconds=self.interval, id=f"{self.JOB_PREFIX}.pump",
                          name="短信发送", replace_existing=True, coalesce=True, max_instances=1,
                          misfire_grace_time=None, next_run_time=aware + timedelta(seconds=2))
        scheduler.add_job(self.daily, "cron", hour=REMINDER_HOUR, minute=0, id=f"{self.JOB_PREFIX}.daily",
                          name="短信提醒排队", replace_existing=True, coalesce=True, max_instances=1,
                          misfire_grace_time=3600)
        if REMINDER_HOUR <= now.hour < LATEST_HOUR:  # started after 09:00: today's reminders now
            scheduler.add_job(self.daily, "date", id=f"{self.JOB_PREFIX}.daily.start", run_date=aware,
                              replace_existing=True, misfire_grace_time=None)
        if self._shared is None:
            scheduler.start()
        self._scheduler = scheduler
        with _running_lock:
            _running[id(self.clinic)] = self

    def pump_soon(self) -> None:
        scheduler = self._scheduler
        if scheduler is None:
            return
        with self._state:
            self._pokes += 1
            poke = self._pokes
        try:
            scheduler.add_job(self.pump_once, "date", id=f"{self.JOB_PREFIX}.pump.now.{poke}",
                              run_date=datetime.now(clock.CLINIC_TZ), misfire_grace_time=None)
        except Exception:  # shutting down
            log.debug("pump_soon ignored", exc_info=True)

    def shutdown(self, wait: bool = False) -> None:
        """Stop the jobs; a send in flight finishes (its row is recorded), nothing more is sent."""
        self._stop.set()
        with _running_lock:
            if _running.get(id(self.clinic)) is self:
                del _running[id(self.clinic)]
        scheduler, self._scheduler = self._scheduler, None
        if scheduler is not None:
            if self._shared is None:
                if scheduler.state != STATE_STOPPED:
                    scheduler.shutdown(wait=wait)
            else:
                for job in scheduler.get_jobs():
                    if job.id.startswith(f"{self.JOB_PREFIX}."):
                        try:
                            job.remove()
                        except Exception:
                            pass
        with self._pump_lock if wait else nullcontext():
            with self._state:
                sender, self._sender, self._sender_key = self._sender, None, None
            if sender is not None:
                sender.close()

