"""Customers 顾客: the person, how they came, who looks after them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from meike.models.base import Base
from meike.models.dictionaries import Channel, Department, InfoSource, MemberLevel, Staff


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    card_no: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(40), index=True)
    name_initials: Mapped[str] = mapped_column(String(20), index=True, default="")
    gender: Mapped[str] = mapped_column(String(1), default="F")  # F / M / U
    mobile: Mapped[str] = mapped_column(String(20), index=True)
    mobile_last4: Mapped[str] = mapped_column(String(4), index=True, default="")
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    registered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    cs_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    consultant_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    channel_id: Mapped[int | None] = mapped_column(ForeignKey("channels.id"))
    info_source_id: Mapped[int | None] = mapped_column(ForeignKey("info_sources.id"))
    member_level_id: Mapped[int | None] = mapped_column(ForeignKey("member_levels.id"))
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, index=True)

    department: Mapped[Department | None] = relationship()
    cs_staff: Mapped[Staff | None] = relationship(foreign_keys=[cs_staff_id])
    consultant: Mapped[Staff | None] = relationship(foreign_keys=[consultant_id])
    channel: Mapped[Channel | None] = relationship()
    info_source: Mapped[InfoSource | None] = relationship()
    member_level: Mapped[MemberLevel | None] = relationship()
