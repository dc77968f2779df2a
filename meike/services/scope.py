"""Data scope: which customers an account may see (all / own department / own customers).

Every clause here first checks that the actor's account is unchanged since the login
(``Actor.check_live``), so a narrowed scope or a disabled account is refused, never applied late.
``in_scope`` is a plain test of one customer for a service that checked already (``load_in_scope``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Integer, bindparam, or_, true

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


def tally_clause(actor: Actor) -> ColumnElement[bool]:
    """The same scope on the keys of ``reminder_tallies`` (0 stands for an empty key; ids start at 1)."""
    from meike.models import ReminderTally

    return _clause(actor, ReminderTally.department_id, ReminderTally.registered_by_id, ReminderTally.cs_staff_id,
                   ReminderTally.consultant_id)


def _terms(actor: Actor) -> list[tuple[str, str, int]]:
    """(key, parameter name, value) of the own-scope terms, OR'ed: registrar, customer service,
    consultant, department. Empty for scope "all"."""
    actor.check_live()
    if actor.is_admin:
        raise NotFound("管理员账号不能查看顾客资料")
    if actor.data_scope is DataScope.ALL:
        return []
    terms = [("registrar", "scope_user", actor.user_id)]
    if actor.staff_id is not None:
        terms += [("cs_staff", "scope_staff", actor.staff_id), ("consultant", "scope_staff", actor.staff_id)]
    if actor.data_scope is DataScope.DEPARTMENT and actor.department_id is not None:
        terms.append(("department", "scope_department", actor.department_id))
    return terms


def _clause(actor: Actor, department: Any, registrar: Any, cs_staff: Any, consultant: Any,
            *, bound: bool = False) -> ColumnElement[bool]:
    terms = _terms(actor)
    if not terms:
        return true()
    columns = {"registrar": registrar, "cs_staff": cs_staff, "consultant": consultant, "department": department}
    return or_(*(columns[key] == (bindparam(name, type_=Integer) if bound else value) for key, name, value in terms))


def shape(actor: Actor) -> tuple[str, ...]:
    """Which terms the actor's scope has: actors of one shape share one compiled statement."""
    return tuple(key for key, _name, _value in _terms(actor))


def bound_customer_clause(actor: Actor) -> ColumnElement[bool]:
    """``customer_clause`` with the actor's ids as bind parameters (their values: ``bind_values``)."""
    return _clause(actor, Customer.department_id, Customer.registered_by_id, Customer.cs_staff_id,
                   Customer.consultant_id, bound=True)


def bind_values(actor: Actor) -> dict[str, int]:
    return {name: value for _key, name, value in _terms(actor)}


def in_scope(actor: Actor, customer: Customer) -> bool:
    """Whether ``customer`` is in the actor's scope as the login saw it (no database check: the caller's
    ``load_in_scope`` or scope clause made it)."""
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
