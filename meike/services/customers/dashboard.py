"""The dashboard's customer counts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from meike import clock
from meike.db import Clinic
from meike.models import Customer
from meike.permissions import Actor, Page
from meike.services import scope


@dataclass(frozen=True)
class DashboardCounts:
    customers: int
    registered_today: int


def dashboard_counts(clinic: Clinic, actor: Actor, *, now: datetime | None = None) -> DashboardCounts:
    actor.require_page(Page.DASHBOARD)
    now = now or clock.now()
    start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    with clinic.read() as s:
        base = select(func.count(Customer.id)).where(scope.customer_clause(actor))
        total = s.scalar(base) or 0
        today = s.scalar(base.where(Customer.created_at >= start)) or 0
    return DashboardCounts(total, today)
