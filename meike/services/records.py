"""Consultation 咨询记录 and treatment 手术记录 records of a customer (the detail dialog's tabs).

A consultation may set a chase reminder 追单. A treatment names the item, doctor and agreed price
(below the item's minimum only with a supervisor), raises an unpaid charge in the cashier and sets
the post-op follow-ups 术后回访 (day 2, 7 and 15 unless the settings say otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from meike import clock
from meike.db import Clinic
from meike.errors import ValidationError
from meike.models import Consultation, Item, Order, Staff, StaffRole, Treatment, Visit
from meike.permissions import Actor, Page
from meike.rules.text import CONTENT_MAX, NOTE_MAX, clean_text, take_text
from meike.services import audit, cashier, followups, system
from meike.services.cashier import STATUS_LABELS
from meike.services.customers import load_in_scope
from meike.services.dictionaries import STAFF_ROLES


def _require(actor: Actor) -> None:
    actor.require_page(Page.CUSTOMERS)


def _visit_for(s: Session, customer_id: int, visit_id: int | None, today: date) -> int | None:
    """The given visit (checked to be this customer's), else today's active visit, else none."""
    if visit_id is not None:
        visit = s.get(Visit, visit_id)
        if visit is None or visit.customer_id != customer_id:
            raise ValidationError.single("visit_id", "到诊记录不属于该顾客")
        return visit.id
    return s.scalar(select(Visit.id).where(Visit.customer_id == customer_id, Visit.status == "active",
                                           Visit.business_date == today).order_by(Visit.id.desc()).limit(1))


def _staff(s: Session, staff_id: int | None, role: str, field: str, label: str, *, required: bool) -> int | None:
    if staff_id is None:
        if required:
            raise ValidationError.single(field, f"请选择{label}")
        return None
    ok = s.scalar(select(Staff.id).join(StaffRole, StaffRole.staff_id == Staff.id)
                  .where(Staff.id == staff_id, StaffRole.role == role))
    if ok is None:
        raise ValidationError.single(field, f"所选员工不是{label}")
    return staff_id


def add_consultation(clinic: Clinic, actor: Actor, customer_id: int, *, content: str, items: str = "",
                     consultant_id: int | None = None, visit_id: int | None = None,
                     reminder_due: date | None = None, reminder_assignee_id: int | None = None,
                     reminder_note: str = "", now: datetime | None = None) -> int:
    """Record what was discussed; with ``reminder_due`` a chase follow-up 追单 is set in the same save."""
    _require(actor)
    now = now or clock.now()
    errors: dict[str, str] = {}
    content = take_text(errors, content, field="content", label="咨询内容", limit=CONTENT_MAX, multiline=True,
                        required=True)
    items = take_text(errors, items, field="items", label="意向项目", limit=200)
    reminder_note = take_text(errors, reminder_note, field="reminder_note", label="提醒备注", limit=NOTE_MAX,
                              multiline=True)
    if reminder_due is not None and reminder_due < now.date():
        errors["reminder_due"] = "提醒日期不能早于今天"
    if errors:
        raise ValidationError(errors)
    with clinic.write() as s:
        customer = load_in_scope(s, actor, customer_id)
        consultant = _staff(s, consultant_id, "onsite_consultant", "consultant_id", "现场咨询", required=False)
        record = Consultation(customer_id=customer.id, visit_id=_visit_for(s, customer.id, visit_id, now.date()),
                              consultant_id=consultant, items=items, content=content,
                              created_by_id=actor.user_id, created_at=now)
        s.add(record)
        s.flush()
        audit.record(s, actor, "consultation.create", "consultation", record.id, after={"customer_id": customer.id})
        if reminder_due is not None:
            followups.add_in(s, actor, customer_id=customer.id, kind="chase", due=reminder_due,
                             assignee_id=reminder_assignee_id, note=reminder_note or items,
                             consultation_id=record.id)
        return record.id


def postop_days(clinic: Clinic) -> list[int]:
    return [int(d) for d in str(system.get(clinic, "followup.postop_days")).split(",") if d]


def add_treatment(clinic: Clinic, actor: Actor, customer_id: int, *, item_id: int | None, doctor_id: int | None,
                  performed_on: date, quantity: int = 1, price_fen: int | None = None, notes: str = "",
                  visit_id: int | None = None, followup_days: list[int] | None = None,
                  followup_assignee_id: int | None = None, supervisor: Actor | None = None,
                  now: datetime | None = None) -> int:
    """Record a treatment; its charge goes to the cashier unpaid, its post-op follow-ups are set.

    ``followup_days`` None uses the clinic's setting (2, 7, 15); an empty list sets none.
    """
    _require(actor)
    now = now or clock.now()
    if item_id is None:
        raise ValidationError.single("item_id", "请选择项目")
    notes = clean_text(notes, field="notes", label="备注", limit=NOTE_MAX, multiline=True)
    if followup_days is None:
        followup_days = postop_days(clinic)
    if any(not 0 < d <= 365 for d in followup_days):
        raise ValidationError.single("followup_days", "回访天数应在 1–365 之间")
    with clinic.write() as s:
        customer = load_in_scope(s, actor, customer_id)
        doctor = _staff(s, doctor_id, "doctor", "doctor_id", "医生", required=True)
        item = s.get(Item, item_id)
        if item is None:
            raise ValidationError.single("item_id", "项目不存在")
        price = item.price_fen if price_fen is None else price_fen
        visit = _visit_for(s, customer.id, visit_id, now.date())
        try:
            order = cashier.open_order_in(s, actor, customer, [cashier.LineSpec(item.id, quantity, price, doctor)],
                                          supervisor=supervisor, visit_id=visit)
        except ValidationError as e:  # the cashier's names → this form's fields
            rename = {"lines": "item_id", "price": "price_fen"}
            raise ValidationError({rename.get(k, k): v for k, v in e.errors.items()}) from None
        record = Treatment(customer_id=customer.id, visit_id=visit, item_id=item.id, item_name=item.name,
                           quantity=quantity, price_fen=price, doctor_id=doctor, performed_on=performed_on,
                           notes=notes, order_id=order.id,
                           approved_by_id=(supervisor.user_id if supervisor and (price < item.min_price_fen
                                                                                  or price == 0 < item.price_fen)
                                           else None),
                           created_by_id=actor.user_id, created_at=now)
        s.add(record)
        s.flush()
        audit.record(s, actor, "treatment.create", "treatment", record.id,
                     after={"customer_id": customer.id, "item": item.name, "price_fen": price, "order_id": order.id})
        for days in sorted(set(followup_days)):
            followups.add_in(s, actor, customer_id=customer.id, kind="postop",
                             due=performed_on + timedelta(days=days), assignee_id=followup_assignee_id,
                             note=f"{item.name} 术后第 {days} 天回访", treatment_id=record.id)
        return record.id


@dataclass(frozen=True)
class ConsultationRow:
    id: int
    created_at: datetime
    consultant: str
    items: str
    content: str


def list_consultations(clinic: Clinic, actor: Actor, customer_id: int) -> list[ConsultationRow]:
    _require(actor)
    with clinic.read() as s:
        load_in_scope(s, actor, customer_id)
        q = (select(Consultation, Staff.name).outerjoin(Staff, Staff.id == Consultation.consultant_id)
             .where(Consultation.customer_id == customer_id, Consultation.status == "active")
             .order_by(Consultation.created_at.desc(), Consultation.id.desc()))
        return [ConsultationRow(c.id, c.created_at, name or "", c.items, c.content) for c, name in s.execute(q)]


@dataclass(frozen=True)
class TreatmentRow:
    id: int
    performed_on: date
    item_name: str
    quantity: int
    price_fen: int
    doctor: str
    charge_status: str
    notes: str


def list_treatments(clinic: Clinic, actor: Actor, customer_id: int) -> list[TreatmentRow]:
    _require(actor)
    with clinic.read() as s:
        load_in_scope(s, actor, customer_id)
        q = (select(Treatment, Staff.name, Order.status).outerjoin(Staff, Staff.id == Treatment.doctor_id)
             .outerjoin(Order, Order.id == Treatment.order_id)
             .where(Treatment.customer_id == customer_id, Treatment.status == "active")
             .order_by(Treatment.performed_on.desc(), Treatment.id.desc()))
        return [TreatmentRow(t.id, t.performed_on, t.item_name, t.quantity, t.price_fen, doctor or "",
                             STATUS_LABELS.get(status or "", ""), t.notes) for t, doctor, status in s.execute(q)]


@dataclass(frozen=True)
class ChargeRow:
    id: int
    created_at: datetime
    total_fen: int
    status: str
    receipt_no: str
    settled_at: datetime | None


def list_charges(clinic: Clinic, actor: Actor, customer_id: int) -> list[ChargeRow]:
    """The customer's orders (the 收费记录 tab)."""
    _require(actor)
    with clinic.read() as s:
        load_in_scope(s, actor, customer_id)
        q = select(Order).where(Order.customer_id == customer_id).order_by(Order.created_at.desc(), Order.id.desc())
        return [ChargeRow(o.id, o.created_at, o.total_fen, STATUS_LABELS.get(o.status, o.status), o.receipt_no or "",
                          o.settled_at) for o in s.scalars(q)]


def staff_choices(clinic: Clinic, actor: Actor, role: str) -> list[tuple[int, str]]:
    _require(actor)
    if role not in STAFF_ROLES:
        raise ValidationError.single("role", "岗位无效")
    with clinic.read() as s:
        q = (select(Staff.id, Staff.name).join(StaffRole, StaffRole.staff_id == Staff.id)
             .where(StaffRole.role == role, Staff.is_active.is_(True)).order_by(Staff.sort_order, Staff.id))
        return [(i, n) for i, n in s.execute(q)]
