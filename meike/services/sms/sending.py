"""The pump: claims one due message at a time, sends it outside any transaction, records the outcome."""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from meike import clock
from meike.db import Clinic
from meike.models import Customer
from meike.models.sms import SmsMessage, SmsTemplate
from meike.ports import SmsError
from meike.services.sms.channels import Outgoing, Sender, load_channel
from meike.services.sms.common import BACKOFF_MINUTES, MAX_ATTEMPTS, STALE_SENDING, rowcount

log = logging.getLogger(__name__)

# --- the pump -------------------------------------------------------------------------------------


@dataclass
class PumpResult:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    cancelled: int = 0
    limit_reached: bool = False
    errors: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.sent or self.retried or self.failed or self.cancelled)


def day_start(now: datetime) -> datetime:
    return datetime.combine(now.date(), time())


def sent_today_in(s: Session, now: datetime) -> int:
    """Messages that went out today, and those going out now (they count against the limit)."""
    return s.scalar(select(func.count()).select_from(SmsMessage).where(or_(
        (SmsMessage.status == "sent") & (SmsMessage.sent_at >= day_start(now)),
        SmsMessage.status == "sending"))) or 0


def backoff(attempts: int) -> timedelta:
    return timedelta(minutes=BACKOFF_MINUTES[min(attempts, len(BACKOFF_MINUTES)) - 1])


def _unwanted(s: Session, m: SmsMessage) -> str | None:
    """Why a queued message should no longer go out (opted out since, appointment cancelled)."""
    if m.customer_id is not None:
        customer = s.get(Customer, m.customer_id)
        if customer is not None and not customer.sms_opt_in:
            return "顾客已设置拒收短信，未发送"
    if m.kind == "appointment" and m.dedupe_key and m.dedupe_key.startswith("appt:"):
        from meike.models import Appointment

        appointment_id = m.dedupe_key.split(":")[1]
        appointment = s.get(Appointment, int(appointment_id)) if appointment_id.isascii() and appointment_id.isdigit() else None
        if appointment is not None and appointment.status != "booked":
            return "预约已取消或已到诊，未发送"
    return None


def _claim(clinic: Clinic, now: datetime, channel: str, limit: int) -> tuple[Outgoing | None, str, bool]:
    """Mark the next due message ``sending`` and commit. (message, skipped reason, limit reached)."""
    with clinic.write() as s:
        if sent_today_in(s, now) >= limit:
            return None, "", True
        m = s.scalar(select(SmsMessage).where(SmsMessage.status == "queued", SmsMessage.next_attempt_at <= now)
                     .order_by(SmsMessage.next_attempt_at, SmsMessage.id).limit(1))
        if m is None:
            return None, "", False
        reason = _unwanted(s, m)
        if reason is not None:
            m.status, m.last_error = "cancelled", reason
            return Outgoing(m.id, m.number, m.text, {}), reason, False
        claimed = rowcount(s.execute(update(SmsMessage).where(SmsMessage.id == m.id, SmsMessage.status == "queued")
                            .values(status="sending", attempts=SmsMessage.attempts + 1, channel=channel,
                                    next_attempt_at=now)
                            .execution_options(synchronize_session=False)))
        if claimed != 1:  # another workstation took it
            return None, "", False
        template = s.get(SmsTemplate, m.template_id) if m.template_id is not None else None
        params = json.loads(m.params or "{}")
        return Outgoing(m.id, m.number, m.text, params, template.aliyun_code if template else "",
                        template.tencent_code if template else ""), "", False


def _finish(clinic: Clinic, message_id: int, now: datetime, *, reference: str | None = None,
            error: SmsError | None = None) -> str:
    """Record the outcome of a send; returns the new status."""
    with clinic.write() as s:
        m = s.get(SmsMessage, message_id)
        assert m is not None
        if error is None:
            m.status, m.sent_at, m.reference, m.last_error = "sent", now, (reference or "")[:80], ""
        elif error.retryable and m.attempts < MAX_ATTEMPTS:
            m.status, m.next_attempt_at = "queued", now + backoff(m.attempts)
            m.last_error = f"{error.message}（第 {m.attempts} 次失败，{m.next_attempt_at:%H:%M} 重试）"[:200]
        else:
            m.status = "failed"
            m.last_error = (error.message if not error.retryable else f"{error.message}（已重试 {m.attempts} 次）")[:200]
        if error is not None and error.sent_parts:
            m.last_error = (m.last_error + f"；已发出前 {error.sent_parts} 段")[:200]
        return m.status


def pump(clinic: Clinic, sender: Sender, now: datetime | None = None, *, max_messages: int = 50,
         stop: threading.Event | None = None) -> PumpResult:
    """Send due messages one by one (a scheduler job; no acting user). Stops at the daily limit, after
    a retryable failure (the modem or the network is down: the rest would fail the same way), and
    when ``stop`` is set (the program is closing: the message in flight is finished first)."""
    now = now or clock.now()
    result = PumpResult()
    with clinic.read() as s:
        limit = load_channel(s).daily_limit
    for _ in range(max_messages):
        if stop is not None and stop.is_set():
            break
        message, skipped, limit_reached = _claim(clinic, now, sender.channel, limit)
        if limit_reached:
            result.limit_reached = True
            break
        if message is None:
            break
        if skipped:
            result.cancelled += 1
            continue
        try:
            reference = sender.send(message)
        except SmsError as e:
            status = _finish(clinic, message.id, now, error=e)
            result.errors.append(e.message)
            if status == "failed":
                result.failed += 1
                continue
            result.retried += 1
            break
        except Exception as e:  # a bug or an unexpected device answer: retried later, never lost
            log.exception("sending SMS %s failed", message.id)
            _finish(clinic, message.id, now, error=SmsError("UNEXPECTED", f"发送出错：{e}", True))
            result.retried += 1
            result.errors.append(str(e))
            break
        _finish(clinic, message.id, now, reference=reference)
        result.sent += 1
    return result


def recover(clinic: Clinic, now: datetime | None = None, *, stale_after: timedelta = STALE_SENDING) -> int:
    """Messages left ``sending`` by a program that stopped mid-send go back to the queue.

    Only claims older than ``stale_after`` (another workstation may be sending right now). A message
    the modem had already sent before the crash may go out twice: the log says so.
    """
    now = now or clock.now()
    with clinic.write() as s:
        return rowcount(s.execute(update(SmsMessage).where(SmsMessage.status == "sending",
                                                  SmsMessage.next_attempt_at <= now - stale_after)
                         .values(status="queued", next_attempt_at=now,
                                 last_error="程序在发送中关闭，已重新排队（对方可能收到两次）")))
