"""自动锁屏: no input for the clinic's idle time hides the window behind a lock until the password."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QDialog, QLineEdit, QMenu, QMessageBox

from meike.db import Clinic
from meike.services import accounts, audit, system
from meike.services.audit import AuditFilter
from tests.ui.waiting import settle
from ui.idle_lock import IdleLock
from ui.main_window import MainWindow

pytestmark = pytest.mark.gui


def test_idle_window_locks_and_only_the_users_password_unlocks(qtbot, demo_clinic: Clinic) -> None:  # type: ignore[no-untyped-def]
    gl = accounts.authenticate(demo_clinic, "gl", "123")
    window = MainWindow(demo_clinic, gl)
    qtbot.addWidget(window)
    window.show()
    settle()  # the clinic's idle time is read off the GUI thread
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
    settle()  # the password is checked off the GUI thread
    assert lock.locked and lock.screen.message.text() == "用户名或密码不正确" and lock.screen.password.text() == ""
    qtbot.keyClicks(lock.screen.password, "123")
    qtbot.mouseClick(lock.screen.unlock_button, Qt.MouseButton.LeftButton)
    settle()
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
    settle()
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


def _locked_window(qtbot, clinic: Clinic) -> MainWindow:  # type: ignore[no-untyped-def]
    gl = accounts.authenticate(clinic, "gl", "123")
    window = MainWindow(clinic, gl)
    qtbot.addWidget(window)
    window.show()
    window.idle_lock.lock()
    assert window.idle_lock.locked
    return window


def _unlock(window: MainWindow) -> None:
    window.idle_lock.screen.password.setText("123")
    window.idle_lock.screen.try_unlock()
    settle()  # the password is checked off the GUI thread
    assert not window.idle_lock.locked


def test_windows_opened_while_locked_wait_for_the_unlock(qtbot, qapp, demo_clinic: Clinic) -> None:  # type: ignore[no-untyped-def]
    """A dialog a timer or a finished job opens, a message box, the crash dialog: none of them shows over
    the lock; they come up after the unlock. A second start of Meike brings forward the lock only."""
    from ui import crash
    from ui.app import bring_forward

    window = _locked_window(qtbot, demo_clinic)
    detail = QDialog(window)  # e.g. a customer's detail opened by a finished background job
    detail.setObjectName("detail_opened_while_locked")
    detail.open()
    reporter = crash.CrashReporter(qapp)
    reporter.reported.emit("Traceback: 1")
    reporter.reported.emit("Traceback: 2")
    assert not detail.isVisible() and reporter.dialog is not None and not reporter.dialog.isVisible()
    assert QApplication.activeModalWidget() is None  # nothing blocks the lock screen's password field
    assert bring_forward() is window and window.idle_lock.screen.isVisible() and not detail.isVisible()
    assert not window.centralWidget().isVisible() and window.property("meike_locked")
    with qtbot.waitSignal(window.idle_lock.lock_changed) as changed:
        _unlock(window)
    assert changed.args == [False] and not window.property("meike_locked")
    assert detail.isVisible() and reporter.dialog.isVisible() and reporter.dialog.count == 2
    reporter.dialog.accept()
    reporter.deleteLater()


def test_a_message_box_asked_while_locked_waits_for_its_answer(qtbot, demo_clinic: Clinic) -> None:  # type: ignore[no-untyped-def]
    window = _locked_window(qtbot, demo_clinic)
    box = QMessageBox(QMessageBox.Icon.Question, "合并收费", "把 2 张收费单合并为一张吗？",
                      QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, window)
    seen: dict[str, object] = {}

    def inside_exec() -> None:  # runs in the message box's own event loop
        seen["hidden_while_locked"] = not box.isVisible()
        seen["blocking"] = QApplication.activeModalWidget()
        _unlock(window)
        seen["shown_after_unlock"] = box.isVisible()
        box.button(QMessageBox.StandardButton.Yes).click()

    def ask() -> None:
        QTimer.singleShot(0, inside_exec)
        seen["answer"] = box.exec()

    QTimer.singleShot(0, ask)
    qtbot.waitUntil(lambda: "answer" in seen, timeout=5000)
    assert seen == {"hidden_while_locked": True, "blocking": None, "shown_after_unlock": True,
                    "answer": QMessageBox.StandardButton.Yes}


def test_the_lock_screens_own_tooltips_and_menus_still_show(qtbot, demo_clinic: Clinic) -> None:  # type: ignore[no-untyped-def]
    window = _locked_window(qtbot, demo_clinic)
    menu = window.idle_lock.screen.password.createStandardContextMenu()  # 复制 / 粘贴 of the password field
    menu.setParent(window.idle_lock.screen.password, menu.windowFlags())
    menu.popup(window.idle_lock.screen.password.mapToGlobal(window.idle_lock.screen.password.rect().center()))
    assert menu.isVisible()
    menu.close()
    other = QMenu(window.centralWidget())  # a page's menu: not over the lock
    other.addAction("打开顾客")
    other.popup(window.mapToGlobal(window.rect().center()))
    assert not other.isVisible()
    _unlock(window)
    assert not other.isVisible()  # a menu does not come back by itself


def test_the_account_manager_locks_too(qtbot, demo_clinic: Clinic) -> None:  # type: ignore[no-untyped-def]
    """The administrator's window, left open, must not hand out rights to whoever sits down."""
    from ui.account_manager import AccountManager

    admin = accounts.authenticate(demo_clinic, "admin", "admin")
    manager = AccountManager(demo_clinic, admin)
    qtbot.addWidget(manager)
    manager.show()
    settle()
    assert manager.idle_lock.watcher.limit_s == 10 * 60
    manager.idle_lock.lock()
    assert manager.idle_lock.locked and not manager.centralWidget().isVisible()
    qtbot.keyClicks(manager.idle_lock.screen.password, "admin")
    qtbot.keyClick(manager.idle_lock.screen.password, Qt.Key.Key_Return)
    settle()
    assert not manager.idle_lock.locked and manager.centralWidget().isVisible()
    manager.idle_lock.stop()


def test_a_dialog_open_when_the_lock_comes_keeps_what_was_typed(qtbot, demo_clinic: Clinic) -> None:  # type: ignore[no-untyped-def]
    """Hiding a dialog ends its exec() as if cancelled: through messages.run it waits for the unlock and
    goes on with what was typed (here: 修改密码, the old and new passwords)."""
    gl = accounts.authenticate(demo_clinic, "gl", "123")
    window = MainWindow(demo_clinic, gl)
    qtbot.addWidget(window)
    window.show()
    seen: dict[str, object] = {}

    def inside_exec() -> None:
        dialog = QApplication.activeModalWidget()
        assert isinstance(dialog, QDialog)
        edits = [e for e in dialog.findChildren(QLineEdit) if e.isVisible()]
        for edit, text in zip(edits, ("123", "new-pass-9", "new-pass-9"), strict=False):
            edit.setText(text)
        window.idle_lock.lock()
        QTimer.singleShot(0, lambda: after_lock(dialog))

    def after_lock(dialog: QDialog) -> None:
        seen["hidden_while_locked"] = not dialog.isVisible()
        window.idle_lock.screen.password.setText("123")
        window.idle_lock.screen.try_unlock()
        settle()
        assert not window.idle_lock.locked
        seen["back"] = dialog.isVisible()
        seen["kept"] = [e.text() for e in dialog.findChildren(QLineEdit) if e.isVisible()][:3]
        dialog.reject()

    QTimer.singleShot(0, inside_exec)
    window.change_password()
    assert seen["hidden_while_locked"] and seen["back"]
    assert seen["kept"] == ["123", "new-pass-9", "new-pass-9"]
    window.idle_lock.stop()
