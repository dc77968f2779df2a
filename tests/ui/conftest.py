"""Fixtures of the widget tests: the demo clinic's accounts, and no PDF viewer popping up."""

from __future__ import annotations

from pathlib import Path

import pytest

from meike.db import Clinic
from meike.permissions import Actor
from meike.services import accounts
from ui.cashier import common as cashier_common


@pytest.fixture
def gl(demo_clinic: Clinic) -> Actor:
    """The manual's ordinary account: every page, all customers, all supervisor rights."""
    return accounts.authenticate(demo_clinic, "gl", "123")


@pytest.fixture
def sy(demo_clinic: Clinic) -> Actor:
    """The demo cashier: the cashier page, no supervisor rights."""
    return accounts.authenticate(demo_clinic, "sy", "123")


@pytest.fixture(autouse=True)
def _no_pdf_viewer(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Receipt PDFs a test makes are collected here instead of opening in a viewer."""
    opened: list[Path] = []
    monkeypatch.setattr(cashier_common, "open_file", opened.append)
    return opened
