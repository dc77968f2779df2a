"""Login throttling: failures and the wait they impose, per typed account name and per workstation."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from meike.models.base import Base


class LoginThrottle(Base):
    """One name (known or not: the same row either way, so the answer never tells them apart) or one
    workstation. ``key`` is a SHA-256 of it, so no typed text is stored here."""

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime] = mapped_column(DateTime)
    blocked_until: Mapped[datetime | None] = mapped_column(DateTime)

    __table_args__ = (Index("ix_login_throttles_last_failure_at", "last_failure_at"),)
