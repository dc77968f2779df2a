"""Appointments 预约 and visits 到诊: booked at the front desk, triaged to a consultant on arrival."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from meike.models.base import Base
from meike.models.customers import Customer
from meike.models.dictionaries import Staff


class Appointment(Base):
    """A booking made at registration 挂号: when the customer is expected and for what."""

    __tablename__ = "appointments"
    __table_args__ = (Index("ix_appointments_status_at", "status", "appointment_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    appointment_at: Mapped[datetime] = mapped_column(DateTime)
    items: Mapped[str] = mapped_column(String(200), default="")  # intended items, as the desk typed them
    cs_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    status: Mapped[str] = mapped_column(String(12), default="booked")  # booked / arrived / cancelled
    notes: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    customer: Mapped[Customer] = relationship()

    # Every UPDATE checks and bumps the version: two PCs never silently overwrite each other.
    __mapper_args__ = {"version_id_col": version}


class Visit(Base):
    """One arrival 到诊 of a customer, assigned to an on-site consultant. Never deleted: rejected instead."""

    __tablename__ = "visits"
    __table_args__ = (
        Index("ix_visits_customer_arrived", "customer_id", "arrived_at"),
        Index("ix_visits_day_status", "business_date", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointments.id"))
    arrived_at: Mapped[datetime] = mapped_column(DateTime)
    business_date: Mapped[date] = mapped_column(Date)
    visit_type: Mapped[str] = mapped_column(String(12))  # first / revisit / repeat / other
    consultant_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    status: Mapped[str] = mapped_column(String(12), default="active")  # active / rejected
    is_deal: Mapped[bool] = mapped_column(default=False)
    reject_reason: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    customer: Mapped[Customer] = relationship()
    consultant: Mapped[Staff | None] = relationship()
