"""Declarative base with a naming convention so constraints have stable names across databases."""

from __future__ import annotations

from typing import Any, ClassVar

from sqlalchemy import BigInteger, Integer, MetaData
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.sql import operators
from sqlalchemy.types import TypeDecorator, TypeEngine

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class BusinessDated:
    """A model whose rows belong to a business day 营业日期 (the marker the closed-day guard reads).

    Once the day is closed 日结 (``meike.services.bizday``), a row of it is neither added nor removed,
    none of its ``DAY_FROZEN`` columns changes (others may: a receipt's status when it is voided later,
    its reprint count), and no bulk UPDATE or DELETE statement runs on its table at all. The day is the
    row's own ``business_date``, or with ``DAY_OF`` the day of the row that relationship leads to (an
    order line has its order's: the day the order was settled; none while it is unpaid).
    """

    DAY_FROZEN: ClassVar[tuple[str, ...]] = ()
    DAY_OF: ClassVar[str | None] = None
    # Columns that may change on a row of a closed day only to one of these values (a settled order or
    # a receipt becomes "voided" by a void on the open day; never unpaid, cancelled or valid again).
    DAY_ONLY_TO: ClassVar[dict[str, frozenset[str]]] = {}



_ARITHMETIC = {operators.add, operators.sub, operators.mul, operators.neg, operators.mod}


class Money(TypeDecorator[int]):
    """Money in fen: 64-bit, read back as ``int``.

    ¥21,474,836.48 (2³¹ fen) is a real sum, far below the limit ``meike.money.MAX_FEN`` (¥1000亿):
    BIGINT on PostgreSQL (migration 0017); SQLite's INTEGER holds 64 bits already and stays INTEGER.
    PostgreSQL's ``SUM`` of a BIGINT is a NUMERIC, which the driver reads as ``Decimal``: sums of a
    money column, and arithmetic on one (``amount_fen * sessions``), keep this type and come back as
    ``int`` like every amount.
    """

    impl = BigInteger
    cache_ok = True

    class comparator_factory(BigInteger.Comparator[int]):  # noqa: N801 (SQLAlchemy's name)
        def _adapt_expression(self, op: Any, other_comparator: Any) -> tuple[Any, TypeEngine[Any]]:
            if op in _ARITHMETIC and isinstance(other_comparator.type, Integer | Money):
                return op, self.type
            return super()._adapt_expression(op, other_comparator)  # type: ignore[no-any-return]

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        return dialect.type_descriptor(Integer() if dialect.name == "sqlite" else BigInteger())

    def process_result_value(self, value: Any, dialect: Dialect) -> int | None:
        return None if value is None else int(value)
