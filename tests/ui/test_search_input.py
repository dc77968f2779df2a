"""Search boxes of the cashier's windows say beside the box when a search text is refused (issue 14/21)."""

from __future__ import annotations

import pytest

from meike.db import Clinic
from meike.permissions import Actor
from tests.ui.cashier_support import page_of
from tests.ui.waiting import settle
from ui.cashier.new_order import NewOrderDialog

pytestmark = pytest.mark.gui


def test_the_item_picker_says_a_pasted_page_is_too_long(qtbot, demo_clinic: Clinic, gl: Actor) -> None:  # type: ignore[no-untyped-def]
    dialog = NewOrderDialog(demo_clinic, gl)
    settle()
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.item_search.setText("双" * 100_000)
    settle()
    assert dialog.form.error_text("item").startswith("搜索内容太长（32,767 个字）")  # QLineEdit keeps 32,767
    assert dialog.item_list.count() == 0
    dialog.item_search.setText("syp")
    settle()
    assert dialog.form.error_text("item") == ""
    assert dialog.item_list.count() == 1


def test_the_order_search_says_a_pasted_page_is_too_long(qtbot, demo_clinic: Clinic, gl: Actor) -> None:  # type: ignore[no-untyped-def]
    page = page_of(qtbot, demo_clinic, gl)
    page.search.setText("x" * 100_000)
    settle()
    page.refresh()
    settle()
    assert page.status.text().startswith("搜索内容太长")
