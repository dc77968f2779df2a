"""Consultation 咨询记录 and treatment 手术记录 records, and the reminders 提醒 they set."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, DateTime, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from meike.models.base import Base, Money


class Consultation(Base):
    __tablename__ = "consultations"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id"))
    consultant_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    items: Mapped[str] = mapped_column(String(200), default="")
    content: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(12), default="active")  # active / void
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime)


class Treatment(Base):
    """A procedure agreed or done. Saving it raises an unpaid charge (an order) in the cashier."""

    __tablename__ = "treatments"
    __table_args__ = (CheckConstraint("price_fen >= 0", name="price_not_negative"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id"))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    item_name: Mapped[str] = mapped_column(String(60))
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    price_fen: Mapped[int] = mapped_column(Money())  # unit price agreed
    doctor_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    performed_on: Mapped[date] = mapped_column(Date)
    notes: Mapped[str] = mapped_column(Text, default="")
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(12), default="active")  # active / void
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime)


class Reminder(Base):
    """A due follow-up: 追单 chase (kind ``chase``) or 术后回访 post-op (kind ``postop``)."""

    __tablename__ = "reminders"
    __table_args__ = (
        Index("ix_reminders_open_due", "status", "kind", "due_date"),
        Index("ix_reminders_assignee_due", "assignee_id", "status", "due_date"),
        # Scoped dashboard counts read this index alone: open reminders by kind and due date, with the
        # customer's scope keys copied alongside (see below).
        Index("ix_reminders_open_scope", "status", "kind", "due_date", "scope_department_id",
              "scope_registered_by_id", "scope_cs_staff_id", "scope_consultant_id", "assignee_id",
              sqlite_where=text("status = 'open'"), postgresql_where=text("status = 'open'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    kind: Mapped[str] = mapped_column(String(12))
    due_date: Mapped[date] = mapped_column(Date)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str] = mapped_column(Text, default="")
    consultation_id: Mapped[int | None] = mapped_column(ForeignKey("consultations.id"))
    treatment_id: Mapped[int | None] = mapped_column(ForeignKey("treatments.id"))
    status: Mapped[str] = mapped_column(String(12), default="open")  # open / done / cancelled
    result: Mapped[str] = mapped_column(Text, default="")
    done_at: Mapped[datetime | None] = mapped_column(DateTime)
    done_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    # Copies of the customer's scope keys (department, registrar, customer service, consultant), so a
    # scoped count needs no join to customers. Database triggers keep them equal to the customer's
    # (migration 0010) whoever writes; the ORM never sets them. ``python main.py --check`` compares.
    scope_department_id: Mapped[int | None] = mapped_column(Integer)
    scope_registered_by_id: Mapped[int | None] = mapped_column(Integer)
    scope_cs_staff_id: Mapped[int | None] = mapped_column(Integer)
    scope_consultant_id: Mapped[int | None] = mapped_column(Integer)


class ReminderTally(Base):
    """How many open reminders were due before ``ReminderTallyState.counted_before``, per kind and per
    combination of scope keys (0 where the key is empty).

    The dashboard's "due" counts add these few rows (a few thousand at most, however many reminders
    have piled up overdue) to the reminders due since then, instead of counting every open overdue
    reminder of the actor's scope one by one (issue 3). Database triggers (migration 0012) keep the
    tallies equal to the reminders on every insert, change and delete, on SQLite and PostgreSQL;
    ``followups.catch_up_tallies`` moves the date forward each day; ``--check`` recounts them.
    """

    __tablename__ = "reminder_tallies"

    kind: Mapped[str] = mapped_column(String(12), primary_key=True)
    department_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    registered_by_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cs_staff_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    consultant_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    assignee_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    n: Mapped[int] = mapped_column(Integer)


class ReminderTallyState(Base):
    """The one row (id 1) saying up to which date ``reminder_tallies`` has counted: reminders due
    strictly before ``counted_before`` are in the tallies."""

    __tablename__ = "reminder_tally_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    counted_before: Mapped[date] = mapped_column(Date)
