"""Helpers the cashier widget tests share: clicking, waiting for background lists, payment methods."""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QCheckBox, QWidget

from meike.db import Clinic
from meike.permissions import Actor
from meike.services import dictionaries
from meike.services.dictionaries import Kind
from tests.ui.waiting import settle
from ui.cashier.page import CashierPage


def click(qtbot, widget: QWidget) -> None:  # type: ignore[no-untyped-def]
    """Click, and wait for what the click started (an action off the GUI thread) to be answered."""
    if isinstance(widget, QCheckBox):  # on the box, not the empty space right of its text
        qtbot.mouseClick(widget, Qt.MouseButton.LeftButton, pos=QPoint(8, widget.height() // 2))
    else:
        qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)
    settle()


def methods(clinic: Clinic, actor: Actor) -> dict[str, int]:
    """Payment method ids by name."""
    return {e.name: e.id for e in dictionaries.list_entries(clinic, actor, Kind.PAYMENT_METHOD)}


def ready(qtbot, page: CashierPage) -> None:  # type: ignore[no-untyped-def]
    """Wait for the lists, which load off the GUI thread."""
    settle()
    assert not page.loading


def page_of(qtbot, clinic: Clinic, actor: Actor) -> CashierPage:  # type: ignore[no-untyped-def]
    """The cashier page shown at a working size, its background lists loaded."""
    page = CashierPage(clinic, actor)
    qtbot.addWidget(page)
    page.resize(1200, 700)
    page.show()
    ready(qtbot, page)
    return page
