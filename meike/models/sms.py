"""SMS 短信: the persistent outgoing queue (one row per message, also the send log) and the templates."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from meike.models.base import Base

MESSAGE_KINDS = ("appointment", "postop", "birthday", "manual", "marketing")
MESSAGE_STATUSES = ("queued", "sending", "sent", "failed", "cancelled")


class SmsTemplate(Base):
    """A message text with fields ``{姓名} {日期} {时间} {项目} {诊所}``; the platform channels send the
    pre-approved template ``aliyun_code`` / ``tencent_code`` with the same fields as variables."""

    __tablename__ = "sms_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(12), index=True)  # one of MESSAGE_KINDS
    name: Mapped[str] = mapped_column(String(40), unique=True)
    body: Mapped[str] = mapped_column(Text, default="")
    aliyun_code: Mapped[str] = mapped_column(String(40), default="")
    tencent_code: Mapped[str] = mapped_column(String(40), default="")
    active: Mapped[bool] = mapped_column(default=True)


class SmsMessage(Base):
    """One outgoing message: queued → sending → sent / failed, or cancelled while queued.

    ``dedupe_key`` (e.g. ``appt:<appointment id>:<date>``) is unique so a scheduler job never queues
    the same reminder twice; manual and batch messages leave it empty (NULL).
    """

    __tablename__ = "sms_messages"
    __table_args__ = (
        Index("ix_sms_messages_status_next", "status", "next_attempt_at"),
        Index("ix_sms_messages_created_at", "created_at"),
        Index("ix_sms_messages_customer_id", "customer_id"),
        Index("ix_sms_messages_batch_key", "batch_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    number: Mapped[str] = mapped_column(String(24))
    text: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[str] = mapped_column(String(12), default="manual")
    template_id: Mapped[int | None] = mapped_column(ForeignKey("sms_templates.id"))
    params: Mapped[str] = mapped_column(Text, default="{}")  # JSON: template field → value
    status: Mapped[str] = mapped_column(String(10), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime)
    last_error: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)
    channel: Mapped[str] = mapped_column(String(10), default="")  # gsm / aliyun / tencent, once tried
    reference: Mapped[str] = mapped_column(String(80), default="")  # modem refs / platform BizId
    batch_key: Mapped[str] = mapped_column(String(40), default="")
    dedupe_key: Mapped[str | None] = mapped_column(String(80), unique=True)
