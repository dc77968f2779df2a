"""Cashier desk 收费中心: open, approve low prices, settle once, gapless receipts, cancel, scope."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import func, inspect, select

from meike import clock
from meike.clinic_setup import upgrade
from meike.db import Clinic, sqlite_url
from meike.db.migrate import alembic_config, current_revision, head_revision
from meike.errors import NotFound, PermissionDenied, ValidationError
from meike.models import Order, Payment, ReceiptCounter
from meike.permissions import Actor, DataScope, Page, Right, right_code
from meike.services import accounts, audit, cashier, customers, dictionaries
from meike.services.dictionaries import Kind
from tests.conftest import make_user
from tests.meike.conftest_cashier import Shop, shop_fixture, supervisor_fixture  # noqa: F401 (fixtures)

CASHIER_TABLES = {"orders", "order_lines", "payments", "receipt_counters"}


def _count(clinic: Clinic, model: type) -> int:
    with clinic.read() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def _actions(clinic: Clinic, admin: Actor) -> list[str]:
    return [row.action for row in audit.recent(clinic, admin, entity="order")]


def _open(clinic: Clinic, actor: Actor, shop: Shop, *lines: tuple[str, int, int | None]) -> int:
    return cashier.open_order(clinic, actor, customer_id=shop.customer_id,
                              lines=[(shop.items[name], qty, price) for name, qty, price in lines])


def test_open_order_at_list_price_is_listed_unpaid(clinic: Clinic, user: Actor, admin: Actor, shop: Shop) -> None:
    order_id = _open(clinic, user, shop, ("双眼皮", 1, None), ("水光针", 2, 100_000))
    [row] = cashier.list_orders(clinic, user, status="new", offset=0, limit=50)
    assert row.id == order_id and row.customer_name == "张三"
    assert row.mobile == "138****5678"  # masked without Right.VIEW_PRIVATE
    assert row.items == "双眼皮、水光针×2"
    assert (row.total_fen, row.paid_fen, row.receipt_no) == (1_080_000, 0, "")
    assert cashier.list_orders(clinic, user, status="settled", offset=0, limit=50) == []
    assert cashier.count_orders(clinic, user, status="new", text="zs") == 1
    assert cashier.list_orders(clinic, user, status="new", offset=0, limit=50, text="李") == []
    assert _actions(clinic, admin) == ["order.create"]


def test_lists_mask_the_mobile_even_for_the_private_data_right(clinic: Clinic, admin: Actor, shop: Shop) -> None:
    """The full number is one logged reveal away (customers.reveal), never in a list."""
    viewer = make_user(clinic, admin, "viewer", pages=[Page.CASHIER], grants={right_code(Right.VIEW_PRIVATE)})
    _open(clinic, viewer, shop, ("水光针", 1, None))
    row = cashier.list_orders(clinic, viewer, status="new")[0]
    assert row.mobile == "138****5678"
    assert customers.reveal(clinic, viewer, row.customer_id, "mobile") == "13812345678"


def test_price_below_minimum_needs_a_supervisor(clinic: Clinic, user: Actor, admin: Actor, shop: Shop,
                                                 supervisor: Actor) -> None:
    with pytest.raises(ValidationError) as e:
        _open(clinic, user, shop, ("双眼皮", 1, 500_000))
    assert e.value.errors == {"price": "低于最低价 ￥6,000.00，需要主管审批"}
    with pytest.raises(ValidationError) as e:  # a supervisor without the right does not help
        cashier.open_order(clinic, user, customer_id=shop.customer_id,
                           lines=[(shop.items["双眼皮"], 1, 500_000)], supervisor=user)
    assert "没有审批低于最低价的权限" in e.value.errors["price"]
    assert _count(clinic, Order) == 0

    boss = accounts.verify_supervisor(clinic, "boss", "boss-pass", Right.APPROVE_PRICE)
    assert boss.user_id == supervisor.user_id
    order_id = cashier.open_order(clinic, user, customer_id=shop.customer_id,
                                  lines=[(shop.items["双眼皮"], 1, 500_000)], supervisor=boss)
    assert cashier.get_order(clinic, user, order_id).total_fen == 500_000
    approved = next(r for r in audit.recent(clinic, admin, entity="order") if r.action == "order.price_approved")
    assert approved.entity_id == order_id and approved.after is not None
    assert approved.after["supervisor_username"] == "boss"
    assert approved.after["lines"][0]["min_price_fen"] == 600_000


def test_several_lines_below_minimum_name_each_item(clinic: Clinic, user: Actor, shop: Shop) -> None:
    with pytest.raises(ValidationError) as e:
        _open(clinic, user, shop, ("双眼皮", 1, 1), ("水光针", 1, None))
    assert e.value.errors["price"] == "双眼皮低于最低价 ￥6,000.00，需要主管审批"


@pytest.mark.parametrize(("lines", "key"), [
    ([], "lines"),
    ([("水光针", 0, None)], "quantity"),
    ([("水光针", 1000, None)], "quantity"),
    ([("水光针", 1, -1)], "price"),
])
def test_bad_lines_are_refused(clinic: Clinic, user: Actor, shop: Shop,
                               lines: list[tuple[str, int, int | None]], key: str) -> None:
    with pytest.raises(ValidationError) as e:
        _open(clinic, user, shop, *lines)
    assert key in e.value.errors
    assert _count(clinic, Order) == 0


def test_customer_required_and_disabled_items_refused(clinic: Clinic, user: Actor, shop: Shop) -> None:
    with pytest.raises(ValidationError) as e:
        cashier.open_order(clinic, user, customer_id=None, lines=[(shop.items["水光针"], 1, None)])
    assert e.value.errors == {"customer": "请选择顾客"}
    dictionaries.set_entry_active(clinic, user, Kind.ITEM, shop.items["水光针"], False)
    with pytest.raises(ValidationError) as e:
        _open(clinic, user, shop, ("水光针", 1, None))
    assert e.value.errors["lines"] == "项目“水光针”已停用，不能开单"
    assert [i.name for i in cashier.find_items(clinic, user, "")] == ["双眼皮"]


def test_find_items_by_pinyin_code_or_name(clinic: Clinic, user: Actor, shop: Shop) -> None:
    assert [i.name for i in cashier.find_items(clinic, user, "syp")] == ["双眼皮"]
    assert [i.name for i in cashier.find_items(clinic, user, "SG")] == ["水光针"]
    assert [i.name for i in cashier.find_items(clinic, user, "光")] == ["水光针"]


def test_settle_takes_the_total_and_moves_the_order_to_paid(clinic: Clinic, user: Actor, admin: Actor,
                                                            shop: Shop) -> None:
    order_id = _open(clinic, user, shop, ("水光针", 2, None))
    with pytest.raises(ValidationError) as e:
        cashier.settle(clinic, user, order_id, payment_method_id=shop.methods["现金"], amount_fen=200_000,
                       idempotency_key="k-1")
    assert e.value.errors == {"amount": "收款金额应等于应收金额 ￥2,560.00"}
    with pytest.raises(ValidationError) as e:
        cashier.settle(clinic, user, order_id, payment_method_id=None, amount_fen=256_000, idempotency_key="k-1")
    assert e.value.errors == {"payment_method": "请选择支付方式"}
    assert _count(clinic, Payment) == 0 and _count(clinic, ReceiptCounter) == 0

    today = clock.now().date()
    receipt = cashier.settle(clinic, user, order_id, payment_method_id=shop.methods["现金"], amount_fen=256_000,
                             idempotency_key="k-1")
    assert receipt == f"R{today:%Y%m%d}-0001"
    assert cashier.list_orders(clinic, user, status="new") == []
    [row] = cashier.list_orders(clinic, user, status="settled")
    assert (row.receipt_no, row.paid_fen, row.total_fen) == (receipt, 256_000, 256_000)
    assert row.settled_at is not None
    assert cashier.list_orders(clinic, user, status="settled", text=receipt)[0].id == order_id
    settle_row = audit.recent(clinic, admin, entity="order")[0]
    assert settle_row.action == "order.settle" and settle_row.after is not None
    assert settle_row.after["receipt_no"] == receipt
    assert settle_row.after["tenders"] == [{"method": "现金", "amount_fen": 256_000}]
    with pytest.raises(ValidationError):  # paid once; a new request cannot pay it again
        cashier.settle(clinic, user, order_id, payment_method_id=shop.methods["现金"], amount_fen=256_000,
                       idempotency_key="k-2")


def test_same_idempotency_key_charges_once(clinic: Clinic, user: Actor, admin: Actor, shop: Shop) -> None:
    order_id = _open(clinic, user, shop, ("双眼皮", 1, None))
    args = {"payment_method_id": shop.methods["微信"], "amount_fen": 880_000, "idempotency_key": "dialog-1"}
    first = cashier.settle(clinic, user, order_id, **args)
    second = cashier.settle(clinic, user, order_id, **args)
    assert first == second
    assert _count(clinic, Payment) == 1
    with clinic.read() as s:
        assert s.scalar(select(ReceiptCounter.last_no)) == 1
    assert _actions(clinic, admin).count("order.settle") == 1
    other = _open(clinic, user, shop, ("水光针", 1, None))
    with pytest.raises(ValidationError):  # a key belongs to one order
        cashier.settle(clinic, user, other, payment_method_id=shop.methods["微信"], amount_fen=128_000,
                       idempotency_key="dialog-1")


def test_receipt_numbers_are_gapless_per_business_day(clinic: Clinic, user: Actor, shop: Shop,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clock, "now", lambda: datetime(2026, 11, 23, 10, 0))
    orders = [_open(clinic, user, shop, ("水光针", 1, None)) for _ in range(4)]
    cash = shop.methods["现金"]
    receipts = []
    for i, order_id in enumerate(orders[:3]):
        with pytest.raises(ValidationError):  # a failed attempt takes no number
            cashier.settle(clinic, user, order_id, payment_method_id=cash, amount_fen=1, idempotency_key=f"bad-{i}")
        receipts.append(cashier.settle(clinic, user, order_id, payment_method_id=cash, amount_fen=128_000,
                                       idempotency_key=f"ok-{i}"))
    assert receipts == ["R20261123-0001", "R20261123-0002", "R20261123-0003"]
    cashier.cancel(clinic, user, orders[3], reason="顾客改天再来")  # a cancelled order takes no number
    monkeypatch.setattr(clock, "now", lambda: datetime(2026, 11, 24, 9, 0))
    tomorrow = _open(clinic, user, shop, ("水光针", 1, None))
    assert cashier.settle(clinic, user, tomorrow, payment_method_id=cash, amount_fen=128_000,
                          idempotency_key="next-day") == "R20261124-0001"
    with clinic.read() as s:
        assert s.scalar(select(Order.business_date).where(Order.id == tomorrow)).isoformat() == "2026-11-24"


def test_disabled_payment_method_is_refused(clinic: Clinic, user: Actor, shop: Shop) -> None:
    order_id = _open(clinic, user, shop, ("水光针", 1, None))
    dictionaries.set_entry_active(clinic, user, Kind.PAYMENT_METHOD, shop.methods["微信"], False)
    with pytest.raises(ValidationError) as e:
        cashier.settle(clinic, user, order_id, payment_method_id=shop.methods["微信"], amount_fen=128_000,
                       idempotency_key="x")
    assert e.value.errors == {"payment_method": "支付方式“微信”已停用"}


def test_cancel_rules(clinic: Clinic, user: Actor, admin: Actor, shop: Shop) -> None:
    order_id = _open(clinic, user, shop, ("水光针", 1, None))
    with pytest.raises(ValidationError) as e:
        cashier.cancel(clinic, user, order_id, reason="  ")
    assert e.value.errors == {"reason": "请填写消单原因"}
    cashier.cancel(clinic, user, order_id, reason="顾客不做了")
    [row] = cashier.list_orders(clinic, user, status="cancelled")
    assert row.cancel_reason == "顾客不做了"
    assert cashier.list_orders(clinic, user, status="new") == []
    with pytest.raises(ValidationError):
        cashier.cancel(clinic, user, order_id, reason="再消一次")
    with pytest.raises(ValidationError) as e:
        cashier.settle(clinic, user, order_id, payment_method_id=shop.methods["现金"], amount_fen=128_000,
                       idempotency_key="late")
    assert e.value.errors == {"order": "该单已消单，不能收款"}
    paid = _open(clinic, user, shop, ("水光针", 1, None))
    cashier.settle(clinic, user, paid, payment_method_id=shop.methods["现金"], amount_fen=128_000,
                   idempotency_key="p")
    with pytest.raises(ValidationError) as e:
        cashier.cancel(clinic, user, paid, reason="想退")
    assert e.value.errors == {"reason": "该单已付款，只能消未付款的单"}
    assert _actions(clinic, admin).count("order.cancel") == 1


def test_service_refuses_a_user_without_the_cashier_page(clinic: Clinic, admin: Actor, user: Actor,
                                                         shop: Shop) -> None:
    order_id = _open(clinic, user, shop, ("水光针", 1, None))
    desk = make_user(clinic, admin, "desk", pages=[Page.CUSTOMERS, Page.REGISTRATION])
    with pytest.raises(PermissionDenied):
        _open(clinic, desk, shop, ("水光针", 1, None))
    with pytest.raises(PermissionDenied):
        cashier.list_orders(clinic, desk, status="new")
    with pytest.raises(PermissionDenied):
        cashier.settle(clinic, desk, order_id, payment_method_id=shop.methods["现金"], amount_fen=128_000,
                       idempotency_key="z")
    with pytest.raises(PermissionDenied):
        cashier.cancel(clinic, desk, order_id, reason="x")
    with pytest.raises(PermissionDenied):
        cashier.find_items(clinic, desk, "syp")


def test_own_scope_cashier_cannot_touch_other_peoples_customers(clinic: Clinic, admin: Actor, user: Actor,
                                                                shop: Shop) -> None:
    others_order = _open(clinic, user, shop, ("水光针", 1, None))
    mine = make_user(clinic, admin, "own", pages=[Page.CASHIER, Page.REGISTRATION], scope=DataScope.OWN)
    with pytest.raises(NotFound):
        _open(clinic, mine, shop, ("水光针", 1, None))
    assert cashier.list_orders(clinic, mine, status="new") == []
    assert cashier.count_orders(clinic, mine, status="new") == 0
    with pytest.raises(NotFound):
        cashier.settle(clinic, mine, others_order, payment_method_id=shop.methods["现金"], amount_fen=128_000,
                       idempotency_key="steal")
    with pytest.raises(NotFound):
        cashier.cancel(clinic, mine, others_order, reason="x")
    own_customer = customers.register_customer(clinic, mine, name="李四", mobile="13900001111")
    order_id = cashier.open_order(clinic, mine, customer_id=own_customer, lines=[(shop.items["水光针"], 1, None)])
    assert [r.id for r in cashier.list_orders(clinic, mine, status="new")] == [order_id]


def _migrate(clinic: Clinic, fn, target: str) -> None:  # type: ignore[no-untyped-def]
    cfg = alembic_config()
    with clinic.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        fn(cfg, target)


def test_cashier_migration_upgrades_and_downgrades(tmp_path: Path) -> None:
    clinic = Clinic.open(sqlite_url(tmp_path / "cashier.sqlite3"))
    upgrade(clinic)
    assert current_revision(clinic) == head_revision()
    assert CASHIER_TABLES <= set(inspect(clinic.engine).get_table_names())
    _migrate(clinic, command.downgrade, "0001")
    assert current_revision(clinic) == "0001"
    assert not CASHIER_TABLES & set(inspect(clinic.engine).get_table_names())
    _migrate(clinic, command.upgrade, "0002")
    assert CASHIER_TABLES <= set(inspect(clinic.engine).get_table_names())
    clinic.dispose()
