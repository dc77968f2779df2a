"""Reminders: the customer keys copied onto each and the tallies kept by triggers."""

from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from meike.check.common import scalar, who
from meike.check.report import MAX_DETAILS, CheckReport
from meike.models import (
    Customer,
    Reminder,
    ReminderTally,
)
from meike.services.followups import KINDS, TALLY_KEYS, tallies_recounted


def reminder_scope(s: Session, report: CheckReport) -> None:
    """The customer keys copied onto each reminder (kept by triggers) equal the customer's own."""
    pairs = ((Reminder.scope_department_id, Customer.department_id),
             (Reminder.scope_registered_by_id, Customer.registered_by_id),
             (Reminder.scope_cs_staff_id, Customer.cs_staff_id),
             (Reminder.scope_consultant_id, Customer.consultant_id))
    differs = or_(*(copy.is_distinct_from(own) for copy, own in pairs))
    q = (select(Reminder.id, Customer.name, Customer.card_no).join(Customer, Customer.id == Reminder.customer_id)
         .where(differs).order_by(Reminder.id))
    rows = s.execute(q.limit(MAX_DETAILS)).all()
    if rows:
        total = scalar(s, select(func.count()).select_from(q.subquery()))
        report.add("reminder_scope", [f"提醒 #{rid}（{who(name, card)}）的查看范围与顾客资料不一致"
                                      for rid, name, card in rows])
        if total > len(rows):
            report.omitted["reminder_scope"] = report.omitted.get("reminder_scope", 0) + total - len(rows)


def reminder_tallies(s: Session, report: CheckReport) -> None:
    """The tallies (kept by triggers) equal a fresh count of the open reminders due before their date."""
    kept = {(t.kind, *(getattr(t, key) for key, _column in TALLY_KEYS)): t.n
            for t in s.scalars(select(ReminderTally)) if t.n != 0}
    fresh = tallies_recounted(s)
    wrong = sorted(set(kept) | set(fresh), key=lambda k: tuple(str(part) for part in k))
    details = [f"{KINDS.get(k[0], k[0])}（科室 {k[1]}、登记人 {k[2]}、客服 {k[3]}、咨询师 {k[4]}、负责人 {k[5]}）："
               f"累计 {kept.get(k, 0)} 条，实有 {fresh.get(k, 0)} 条"
               for k in wrong if kept.get(k, 0) != fresh.get(k, 0)]
    report.add("reminder_tally", details)
