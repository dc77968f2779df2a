"""Fixtures of the cashier tests: a small price list, payment methods, a customer, a supervisor."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from meike.db import Clinic
from meike.permissions import Actor, Page, Right, right_code
from meike.services import customers, dictionaries
from meike.services.dictionaries import Kind
from tests.conftest import make_user


@dataclass
class Shop:
    items: dict[str, int]
    methods: dict[str, int]
    customer_id: int


@pytest.fixture(name="shop")
def shop_fixture(clinic: Clinic, user: Actor) -> Shop:
    """双眼皮 ￥8,800 (min ￥6,000), 水光针 ￥1,280 (min ￥880); 现金, 微信; customer 张三 registered by ``user``."""
    items = {
        name: dictionaries.add_entry(clinic, user, Kind.ITEM,
                                     {"name": name, "price_fen": price, "min_price_fen": minimum})
        for name, price, minimum in [("双眼皮", 880_000, 600_000), ("水光针", 128_000, 88_000)]
    }
    methods = {name: dictionaries.add_entry(clinic, user, Kind.PAYMENT_METHOD, {"name": name, "kind": kind})
               for name, kind in [("现金", "cash"), ("微信", "wechat")]}
    customer_id = customers.register_customer(clinic, user, name="张三", mobile="13812345678")
    return Shop(items, methods, customer_id)


@pytest.fixture(name="supervisor")
def supervisor_fixture(clinic: Clinic, admin: Actor) -> Actor:
    """A manager who may approve prices below the minimum (password ``boss-pass``)."""
    return make_user(clinic, admin, "boss", pages=[Page.DASHBOARD], password="boss-pass",
                     grants={right_code(Right.APPROVE_PRICE)})
