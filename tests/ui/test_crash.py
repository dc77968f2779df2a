"""An error nobody caught: logged with its traceback, a Chinese dialog, the program goes on."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication, QLabel, QPushButton

from meike import logs
from ui import crash

pytestmark = pytest.mark.gui


@pytest.fixture
def reporter(qapp: QApplication, tmp_path: Path) -> Iterator[crash.CrashReporter]:
    logs.setup(tmp_path / "logs")
    hook = sys.excepthook
    reporter = crash.install(qapp)
    yield reporter
    sys.excepthook = hook
    if reporter.dialog is not None:
        reporter.dialog.close()
    reporter.dialog = None
    logs.shutdown()


def _log_text(tmp_path: Path) -> str:
    for handler in __import__("logging").getLogger().handlers:
        handler.flush()
    return (tmp_path / "logs" / logs.LOG_FILE).read_text(encoding="utf-8")


@pytest.mark.qt_no_exception_capture
def test_an_error_in_a_slot_shows_the_dialog_and_lands_in_the_log(qtbot, reporter, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    button = QPushButton("保存")
    qtbot.addWidget(button)

    def broken() -> None:
        raise ZeroDivisionError("a bug in a slot")

    button.clicked.connect(broken)
    button.click()
    qtbot.waitUntil(lambda: reporter.dialog is not None and reporter.dialog.isVisible(), timeout=5000)
    dialog = reporter.dialog
    assert dialog is not None and dialog.windowTitle() == "程序出错"
    shown = " ".join(label.text() for label in dialog.findChildren(QLabel) if label.isVisible())
    assert "已经保存的数据不会丢失" in shown and str(tmp_path / "logs" / logs.LOG_FILE) in shown
    assert "ZeroDivisionError" not in shown and "Traceback" not in shown  # no exception text on screen
    text = _log_text(tmp_path)
    assert "uncaught error" in text and "ZeroDivisionError: a bug in a slot" in text and "in broken" in text
    dialog.copy_button.click()
    copied = QApplication.clipboard().text()
    assert "ZeroDivisionError: a bug in a slot" in copied and "美客" in copied
    assert dialog.copy_button.text() == "已复制"


@pytest.mark.qt_no_exception_capture
def test_an_error_in_another_thread_is_logged_and_shown_once(qtbot, reporter, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(threading, "excepthook", logs.thread_excepthook)  # pytest puts its own in during a test
    def worker() -> None:
        raise RuntimeError("a bug in a worker")

    for _ in range(2):
        thread = threading.Thread(target=worker, name="worker-x")
        thread.start()
        thread.join()
    qtbot.waitUntil(lambda: reporter.dialog is not None and reporter.dialog.count == 2, timeout=5000)
    assert reporter.dialog is not None and reporter.dialog.repeats.text() == "之后又发生了 1 次错误。"
    text = _log_text(tmp_path)
    assert text.count("uncaught error in thread worker-x") == 2 and "RuntimeError: a bug in a worker" in text


@pytest.mark.no_qt_log  # pytest-qt's own capture would replace the program's message handler
def test_qt_warnings_go_to_the_log(qtbot, reporter, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtCore import qWarning

    qWarning("a warning from Qt")
    assert "WARNING" in _log_text(tmp_path) and "qt: a warning from Qt" in _log_text(tmp_path)


@pytest.mark.qt_no_exception_capture
def test_a_program_left_without_any_window_ends_after_the_dialog(qtbot, reporter, qapp: QApplication,  # type: ignore[no-untyped-def]
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The login or main window could not be built: after 继续使用 nothing is left to use, so the program
    ends instead of running on invisibly (holding the clinic's lock and the installer's mutex)."""
    quits: list[bool] = []
    monkeypatch.setattr(qapp, "quit", lambda: quits.append(True))
    monkeypatch.setattr(qapp, "quitOnLastWindowClosed", lambda: False)  # as the program runs
    button = QPushButton("登录")
    button.clicked.connect(lambda: 1 / 0)
    button.click()  # never shown: no window of the program is visible
    qtbot.waitUntil(lambda: reporter.dialog is not None and reporter.dialog.isVisible(), timeout=5000)
    reporter.dialog.findChild(QPushButton, "crash_ok").click()
    qtbot.waitUntil(lambda: quits == [True], timeout=5000)


@pytest.mark.qt_no_exception_capture
def test_a_program_with_its_window_goes_on_after_the_dialog(qtbot, reporter, qapp: QApplication,  # type: ignore[no-untyped-def]
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from PySide6.QtWidgets import QMainWindow

    quits: list[bool] = []
    monkeypatch.setattr(qapp, "quit", lambda: quits.append(True))
    monkeypatch.setattr(qapp, "quitOnLastWindowClosed", lambda: False)
    window = QMainWindow()
    qtbot.addWidget(window)
    window.show()
    button = QPushButton("保存", window)
    button.clicked.connect(lambda: 1 / 0)
    button.click()
    qtbot.waitUntil(lambda: reporter.dialog is not None and reporter.dialog.isVisible(), timeout=5000)
    reporter.dialog.findChild(QPushButton, "crash_ok").click()
    qtbot.waitUntil(lambda: not reporter.dialog.isVisible(), timeout=5000)
    qapp.processEvents()
    assert quits == [] and window.isVisible()
