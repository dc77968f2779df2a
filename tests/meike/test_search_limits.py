"""Search text at the service boundary (issue 14/21): too long or with control characters is refused
with a Chinese message for the field, never a raw "LIKE pattern too complex" or a driver error."""

from __future__ import annotations

import pytest

from meike.db import Clinic
from meike.errors import ValidationError
from meike.models.cashier import ORDER_NEW, ORDER_SETTLED
from meike.permissions import Actor
from meike.rules.text import MAX_SEARCH, search_error, search_text
from meike.services import accounts, cashier, sms
from meike.services.customers import CustomerQuery

HUGE = "双" * 100_000  # SQLite refuses LIKE patterns over 50,000 bytes


@pytest.fixture
def gl(demo_clinic: Clinic) -> Actor:
    return accounts.authenticate(demo_clinic, "gl", "123")


def test_search_text_trims_and_refuses_with_a_chinese_message() -> None:
    assert search_text("  syp  ") == "syp"
    assert search_text(None) == ""
    assert search_text("x" * MAX_SEARCH) == "x" * MAX_SEARCH
    with pytest.raises(ValidationError) as e:
        search_text("x" * (MAX_SEARCH + 1), field="item")
    assert e.value.errors == {"item": f"搜索内容太长（{MAX_SEARCH + 1} 个字），最多 {MAX_SEARCH} 个字"}
    assert search_error("a\x00b") == "搜索内容里有不能搜索的控制字符（U+0000）"
    assert search_error("a\nb") is not None and search_error("a\ud800") is not None
    assert search_error("王𠮷😀") is None  # outside the BMP is text, not a control character


def test_the_item_picker_refuses_a_page_of_text(demo_clinic: Clinic, gl: Actor) -> None:
    with pytest.raises(ValidationError) as e:
        cashier.find_items(demo_clinic, gl, HUGE)
    assert e.value.errors["item"].startswith("搜索内容太长（100,000 个字）")
    with pytest.raises(ValidationError) as e:
        cashier.find_items(demo_clinic, gl, "sy\x00p")
    assert "控制字符" in e.value.errors["item"]
    assert [i.name for i in cashier.find_items(demo_clinic, gl, "  syp ")] == ["双眼皮"]
    assert cashier.find_items(demo_clinic, gl, "双" * MAX_SEARCH) == []  # as long as allowed: searched


@pytest.mark.parametrize("status", [ORDER_NEW, ORDER_SETTLED])
def test_the_cashier_order_search_refuses_a_page_of_text(demo_clinic: Clinic, gl: Actor, status: str) -> None:
    for call in (lambda t: cashier.list_orders(demo_clinic, gl, status=status, text=t),
                 lambda t: cashier.count_orders(demo_clinic, gl, status=status, text=t)):
        with pytest.raises(ValidationError, match="搜索内容太长"):
            call(HUGE)
        with pytest.raises(ValidationError, match="控制字符"):
            call("R\x00")
    assert cashier.count_orders(demo_clinic, gl, status=status, text="x" * MAX_SEARCH) == 0


def test_sms_recipients_by_the_grids_search_refuse_a_page_of_text(demo_clinic: Clinic, gl: Actor) -> None:
    with pytest.raises(ValidationError) as e:
        sms.preview_filtered(demo_clinic, gl, CustomerQuery(text=HUGE, tab="all"))
    assert e.value.errors["query"].startswith("搜索内容太长")
    with pytest.raises(ValidationError):
        sms.enqueue_filtered(demo_clinic, gl, CustomerQuery(text=HUGE, tab="all"), template_id=1)


def test_customer_search_and_the_audit_filter_refuse_a_pasted_page(demo_clinic: Clinic, gl: Actor,
                                                                   admin: Actor) -> None:
    from meike.services import audit, customers
    from meike.services.audit import AuditFilter
    from meike.services.customers import CustomerQuery

    page = "张" * 100_000
    for attempt in (lambda: customers.search_customers(demo_clinic, gl, text=page),
                    lambda: customers.count_customers(demo_clinic, gl, query=CustomerQuery(text=page)),
                    lambda: customers.search_customers(demo_clinic, gl, query=CustomerQuery(text="王\x00")),
                    lambda: audit.search(demo_clinic, admin, AuditFilter(text=page)),
                    lambda: audit.count_matching(demo_clinic, admin, AuditFilter(username="x" * 1000))):
        with pytest.raises(ValidationError, match="搜索内容"):
            attempt()
