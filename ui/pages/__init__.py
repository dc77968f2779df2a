"""Left-menu pages, one module each; ``factory`` says which class renders which page.

Each page is imported on first open (start-up stays fast) with a plain ``import`` statement, never
from a string: PyInstaller finds a module only by the imports it can see, and ``--selftest`` imports
every page inside the built program (``import_all``).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QWidget

from meike.db import Clinic
from meike.permissions import Actor, Page

PageClass = Callable[[Clinic, Actor], QWidget]


def _dashboard() -> PageClass:
    from ui.front_desk.dashboard import DashboardPage

    return DashboardPage


def _registration() -> PageClass:
    from ui.front_desk.registration import RegistrationPage

    return RegistrationPage


def _customers() -> PageClass:
    from ui.front_desk.customers import CustomersPage

    return CustomersPage


def _cashier() -> PageClass:
    from ui.cashier.page import CashierPage

    return CashierPage


def _phone() -> PageClass:
    from ui.phone import PhonePage

    return PhonePage


def _settings() -> PageClass:
    from ui.settings import SettingsPage

    return SettingsPage


PAGES: dict[Page, Callable[[], PageClass]] = {
    Page.DASHBOARD: _dashboard,
    Page.REGISTRATION: _registration,
    Page.CUSTOMERS: _customers,
    Page.CASHIER: _cashier,
    Page.PHONE: _phone,
    Page.SETTINGS: _settings,
}


def factory(page: Page) -> PageClass:
    """The class of a page, imported now if it was not yet."""
    return PAGES[page]()


def import_all() -> list[str]:
    """Import every page (the self-test); returns the class names."""
    return [getattr(PAGES[page](), "__name__", str(page)) for page in PAGES]
