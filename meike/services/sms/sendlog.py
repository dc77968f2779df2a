"""The send log (发送记录): counts, lists, cancel and retry."""

from __future__ import annotations

import socket
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Select, desc, func, or_, select, update
from sqlalchemy.orm import Session

from meike import clock
from meike.db import Clinic
from meike.errors import NotFound, ValidationError
from meike.models import Customer, User
from meike.models.sms import SmsMessage
from meike.permissions import Actor
from meike.ports import adapters
from meike.services import audit, scope
from meike.services.sms.channels import configure_channel_in, load_channel
from meike.services.sms.common import KIND_LABELS, STATUS_LABELS, _require_send, _show_number, rowcount
from meike.services.sms.sending import sent_today_in
from meike.services.sms.templates import ensure_default_templates

# --- the send log ---------------------------------------------------------------------------------


def _visible(actor: Actor) -> Any:
    """Messages of customers in scope, and those the actor typed a number for."""
    return or_(SmsMessage.customer_id.in_(select(Customer.id).where(scope.customer_clause(actor))),
               (SmsMessage.customer_id.is_(None)) & (SmsMessage.created_by_id == actor.user_id))


@dataclass(frozen=True)
class SmsRow:
    id: int
    created_at: datetime
    number: str  # masked
    customer_id: int | None
    customer_name: str
    kind: str
    text: str
    status: str
    attempts: int
    last_error: str
    sent_at: datetime | None
    next_attempt_at: datetime
    channel: str
    created_by: str
    batch_key: str
    parts: int

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)

    @property
    def kind_label(self) -> str:
        return KIND_LABELS.get(self.kind, self.kind)


def _log_query(actor: Actor, status: str | None, customer_id: int | None) -> Select[Any]:
    q = select(SmsMessage).where(_visible(actor))
    if status:
        if status not in STATUS_LABELS:
            raise ValidationError.single("status", "状态无效")
        q = q.where(SmsMessage.status == status)
    if customer_id is not None:
        q = q.where(SmsMessage.customer_id == customer_id)
    return q


def count_messages(clinic: Clinic, actor: Actor, *, status: str | None = None, customer_id: int | None = None) -> int:
    _require_send(actor)
    with clinic.read() as s:
        return s.scalar(select(func.count()).select_from(_log_query(actor, status, customer_id).subquery())) or 0


def list_messages(clinic: Clinic, actor: Actor, *, status: str | None = None, customer_id: int | None = None,
                  offset: int = 0, limit: int = 100) -> list[SmsRow]:
    """One page of the send log, newest first, in the actor's scope."""
    _require_send(actor)
    page = _log_query(actor, status, customer_id).order_by(desc(SmsMessage.id)).offset(offset).limit(limit)
    with clinic.read() as s:
        messages = list(s.scalars(page))
        customers = {c.id: c.name for c in s.scalars(select(Customer).where(
            Customer.id.in_({m.customer_id for m in messages if m.customer_id is not None})))}
        users: dict[int, str] = {int(i): str(name) for i, name in s.execute(
            select(User.id, func.coalesce(func.nullif(User.display_name, ""), User.username))
            .where(User.id.in_({m.created_by_id for m in messages if m.created_by_id})))}
        return [SmsRow(m.id, m.created_at, _show_number(actor, m.number), m.customer_id,
                       customers.get(m.customer_id, "") if m.customer_id else "", m.kind, m.text, m.status,
                       m.attempts, m.last_error, m.sent_at, m.next_attempt_at, m.channel,
                       users.get(m.created_by_id, "系统") if m.created_by_id else "系统（自动）", m.batch_key,
                       adapters().sms_parts(m.text) if m.text else 0)
                for m in messages]


@dataclass(frozen=True)
class SmsCounts:
    by_status: dict[str, int]
    sent_today: int
    daily_limit: int
    channel: str

    @property
    def limit_reached(self) -> bool:
        return self.sent_today >= self.daily_limit


def counts(clinic: Clinic, actor: Actor, *, now: datetime | None = None) -> SmsCounts:
    """Counts by status (in scope) and today's sends against the clinic's daily limit (all)."""
    _require_send(actor)
    now = now or clock.now()
    with clinic.read() as s:
        rows: dict[str, int] = {str(status): int(n) for status, n in s.execute(
            select(SmsMessage.status, func.count()).where(_visible(actor)).group_by(SmsMessage.status))}
        settings = load_channel(s)
        return SmsCounts({k: int(rows.get(k, 0)) for k in STATUS_LABELS}, sent_today_in(s, now),
                         settings.daily_limit, settings.channel)


def _load_message(s: Session, actor: Actor, message_id: int) -> SmsMessage:
    m = s.scalar(select(SmsMessage).where(SmsMessage.id == message_id, _visible(actor)))
    if m is None:
        raise NotFound("短信不存在或不在您的查看范围内")
    return m


def cancel(clinic: Clinic, actor: Actor, message_id: int) -> None:
    """取消发送 of a message still waiting in the queue."""
    _require_send(actor)
    with clinic.write() as s:
        m = _load_message(s, actor, message_id)
        if m.status != "queued":
            raise ValidationError.single("status", f"这条短信{STATUS_LABELS[m.status]}，不能取消")
        m.status, m.last_error = "cancelled", f"已由 {actor.label} 取消"


def cancel_batch(clinic: Clinic, actor: Actor, batch_key: str) -> int:
    """Cancel what is still queued of one 群发 (in the actor's scope); returns how many."""
    _require_send(actor)
    if not batch_key:
        raise ValidationError.single("batch", "这条短信不是群发")
    with clinic.write() as s:
        n = rowcount(s.execute(update(SmsMessage).where(SmsMessage.batch_key == batch_key, SmsMessage.status == "queued",
                                               _visible(actor))
                      .values(status="cancelled", last_error=f"已由 {actor.label} 取消（整批）")
                      .execution_options(synchronize_session=False)))
        audit.record(s, actor, "sms.batch.cancel", "sms_message", None, after={"batch_key": batch_key, "cancelled": n})
        return n


def retry(clinic: Clinic, actor: Actor, message_id: int, *, now: datetime | None = None) -> None:
    """重新发送 a failed (or cancelled) message: back into the queue, attempts counted afresh."""
    _require_send(actor)
    now = now or clock.now()
    with clinic.write() as s:
        m = _load_message(s, actor, message_id)
        if m.status not in ("failed", "cancelled"):
            raise ValidationError.single("status", f"这条短信{STATUS_LABELS[m.status]}，不需要重发")
        if m.customer_id is not None:
            customer = s.get(Customer, m.customer_id)
            if customer is not None and not customer.sms_opt_in:
                raise ValidationError.single("customer", "顾客已设置拒收短信，不能重发")
        m.status, m.attempts, m.next_attempt_at, m.last_error = "queued", 0, now, ""



def use_simulated_modem(clinic: Clinic, port: str) -> None:
    """The demo with ``--simulate-devices``: send through the simulated 短信猫 on ``port``."""
    ensure_default_templates(clinic)
    with clinic.write() as s:
        current = load_channel(s)
        configure_channel_in(s, replace(current, channel="gsm", gsm_port=port, gsm_baud=115200,
                                        gsm_host=socket.gethostname()))
