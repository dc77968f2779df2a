"""Login dialog, lockout, and who lands in which window."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMessageBox, QPushButton

from meike.db import Clinic
from meike.errors import PermissionDenied
from meike.permissions import Actor, Page
from meike.services import accounts
from tests.conftest import make_user
from tests.ui.waiting import settle
from ui import geometry
from ui.account_manager import AccountManager
from ui.app import window_for
from ui.dialogs.login import LoginDialog
from ui.main_window import MainWindow

pytestmark = pytest.mark.gui


def login_as(qtbot, clinic: Clinic, username: str, password: str) -> LoginDialog:  # type: ignore[no-untyped-def]
    dialog = LoginDialog(clinic, "测试诊所")
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.user.setText(username)
    qtbot.keyClicks(dialog.password, password)
    qtbot.mouseClick(dialog.submit, Qt.MouseButton.LeftButton)
    settle()  # the password is checked off the GUI thread
    return dialog


def test_wrong_password_shows_message_and_keeps_user_name(qtbot, demo_clinic: Clinic) -> None:  # type: ignore[no-untyped-def]
    dialog = login_as(qtbot, demo_clinic, "gl", "nope")
    assert dialog.findChild(type(dialog.error), "login_error").text() == "用户名或密码不正确"
    assert dialog.user.text() == "gl"
    assert dialog.password.text() == ""
    assert dialog.actor is None and dialog.isVisible()


def test_five_wrong_passwords_make_even_the_right_one_wait(qtbot, demo_clinic: Clinic) -> None:  # type: ignore[no-untyped-def]
    dialog = login_as(qtbot, demo_clinic, "gl", "bad")
    for _ in range(4):
        qtbot.keyClicks(dialog.password, "bad")
        qtbot.mouseClick(dialog.submit, Qt.MouseButton.LeftButton)
        settle()
    assert dialog.error.text() == "用户名或密码不正确。尝试次数过多，请 30 秒后再试"
    qtbot.keyClicks(dialog.password, "123")
    qtbot.mouseClick(dialog.submit, Qt.MouseButton.LeftButton)
    settle()
    assert dialog.error.text().startswith("尝试次数过多，请 ")
    assert dialog.actor is None


def test_the_window_keeps_running_while_the_password_is_checked(  # type: ignore[no-untyped-def]
        qtbot, demo_clinic: Clinic, monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2 is slow on purpose: the check runs off the GUI thread, the dialog busy meanwhile, and the
    event loop keeps turning (a timer keeps ticking) until the answer comes."""
    checking, release = threading.Event(), threading.Event()
    real = accounts.authenticate

    def slow(*args, **kwargs) -> Actor:  # type: ignore[no-untyped-def]
        checking.set()
        release.wait(30)  # held until the test has seen the loop turn
        return real(*args, **kwargs)

    monkeypatch.setattr(accounts, "authenticate", slow)
    dialog = LoginDialog(demo_clinic, "测试诊所")
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.user.setText("gl")
    qtbot.keyClicks(dialog.password, "123")
    ticks: list[int] = []
    timer = QTimer(interval=10)
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start()
    try:
        qtbot.mouseClick(dialog.submit, Qt.MouseButton.LeftButton)
        assert checking.wait(10)  # the check has started ...
        before = len(ticks)
        qtbot.waitUntil(lambda: len(ticks) >= before + 5, timeout=5000)  # ... and the loop turns meanwhile
        assert checking.is_set() and not release.is_set() and dialog.actor is None
        assert not dialog.submit.isEnabled() and not dialog.password.isEnabled()  # busy: no second check
        qtbot.keyClick(dialog.password, Qt.Key.Key_Return)  # ignored while the check runs
    finally:
        release.set()
        timer.stop()
    settle()
    assert dialog.result() == LoginDialog.DialogCode.Accepted and dialog.actor is not None
    assert dialog.actor.username == "gl" and dialog.submit.isEnabled()


def test_an_unknown_name_answers_like_a_wrong_password_and_long_names_are_cut(qtbot, demo_clinic: Clinic) -> None:  # type: ignore[no-untyped-def]
    dialog = login_as(qtbot, demo_clinic, "nobody", "123")
    assert dialog.error.text() == "用户名或密码不正确"
    dialog.user.setText("x" * 32_767)
    assert len(dialog.user.text()) == accounts.MAX_TYPED_NAME


def test_manual_accounts_land_in_their_windows(qtbot, demo_clinic: Clinic) -> None:  # type: ignore[no-untyped-def]
    dialog = login_as(qtbot, demo_clinic, "gl", "123")
    assert dialog.result() == LoginDialog.DialogCode.Accepted
    window = window_for(demo_clinic, dialog.actor)
    qtbot.addWidget(window)
    assert isinstance(window, MainWindow) and window.objectName() == "main_window"

    admin_dialog = login_as(qtbot, demo_clinic, "admin", "admin")
    manager = window_for(demo_clinic, admin_dialog.actor)
    qtbot.addWidget(manager)
    assert isinstance(manager, AccountManager) and manager.objectName() == "account_manager"


def test_administrator_cannot_open_the_main_window(demo_clinic: Clinic) -> None:
    admin = accounts.authenticate(demo_clinic, "admin", "admin")
    with pytest.raises(PermissionDenied):
        MainWindow(demo_clinic, admin)
    assert admin.pages == []


def test_ordinary_user_cannot_open_the_account_manager(demo_clinic: Clinic) -> None:
    gl = accounts.authenticate(demo_clinic, "gl", "123")
    with pytest.raises(PermissionDenied):
        AccountManager(demo_clinic, gl)


def test_menu_shows_only_granted_pages(qtbot, clinic: Clinic, admin: Actor) -> None:  # type: ignore[no-untyped-def]
    desk = make_user(clinic, admin, "desk", pages=[Page.REGISTRATION, Page.CUSTOMERS])
    window = MainWindow(clinic, desk)
    qtbot.addWidget(window)
    names = {b.objectName() for b in window.findChildren(QPushButton) if b.objectName().startswith("nav_")}
    assert names == {"nav_registration", "nav_customers"}
    assert window.current_page() is Page.REGISTRATION
    qtbot.mouseClick(window.nav_buttons[Page.CUSTOMERS], Qt.MouseButton.LeftButton)
    assert window.current_page() is Page.CUSTOMERS
    with pytest.raises(PermissionDenied):
        window.open_page(Page.CASHIER)


def test_every_page_for_the_manual_account(qtbot, demo_clinic: Clinic) -> None:  # type: ignore[no-untyped-def]
    gl = accounts.authenticate(demo_clinic, "gl", "123")
    window = MainWindow(demo_clinic, gl)
    qtbot.addWidget(window)
    expected = ["nav_dashboard", "nav_registration", "nav_customers", "nav_cashier", "nav_phone", "nav_settings"]
    assert [window.nav_buttons[p].objectName() for p in gl.pages] == expected
    assert [window.nav_buttons[p].text() for p in gl.pages] == ["操作台", "挂号中心", "顾客管理", "收费中心", "电话管理",
                                                                "系统管理"]
    for page in gl.pages:
        qtbot.mouseClick(window.nav_buttons[page], Qt.MouseButton.LeftButton)
        assert window.stack.currentWidget().objectName() == f"page_{page.value}"


def test_window_geometry_is_remembered_per_user(qtbot, demo_clinic: Clinic) -> None:  # type: ignore[no-untyped-def]
    gl = accounts.authenticate(demo_clinic, "gl", "123")
    kf = accounts.authenticate(demo_clinic, "kf", "123")
    first = MainWindow(demo_clinic, gl)
    qtbot.addWidget(first)
    hint = first.minimumSizeHint()  # the offscreen screen is 800×600: stay inside it
    size = (max(700, hint.width()), max(520, hint.height()))
    first.resize(*size)
    first.show()
    first.close()
    again = MainWindow(demo_clinic, gl)
    qtbot.addWidget(again)
    assert (again.width(), again.height()) == size
    other = MainWindow(demo_clinic, kf)
    qtbot.addWidget(other)
    room = other.screen().availableGeometry().marginsRemoved(geometry.frame_margins(other))
    assert (other.width(), other.height()) == (min(1280, room.width()), min(800, room.height()))  # fits the screen
    assert geometry.restore(other, "kf") is False


def test_about_shows_the_version_and_where_the_data_is(qtbot, demo_clinic: Clinic) -> None:  # type: ignore[no-untyped-def]
    import meike
    from meike import paths

    for actor, window_class in ((accounts.authenticate(demo_clinic, "gl", "123"), MainWindow),
                                (accounts.authenticate(demo_clinic, "admin", "admin"), AccountManager)):
        window = window_class(demo_clinic, actor, "示范诊所")
        qtbot.addWidget(window)
        assert "美客" not in window.windowTitle()  # Qt adds the program's name once
        about = window.findChild(QAction, "action_about")
        assert about is not None
        about.trigger()
        box = window.findChild(QMessageBox, "about_dialog")
        assert box is not None and box.isVisible() and box.windowTitle() == "关于 美客"
        text = box.text()
        assert f"版本 {meike.__version__}" in text and str(paths.data_dir()) in text
        box.close()
