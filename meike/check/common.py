"""Small helpers of the checks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import ColumnElement, Select, Subquery, func, select
from sqlalchemy.orm import Session


def scalar(s: Session, q: Select[Any]) -> int:
    return int(s.scalar(q) or 0)


def who(name: str | None, card_no: str | None) -> str:
    return f"顾客 {name or '?'}（卡号 {card_no or '?'}）"


def sum_by(column: Any, amount: Any, *where: ColumnElement[bool], name: str) -> Subquery:
    """A subquery: ``column`` → Σ ``amount`` (as ``total``) over the rows matching ``where``."""
    return (select(column.label("key"), func.sum(amount).label("total"))
            .where(*where).group_by(column).subquery(name))


def show(how: Callable[[Any], str], value: object) -> str:
    try:
        return how(value)
    except (TypeError, ValueError, AttributeError):
        return repr(value)
