"""Customer classes and visit types, exactly as the Hongmai data-entry standard (seed 003) defines them.

新客户 new: first purchase — one or several items, parts or course sessions bought in one sitting;
  a deposit paid first and the treatment paid on a later visit still makes one purchase.
老客户 returning: purchases on two or more occasions — different dates, or the same date at different
  times, or course sessions paid visit by visit.
潜在客户 potential: consulted (by phone/online or at the clinic) and never bought.

Visit types at triage (分诊): 初诊 first — first time at the clinic, or still never bought however
often they came; 再消费 repeat — has bought before; 复诊/复查 revisit — comes back for the next
session of an item being treated in several sessions (or a post-op check); 其它 other — gifts and
events, chosen by hand.
"""

from __future__ import annotations

from enum import StrEnum


class CustomerClass(StrEnum):
    NEW = "new"
    RETURNING = "returning"
    POTENTIAL = "potential"


CLASS_LABELS = {CustomerClass.NEW: "新客户", CustomerClass.RETURNING: "老客户", CustomerClass.POTENTIAL: "潜在客户"}


class VisitType(StrEnum):
    FIRST = "first"
    REVISIT = "revisit"
    REPEAT = "repeat"
    OTHER = "other"


VISIT_TYPE_LABELS = {VisitType.FIRST: "初诊", VisitType.REVISIT: "复诊", VisitType.REPEAT: "再消费",
                     VisitType.OTHER: "其它"}


def customer_class(purchase_occasions: int) -> CustomerClass:
    """Class from the number of purchase occasions (paid sittings; deposits alone do not count)."""
    if purchase_occasions <= 0:
        return CustomerClass.POTENTIAL
    if purchase_occasions == 1:
        return CustomerClass.NEW
    return CustomerClass.RETURNING


def suggest_visit_type(*, purchase_occasions: int, in_treatment_course: bool) -> VisitType:
    """The visit type the triage dialog proposes; staff may change it (e.g. to 其它)."""
    if purchase_occasions <= 0:
        return VisitType.FIRST
    if in_treatment_course:
        return VisitType.REVISIT
    return VisitType.REPEAT
