"""Left-menu pages, one module each; ``PAGES`` says which class renders which page."""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module

from PySide6.QtWidgets import QWidget

from meike.db import Clinic
from meike.permissions import Actor, Page

# page → "module:Class"; imported on first open so start-up stays fast.
PAGES: dict[Page, str] = {
    Page.DASHBOARD: "ui.pages.dashboard:DashboardPage",
    Page.REGISTRATION: "ui.pages.registration:RegistrationPage",
    Page.CUSTOMERS: "ui.pages.customers:CustomersPage",
    Page.CASHIER: "ui.pages.cashier:CashierPage",
    Page.PHONE: "ui.pages.phone:PhonePage",
    Page.SETTINGS: "ui.pages.settings:SettingsPage",
}


def factory(page: Page) -> Callable[[Clinic, Actor], QWidget]:
    module, _, name = PAGES[page].partition(":")
    return getattr(import_module(module), name)
