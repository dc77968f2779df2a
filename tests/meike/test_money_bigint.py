"""Money above 2³¹ fen (issue 14/18): every money column is 64-bit (BIGINT on PostgreSQL, migration
0017), so ¥3000万 and the limit of ¥1000亿 less a fen are paid, topped up, summed and read back
exactly on both databases; sums come back as ``int``, never PostgreSQL's ``Decimal``."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import BigInteger, Integer, func, inspect, select

from meike import clock
from meike.db import Clinic
from meike.db.migrate import alembic_config, current_revision, head_revision
from meike.errors import ValidationError
from meike.models import AccountEntry, Item, Order, Payment, Receipt
from meike.models.base import Money
from meike.models.ledger import ACCOUNT_PREPAID
from meike.money import MAX_FEN
from meike.permissions import Actor
from meike.services import cashier, dayclose, dictionaries, ledger
from meike.services.dictionaries import Kind
from meike.services.ledger import Tender
from tests.meike.conftest_cashier import Shop, shop_fixture  # noqa: F401 (fixtures)

BIG = 3_000_000_000  # ¥3000万: above 2³¹ − 1 = 2,147,483,647
TOP = MAX_FEN - 1  # ¥99,999,999,999.99: the largest amount a tender may carry


def _big_item(clinic: Clinic, actor: Actor, name: str, price: int) -> int:
    return dictionaries.add_entry(clinic, actor, Kind.ITEM, {"name": name, "price_fen": price, "min_price_fen": price})


@pytest.mark.parametrize("amount", [BIG, TOP])
def test_an_order_above_2_31_fen_is_paid_and_read_back_exactly(clinic: Clinic, user: Actor, shop: Shop,
                                                               amount: int) -> None:
    item = _big_item(clinic, user, "大额项目", amount)
    order_id = cashier.open_order(clinic, user, customer_id=shop.customer_id, lines=[(item, 1, None)])
    paid = cashier.pay(clinic, user, order_id, [Tender(shop.methods["现金"], amount)], idempotency_key=f"big-{amount}")
    assert paid.paid_fen == amount and paid.arrears_fen == 0
    with clinic.read() as s:
        assert s.get(Item, item).price_fen == amount  # type: ignore[union-attr]
        assert s.get(Order, order_id).total_fen == amount  # type: ignore[union-attr]
        assert s.scalar(select(Payment.amount_fen).where(Payment.order_id == order_id)) == amount
        assert s.scalar(select(Receipt.amount_fen).where(Receipt.order_id == order_id)) == amount
        total = s.scalar(select(func.sum(Payment.amount_fen)))
        assert type(total) is int and total == amount  # PostgreSQL's SUM(bigint) is NUMERIC: read as int
        report = dayclose.report_in(s, clock.now().date())
    assert report.received_fen == amount and report.expected_cash_fen == amount


def test_top_ups_up_to_the_limit_sum_beyond_2_63_never(clinic: Clinic, user: Actor, shop: Shop) -> None:
    cash = shop.methods["现金"]
    for n, amount in enumerate([BIG, TOP, TOP]):
        done = ledger.top_up(clinic, user, shop.customer_id, account=ACCOUNT_PREPAID, tenders=[Tender(cash, amount)],
                             idempotency_key=f"top-{n}")
        assert done.amount_fen == amount
    with pytest.raises(ValidationError, match="金额过大"):
        ledger.top_up(clinic, user, shop.customer_id, account=ACCOUNT_PREPAID, tenders=[Tender(cash, MAX_FEN)],
                      idempotency_key="top-over")
    with clinic.read() as s:
        balance = ledger.balance(s, shop.customer_id, ACCOUNT_PREPAID)
        amounts = sorted(s.scalars(select(AccountEntry.amount_fen).where(AccountEntry.customer_id == shop.customer_id)))
        assert type(s.scalar(select(func.sum(AccountEntry.amount_fen) * 2))) is int
    assert balance == BIG + 2 * TOP and type(balance) is int
    assert amounts == [BIG, TOP, TOP]


def test_every_money_column_is_64_bit(clinic: Clinic) -> None:
    from meike.models import Base

    money = [(t.name, c.name) for t in Base.metadata.sorted_tables for c in t.columns if c.name.endswith("_fen")]
    assert len(money) == 19
    assert all(isinstance(Base.metadata.tables[t].c[c].type, Money) for t, c in money)
    columns = {(t, c["name"]): c["type"] for t in {t for t, _ in money}
               for c in inspect(clinic.engine).get_columns(t)}
    for key in money:
        wanted = Integer if clinic.engine.dialect.name == "sqlite" else BigInteger  # SQLite INTEGER: 64-bit
        assert isinstance(columns[key], wanted), key


def test_migration_0017_steps_down_and_up(clinic: Clinic) -> None:
    def run(fn, target: str) -> None:  # type: ignore[no-untyped-def]
        cfg = alembic_config()
        with clinic.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            fn(cfg, target)

    run(command.downgrade, "0016")
    assert current_revision(clinic) == "0016"
    if clinic.engine.dialect.name == "postgresql":
        assert isinstance({c["name"]: c["type"] for c in inspect(clinic.engine).get_columns("payments")}["amount_fen"],
                          Integer) and not isinstance(
            {c["name"]: c["type"] for c in inspect(clinic.engine).get_columns("payments")}["amount_fen"], BigInteger)
    run(command.upgrade, "head")
    assert current_revision(clinic) == head_revision()
    test_every_money_column_is_64_bit(clinic)
