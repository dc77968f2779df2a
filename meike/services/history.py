"""What a customer has done so far: purchase occasions (seed 003 classes) and treatments under way."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from meike import clock

COURSE_WINDOW_DAYS = 60


def purchase_occasions(s: Session, customer_id: int) -> int:
    """Sittings at which the customer paid: settled orders, those of one visit counting once."""
    from meike.models import Order

    occasion = func.coalesce(Order.visit_id, -Order.id)
    return s.scalar(select(func.count(distinct(occasion)))
                    .where(Order.customer_id == customer_id, Order.status == "settled")) or 0


def in_treatment_course(s: Session, customer_id: int, *, today: date | None = None) -> bool:
    """A treatment done recently: the customer comes back for the next session or a check (复诊)."""
    from meike.models import Treatment

    today = today or clock.now().date()
    since = today - timedelta(days=COURSE_WINDOW_DAYS)
    recent = select(Treatment.id).where(Treatment.customer_id == customer_id, Treatment.status == "active",
                                        Treatment.performed_on >= since, Treatment.performed_on <= today)
    return s.scalar(recent.limit(1)) is not None


def after_settlement(s: Session, order: object) -> None:
    """A paid order makes its visit a deal 成交 and recounts the customer's purchase occasions."""
    from meike.models import Customer, Order, Visit

    assert isinstance(order, Order)
    if order.visit_id is not None:
        visit = s.get(Visit, order.visit_id)
        if visit is not None:
            visit.is_deal = True
    customer = s.get(Customer, order.customer_id)
    if customer is not None:
        customer.purchase_occasions = purchase_occasions(s, order.customer_id)


def after_void(s: Session, order: object) -> None:
    """A voided order no longer makes its visit a deal unless another paid order of the visit does."""
    from meike.models import Customer, Order, Visit

    assert isinstance(order, Order)
    s.flush()
    if order.visit_id is not None:
        visit = s.get(Visit, order.visit_id)
        if visit is not None:
            visit.is_deal = s.scalar(select(Order.id).where(
                Order.visit_id == visit.id, Order.status == "settled").limit(1)) is not None
    customer = s.get(Customer, order.customer_id)
    if customer is not None:
        customer.purchase_occasions = purchase_occasions(s, order.customer_id)
