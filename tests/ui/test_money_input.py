"""Amounts typed into the windows: what an input method types is taken, what could be misread is
refused beside the field (issue 14/19), through the item dialog and the payment dialog."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget
from sqlalchemy import func, select

from meike.db import Clinic
from meike.models import Payment
from meike.permissions import Actor
from meike.services import dictionaries
from meike.services.dictionaries import Kind
from tests.ui.cashier_support import click, page_of, ready
from tests.ui.test_cashier_flows import choose, open_order
from tests.ui.waiting import settle
from ui.settings import SettingsPage
from ui.settings.dictionary_entry import parse_discount

pytestmark = pytest.mark.gui


@pytest.mark.parametrize(("text", "permille"), [("95", 950), ("88.5", 885), ("９５", 950), ("88．5", 885),
                                                 ("95%", 950), ("100", 1000), ("95.0", 950), ("0", 0)])
def test_discounts_typed_with_an_input_method_are_taken(text: str, permille: int) -> None:
    assert parse_discount(text) == permille


@pytest.mark.parametrize(("text", "message"), [("9e1", "请输入百分比"), ("٩٥", "请输入百分比"), ("𝟗𝟓", "请输入百分比"),
                                               ("9_5", "请输入百分比"), ("NaN", "请输入百分比"), ("", "请输入百分比"),
                                               ("88.55", "折扣最多一位小数"), ("1000", "请输入百分比")])
def test_discounts_that_could_be_misread_are_refused(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_discount(text)


def test_item_prices_in_full_width_are_taken_and_misplaced_commas_refused(
        qtbot, demo_clinic: Clinic, gl: Actor) -> None:  # type: ignore[no-untyped-def]
    page = SettingsPage(demo_clinic, gl)
    qtbot.addWidget(page)
    page.show()
    settle()
    items = page.tables[Kind.ITEM]
    dialog = items.add()
    settle()  # the pickers filled
    dialog.name.setText("点阵激光")
    settle()
    for typed, problem in (("10,00", "“10,00”中的逗号位置不对"), ("1e9", "不认识「e」"), ("𝟏𝟎𝟎", "不认识「𝟏」"),
                           ("1_000", "不认识「_」")):
        dialog.price.setText(typed)
        settle()
        qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
        settle()
        assert dialog.isVisible()
        assert dialog.form.error_text("price_fen").startswith(f"金额格式不正确：{problem}")
    assert not any(e.name == "点阵激光" for e in dictionaries.list_entries(demo_clinic, gl, Kind.ITEM))
    dialog.price.setText("１，２８０．５０")
    settle()
    dialog.min_price.setText("1000元")
    settle()
    qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
    settle()
    assert not dialog.isVisible()
    saved = next(e for e in dictionaries.list_entries(demo_clinic, gl, Kind.ITEM) if e.name == "点阵激光")
    assert (saved.fields["price_fen"], saved.fields["min_price_fen"]) == (128_050, 100_000)


def test_a_payment_typed_with_the_ideographic_point_is_taken_and_10_00_is_not_1000(
        qtbot, demo_clinic: Clinic, gl: Actor) -> None:  # type: ignore[no-untyped-def]
    order_id = open_order(demo_clinic, gl, "xy")  # 洗牙 ¥298
    page = page_of(qtbot, demo_clinic, gl)
    choose(qtbot, page, page.unpaid, order_id)
    pay = page.take_payment()
    settle()
    assert pay is not None
    pay.method.setCurrentIndex(pay.method.findText("微信"))
    pay.amount.setText("2,98")
    settle()
    click(qtbot, pay.ok)
    assert pay.isVisible()
    assert pay.findChild(QWidget, "cashier_pay_row_error_0").text().startswith("金额格式不正确：“2,98”中的逗号位置不对")
    pay.amount.setText("２９８。００元")
    settle()
    assert pay.left.text() == ""
    click(qtbot, pay.ok)
    assert not pay.isVisible()
    with demo_clinic.read() as s:
        assert s.scalar(select(func.sum(Payment.amount_fen)).where(Payment.order_id == order_id)) == 29_800
    ready(qtbot, page)
