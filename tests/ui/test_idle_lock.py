"""自动锁屏: no input for the clinic's idle time hides the window behind a lock until the password."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog

from meike.db import Clinic
from meike.services import accounts, audit, system
from meike.services.audit import AuditFilter
from ui.idle_lock import IdleLock
from ui.main_window import MainWindow

pytestmark = pytest.mark.gui


def test_idle_window_locks_and_only_the_users_password_unlocks(qtbot, demo_clinic: Clinic) -> None:  # type: ignore[no-untyped-def]
    gl = accounts.authenticate(demo_clinic, "gl", "123")
    window = MainWindow(demo_clinic, gl)
    qtbot.addWidget(window)
    window.show()
    assert window.idle_lock.watcher.limit_s == 10 * 60  # the default: 10 minutes
    window.idle_lock.stop()
    lock = IdleLock(demo_clinic, gl, window, 1, check_ms=20)
    lock.watcher.limit_s = 0.2  # seconds, for the test
    detail = QDialog(window)  # an open window with a customer's data on it
    detail.setObjectName("some_dialog")
    detail.show()
    qtbot.waitUntil(lambda: lock.locked, timeout=3000)
    assert lock.screen.isVisible() and lock.screen.geometry() == window.rect() and not detail.isVisible()
    assert not window.centralWidget().isVisible()  # the pages are hidden, not just covered
    qtbot.keyClicks(lock.screen.password, "wrong")
    qtbot.keyClick(lock.screen.password, Qt.Key.Key_Return)
    assert lock.locked and "用户名或密码错误" in lock.screen.message.text() and lock.screen.password.text() == ""
    qtbot.keyClicks(lock.screen.password, "123")
    qtbot.mouseClick(lock.screen.unlock_button, Qt.MouseButton.LeftButton)
    assert not lock.locked and detail.isVisible() and window.centralWidget().isVisible()
    lines = audit.search(demo_clinic, accounts.authenticate(demo_clinic, "admin", "admin"), AuditFilter(username="gl"))
    assert [line.action for line in lines[:4]] == ["session.unlock", "login.ok", "login.failed", "session.lock"]
    lock.stop()


def test_input_keeps_it_unlocked_and_zero_minutes_never_locks(qtbot, demo_clinic: Clinic) -> None:  # type: ignore[no-untyped-def]
    gl = accounts.authenticate(demo_clinic, "gl", "123")
    with demo_clinic.write() as s:
        system.set_in(s, gl, "security.idle_lock_minutes", 0)
    window = MainWindow(demo_clinic, gl)
    qtbot.addWidget(window)
    window.show()
    assert window.idle_lock.watcher.limit_s == 0 and not window.idle_lock.watcher.timer.isActive()
    lock = window.idle_lock
    lock.watcher.limit_s = 0.3
    lock.watcher.timer.setInterval(20)
    lock.watcher.timer.start()
    for _ in range(6):  # someone working: a key every 0.1 s
        qtbot.wait(100)
        qtbot.keyClick(window, Qt.Key.Key_Shift)
    assert not lock.locked
    qtbot.waitUntil(lambda: lock.locked, timeout=3000)
    with qtbot.waitSignal(window.closed) as closed:
        qtbot.mouseClick(lock.screen.logout_button, Qt.MouseButton.LeftButton)
    assert closed.args == [True]  # logged out: the login window comes back
