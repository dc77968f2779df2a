"""Data scope: which customers an account may see (all / own department / own customers)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, or_, true

from meike.errors import NotFound
from meike.models import Customer
from meike.permissions import Actor, DataScope


def customer_clause(actor: Actor) -> ColumnElement[bool]:
    """A WHERE clause limiting ``customers`` to the actor's scope; applied to every list and search."""
    return _clause(actor, Customer.department_id, Customer.registered_by_id, Customer.cs_staff_id,
                   Customer.consultant_id)


def reminder_clause(actor: Actor) -> ColumnElement[bool]:
    """The same scope on the customer keys copied onto ``reminders`` (no join to customers)."""
    from meike.models import Reminder

    return _clause(actor, Reminder.scope_department_id, Reminder.scope_registered_by_id,
                   Reminder.scope_cs_staff_id, Reminder.scope_consultant_id)


def _clause(actor: Actor, department: Any, registrar: Any, cs_staff: Any, consultant: Any) -> ColumnElement[bool]:
    if actor.is_admin:
        raise NotFound("管理员账号不能查看顾客资料")
    if actor.data_scope is DataScope.ALL:
        return true()
    own = [registrar == actor.user_id]
    if actor.staff_id is not None:
        own += [cs_staff == actor.staff_id, consultant == actor.staff_id]
    if actor.data_scope is DataScope.DEPARTMENT and actor.department_id is not None:
        own.append(department == actor.department_id)
    return or_(*own)


def in_scope(actor: Actor, customer: Customer) -> bool:
    if actor.is_admin:
        return False
    if actor.data_scope is DataScope.ALL:
        return True
    if customer.registered_by_id == actor.user_id:
        return True
    if actor.staff_id is not None and actor.staff_id in (customer.cs_staff_id, customer.consultant_id):
        return True
    return (
        actor.data_scope is DataScope.DEPARTMENT
        and actor.department_id is not None
        and customer.department_id == actor.department_id
    )
