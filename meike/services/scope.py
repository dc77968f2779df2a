"""Data scope: which customers an account may see (all / own department / own customers)."""

from __future__ import annotations

from sqlalchemy import ColumnElement, or_, true

from meike.errors import NotFound
from meike.models import Customer
from meike.permissions import Actor, DataScope


def customer_clause(actor: Actor) -> ColumnElement[bool]:
    """A WHERE clause limiting ``customers`` to the actor's scope; applied to every list and search."""
    if actor.is_admin:
        raise NotFound("管理员账号不能查看顾客资料")
    if actor.data_scope is DataScope.ALL:
        return true()
    own = [Customer.registered_by_id == actor.user_id]
    if actor.staff_id is not None:
        own += [Customer.cs_staff_id == actor.staff_id, Customer.consultant_id == actor.staff_id]
    if actor.data_scope is DataScope.DEPARTMENT and actor.department_id is not None:
        own.append(Customer.department_id == actor.department_id)
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
