"""A background job's failure reaches the window in Chinese, and the unexpected ones reach the log."""

from __future__ import annotations

import sqlite3

import pytest
from PySide6.QtWidgets import QWidget
from sqlalchemy.exc import OperationalError

from meike.errors import MeikeError, ValidationError
from ui.tasks import UnexpectedError, run_in_background

pytestmark = pytest.mark.gui


def _failure_of(qtbot, fn) -> Exception:  # type: ignore[no-untyped-def]
    owner = QWidget()
    qtbot.addWidget(owner)
    failures: list[Exception] = []
    run_in_background(fn, lambda _r: None, failures.append, owner=owner)
    qtbot.waitUntil(lambda: bool(failures), timeout=5000)
    return failures[0]


def test_a_database_error_is_said_in_words_and_logged(qtbot, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    def read() -> None:
        raise OperationalError("SELECT orders.id FROM orders", {}, sqlite3.OperationalError("disk I/O error"))

    shown = _failure_of(qtbot, read)
    assert isinstance(shown, MeikeError) and "读写数据库文件出错" in shown.message
    assert "SELECT" not in shown.message and "sqlite3" not in shown.message
    assert "database error in a background job" in caplog.text


def test_a_programming_error_is_logged_with_its_traceback_and_said_in_general(  # type: ignore[no-untyped-def]
        qtbot, caplog: pytest.LogCaptureFixture) -> None:
    def broken() -> None:
        raise KeyError("customer_name")

    shown = _failure_of(qtbot, broken)
    assert isinstance(shown, UnexpectedError) and "意外错误" in shown.message and "KeyError" not in shown.message
    assert "KeyError: 'customer_name'" in caplog.text and "in broken" in caplog.text


def test_the_services_own_errors_pass_as_they_are(qtbot) -> None:  # type: ignore[no-untyped-def]
    error = ValidationError.single("mobile", "手机号格式不正确")

    def refuse() -> None:
        raise error

    assert _failure_of(qtbot, refuse) is error
