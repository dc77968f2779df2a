"""Triage 分诊: an arrival is assigned to an on-site consultant; reassign 改派, reject / restore.

A visit is never deleted (seed 003): a wrong one is rejected with a reason and can be restored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from meike import clock
from meike.db import Clinic
from meike.errors import NotFound, ValidationError
from meike.models import Appointment, Staff, StaffRole, Visit
from meike.permissions import Actor, Page
from meike.rules.customer_class import VISIT_TYPE_LABELS, VisitType, suggest_visit_type
from meike.rules.text import clean_text
from meike.services import audit
from meike.services.customers import load_in_scope
from meike.services.history import in_treatment_course, purchase_occasions

CONSULTANT_ROLE = "onsite_consultant"


def suggest_type(clinic: Clinic, actor: Actor, customer_id: int) -> VisitType:
    actor.require_page(Page.CUSTOMERS)
    with clinic.read() as s:
        load_in_scope(s, actor, customer_id)
        return suggest_visit_type(purchase_occasions=purchase_occasions(s, customer_id),
                                  in_treatment_course=in_treatment_course(s, customer_id))


def _consultant(s: Session, staff_id: int | None) -> Staff:
    staff = s.get(Staff, staff_id) if staff_id else None
    if staff is None or not staff.is_active:
        raise ValidationError.single("consultant_id", "请选择现场咨询")
    if CONSULTANT_ROLE not in staff.role_codes:
        raise ValidationError.single("consultant_id", f"{staff.name}不是现场咨询")
    return staff


def arrive(clinic: Clinic, actor: Actor, customer_id: int, *, consultant_id: int | None,
           visit_type: str | None = None, now: datetime | None = None) -> int:
    """分配到诊: record today's arrival and assign the consultant. One active visit a day."""
    actor.require_page(Page.CUSTOMERS)
    now = now or clock.now()
    with clinic.write() as s:
        customer = load_in_scope(s, actor, customer_id)
        staff = _consultant(s, consultant_id)
        if visit_type is None:
            visit_type = suggest_visit_type(purchase_occasions=purchase_occasions(s, customer_id),
                                            in_treatment_course=in_treatment_course(s, customer_id)).value
        if visit_type not in {v.value for v in VisitType}:
            raise ValidationError.single("visit_type", "请选择到诊类型")
        today = s.scalar(select(Visit.id).where(Visit.customer_id == customer_id, Visit.status == "active",
                                                Visit.business_date == now.date()))
        if today is not None:
            raise ValidationError.single("consultant_id", f"{customer.name}今天已分诊，如需换人请使用“改派”")
        appointment = s.scalar(
            select(Appointment).where(Appointment.customer_id == customer_id, Appointment.status == "booked",
                                      Appointment.appointment_at < datetime.combine(now.date() + timedelta(days=1), time()))
            .order_by(Appointment.appointment_at.desc()).limit(1)
        )
        visit = Visit(customer_id=customer_id, appointment_id=appointment.id if appointment else None,
                      arrived_at=now, business_date=now.date(), visit_type=visit_type, consultant_id=staff.id,
                      created_by_id=actor.user_id)
        s.add(visit)
        if appointment is not None:
            appointment.status = "arrived"
        customer.consultant_id = staff.id
        s.flush()
        audit.record(s, actor, "visit.create", "visit", visit.id,
                     after={"customer": customer.name, "consultant": staff.name, "visit_type": visit_type})
        return visit.id


def _visit(s: Session, actor: Actor, visit_id: int) -> Visit:
    visit = s.get(Visit, visit_id)
    if visit is None:
        raise NotFound("到诊记录不存在")
    load_in_scope(s, actor, visit.customer_id)
    return visit


def reassign(clinic: Clinic, actor: Actor, visit_id: int, *, consultant_id: int | None) -> None:
    """改派: the visit moves to the new consultant's list."""
    actor.require_page(Page.CUSTOMERS)
    with clinic.write() as s:
        visit = _visit(s, actor, visit_id)
        if visit.status != "active":
            raise ValidationError.single("consultant_id", "已作废的到诊不能改派，请先恢复")
        staff = _consultant(s, consultant_id)
        before = visit.consultant_id
        if before == staff.id:
            return
        visit.consultant_id = staff.id
        visit.customer.consultant_id = staff.id
        audit.record(s, actor, "visit.reassign", "visit", visit.id,
                     before={"consultant_id": before}, after={"consultant_id": staff.id})


def change_type(clinic: Clinic, actor: Actor, visit_id: int, visit_type: str) -> None:
    actor.require_page(Page.CUSTOMERS)
    if visit_type not in {v.value for v in VisitType}:
        raise ValidationError.single("visit_type", "请选择到诊类型")
    with clinic.write() as s:
        visit = _visit(s, actor, visit_id)
        if visit.visit_type != visit_type:
            audit.record(s, actor, "visit.type", "visit", visit.id,
                         before={"visit_type": visit.visit_type}, after={"visit_type": visit_type})
            visit.visit_type = visit_type


def reject(clinic: Clinic, actor: Actor, visit_id: int, *, reason: str) -> None:
    """作废 a visit entered by mistake (reason required); it stays on file and can be restored."""
    actor.require_page(Page.CUSTOMERS)
    reason = clean_text(reason, field="reason", label="作废原因", limit=200, required=True)
    with clinic.write() as s:
        visit = _visit(s, actor, visit_id)
        if visit.status == "rejected":
            return
        visit.status = "rejected"
        visit.reject_reason = reason
        audit.record(s, actor, "visit.reject", "visit", visit.id, after={"reason": reason})


def restore(clinic: Clinic, actor: Actor, visit_id: int) -> None:
    actor.require_page(Page.CUSTOMERS)
    with clinic.write() as s:
        visit = _visit(s, actor, visit_id)
        if visit.status == "active":
            return
        clash = s.scalar(select(Visit.id).where(Visit.customer_id == visit.customer_id, Visit.status == "active",
                                                Visit.business_date == visit.business_date))
        if clash is not None:
            raise ValidationError.single("reason", "当天已有一条有效到诊，不能恢复")
        visit.status = "active"
        audit.record(s, actor, "visit.restore", "visit", visit.id, before={"reason": visit.reject_reason})
        visit.reject_reason = ""


@dataclass(frozen=True)
class VisitRow:
    id: int
    arrived_at: datetime
    visit_type: str
    visit_type_label: str
    consultant: str
    status: str
    is_deal: bool
    reject_reason: str


def list_visits(clinic: Clinic, actor: Actor, customer_id: int) -> list[VisitRow]:
    actor.require_page(Page.CUSTOMERS)
    with clinic.read() as s:
        load_in_scope(s, actor, customer_id)
        q = (select(Visit, Staff.name).outerjoin(Staff, Staff.id == Visit.consultant_id)
             .where(Visit.customer_id == customer_id).order_by(Visit.arrived_at.desc()))
        return [VisitRow(v.id, v.arrived_at, v.visit_type, VISIT_TYPE_LABELS[VisitType(v.visit_type)],
                         name or "", v.status, v.is_deal, v.reject_reason) for v, name in s.execute(q)]


def consultants(clinic: Clinic, actor: Actor) -> list[tuple[int, str]]:
    """Active on-site consultants for the triage menu."""
    actor.require_page(Page.CUSTOMERS)
    with clinic.read() as s:
        q = (select(Staff.id, Staff.name).join(StaffRole, StaffRole.staff_id == Staff.id)
             .where(StaffRole.role == CONSULTANT_ROLE, Staff.is_active.is_(True)).order_by(Staff.sort_order))
        return [(i, n) for i, n in s.execute(q)]

