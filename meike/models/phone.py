"""Call records 通话记录 of the phone desk 电话管理: who called (or was called), when, who answered."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from meike.models.base import Base


class CallRecord(Base):
    """One call. ``number`` is normalised (an empty number: withheld / unavailable); the customer is
    the one whose mobile matched when the call came in, if any."""

    __tablename__ = "call_records"
    __table_args__ = (
        Index("ix_call_records_started_at", "started_at"),
        Index("ix_call_records_customer_started", "customer_id", "started_at"),
        Index("ix_call_records_number", "number"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(24), default="")
    direction: Mapped[str] = mapped_column(String(3), default="in")  # in / out
    started_at: Mapped[datetime] = mapped_column(DateTime)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime)  # picked up (when the line tells)
    missed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())  # rang out unanswered
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recording_path: Mapped[str] = mapped_column(String(260), default="")
    note: Mapped[str] = mapped_column(Text, default="")
