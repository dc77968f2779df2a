"""Appointments 预约: booking, listing, changing and cancelling."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from meike import clock
from meike.db import Clinic
from meike.errors import ConflictError, NotFound, ValidationError
from meike.models import Appointment, Customer
from meike.permissions import Actor, Page
from meike.rules.text import NOTE_MAX, clean_text, take_text
from meike.services import audit
from meike.services.customers.query import _require_customer_page
from meike.services.customers.search import load_in_scope


def _appointment_errors(appointment_at: datetime | None, now: datetime) -> dict[str, str]:
    if appointment_at is not None and appointment_at < now - timedelta(minutes=5):
        return {"appointment_at": "预约时间不能早于现在"}
    return {}

def _appointment_texts(items: object, notes: object, prefix: str = "") -> tuple[str, str]:
    """The typed items and note of an appointment, cleaned (fields ``items`` / ``notes``, with ``prefix``)."""
    errors: dict[str, str] = {}
    items = take_text(errors, items, field=f"{prefix}items", label="意向项目", limit=200)
    notes = take_text(errors, notes, field=f"{prefix}notes", label="预约备注", limit=NOTE_MAX, multiline=True)
    if errors:
        raise ValidationError(errors)
    return items, notes


def _add_appointment(s: Session, actor: Actor, customer: Customer, at: datetime, items: str, notes: str,
                     now: datetime) -> Appointment:
    items, notes = _appointment_texts(items, notes)
    appointment = Appointment(customer_id=customer.id, appointment_at=at, items=items,
                              cs_staff_id=customer.cs_staff_id, notes=notes, created_by_id=actor.user_id,
                              created_at=now)
    s.add(appointment)
    s.flush()
    audit.record(s, actor, "appointment.create", "appointment", appointment.id,
                 after={"customer_id": customer.id, "at": at, "items": appointment.items})
    return appointment


def book_appointment(clinic: Clinic, actor: Actor, customer_id: int, *, appointment_at: datetime,
                     items: str = "", notes: str = "", now: datetime | None = None) -> int:
    """A new appointment for a customer on file (the answer to a duplicate mobile at registration)."""
    actor.require_page(Page.REGISTRATION)
    now = now or clock.now()
    errors = _appointment_errors(appointment_at, now)
    if errors:
        raise ValidationError(errors)
    with clinic.write() as s:
        customer = load_in_scope(s, actor, customer_id)
        return _add_appointment(s, actor, customer, appointment_at, items, notes, now).id


APPOINTMENT_STATUS = {"booked": "已预约", "arrived": "已到诊", "cancelled": "已取消"}
STALE_APPOINTMENT = "这条预约在您打开后已被其他电脑修改，您的修改没有保存，请刷新后再改"


@dataclass(frozen=True)
class AppointmentRow:
    id: int
    appointment_at: datetime
    items: str
    notes: str
    status: str
    status_label: str
    version: int  # hand back to change / cancel


def list_appointments(clinic: Clinic, actor: Actor, customer_id: int) -> list[AppointmentRow]:
    """A customer's appointments, newest first."""
    _require_customer_page(actor)
    with clinic.read() as s:
        load_in_scope(s, actor, customer_id)
        rows = s.scalars(select(Appointment).where(Appointment.customer_id == customer_id)
                         .order_by(Appointment.appointment_at.desc(), Appointment.id.desc()))
        return [AppointmentRow(a.id, a.appointment_at, a.items, a.notes, a.status,
                               APPOINTMENT_STATUS.get(a.status, a.status), a.version) for a in rows]


def _booked(s: Session, actor: Actor, appointment_id: int, expected_version: int | None) -> Appointment:
    appointment = s.get(Appointment, appointment_id, with_for_update=True)
    if appointment is None:
        raise NotFound("预约不存在")
    load_in_scope(s, actor, appointment.customer_id)
    if expected_version is not None and appointment.version != expected_version:
        raise ConflictError(STALE_APPOINTMENT)
    if appointment.status != "booked":
        raise ValidationError.single("appointment_at", f"该预约{APPOINTMENT_STATUS.get(appointment.status, '')}，不能再改")
    return appointment


def change_appointment(clinic: Clinic, actor: Actor, appointment_id: int, *, appointment_at: datetime,
                       items: str, notes: str, expected_version: int | None = None,
                       now: datetime | None = None) -> None:
    """改约: another time, items or note. Refused when another workstation changed it meanwhile."""
    actor.require_page(Page.REGISTRATION)
    now = now or clock.now()
    errors = _appointment_errors(appointment_at, now)
    if errors:
        raise ValidationError(errors)
    items, notes = _appointment_texts(items, notes)
    with clinic.write() as s:
        appointment = _booked(s, actor, appointment_id, expected_version)
        before = {"at": appointment.appointment_at, "items": appointment.items, "notes": appointment.notes}
        appointment.appointment_at = appointment_at
        appointment.items = items
        appointment.notes = notes
        audit.record(s, actor, "appointment.update", "appointment", appointment.id, before=before,
                     after={"at": appointment_at, "items": appointment.items, "notes": appointment.notes})


def cancel_appointment(clinic: Clinic, actor: Actor, appointment_id: int, *, reason: str,
                       expected_version: int | None = None) -> None:
    """取消预约 with a reason (kept in the note); the row stays."""
    actor.require_page(Page.REGISTRATION)
    reason = clean_text(reason, field="reason", label="取消原因", limit=200, required=True)
    with clinic.write() as s:
        appointment = _booked(s, actor, appointment_id, expected_version)
        appointment.status = "cancelled"
        appointment.notes = f"{appointment.notes}（取消：{reason}）".lstrip()
        audit.record(s, actor, "appointment.cancel", "appointment", appointment.id, before={"status": "booked"},
                     after={"status": "cancelled", "reason": reason})
