"""The main window of ordinary accounts: a left menu of granted pages, the page on the right."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QResizeEvent
from PySide6.QtWidgets import (
    QApplication,
    QButtonGroup,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from meike.db import Clinic
from meike.errors import PermissionDenied
from meike.permissions import PAGE_LABELS, Actor, Page
from ui import geometry
from ui.about import show_about
from ui.dialogs.password import PasswordDialog
from ui.idle_lock import IdleLock
from ui.operations import Op
from ui.operations import accounts as ops
from ui.pages import factory
from ui.pages.base import PageWidget
from ui.taskman import Lane, manager
from ui.widgets import messages

if TYPE_CHECKING:
    from meike.ports import CallerIdSetting
    from meike.workstation import RecordingSetting
    from ui.phone.listener import PhoneListener

NAV_STYLE = """
QFrame#nav { background: #24445c; }
QFrame#nav QPushButton { color: #e8f0f6; background: transparent; border: none; text-align: left;
                         padding: 10px 18px; font-size: 15px; }
QFrame#nav QPushButton:checked { background: #3a6d93; font-weight: bold; }
QFrame#nav QPushButton:hover { background: #2f5878; }
QFrame#nav QLabel { color: #ffffff; padding: 14px 18px; font-size: 17px; font-weight: bold; }
"""


class MainWindow(QMainWindow):
    closed = Signal(bool)  # True when the user logged out (show the login again)
    # The account was disabled or changed: found by a service call on any thread (Actor.check_live), acted
    # on here on the GUI thread: the message, then the login again.
    account_changed = Signal(str)

    def __init__(self, clinic: Clinic, actor: Actor, clinic_name: str = "", *,
                 callerid: CallerIdSetting | None = None, recording: RecordingSetting | None = None,
                 audio_backend: object = None) -> None:
        super().__init__()
        self.recording, self.audio_backend = recording, audio_backend  # None: this PC's settings, the sound card
        if actor.is_admin:
            raise PermissionDenied("管理员账号只能进入账号管理，不能进入主页面")
        self.clinic, self.actor = clinic, actor
        self.setObjectName("main_window")
        # Qt adds the application's name: "<clinic> — <user> — 美客"
        self.setWindowTitle(f"{clinic_name} — {actor.label}" if clinic_name else actor.label)
        self.pages: dict[Page, QWidget] = {}
        self._cover: IdleLock | None = None  # the idle lock, once made (a resize may come before)
        self._logging_out = False
        self.account_notice = ""  # why the window logged the user out by itself
        self.account_changed.connect(self._account_changed, Qt.ConnectionType.QueuedConnection)
        self._unwatch = actor.account.watch(self.account_changed.emit)
        self.nav_buttons: dict[Page, QPushButton] = {}

        nav = QFrame(objectName="nav")
        nav.setStyleSheet(NAV_STYLE)
        nav.setFixedWidth(180)
        nav_layout = QVBoxLayout(nav)
        nav_layout.setContentsMargins(0, 0, 0, 0)
        nav_layout.setSpacing(0)
        nav_layout.addWidget(QLabel("美客"))
        group = QButtonGroup(self)
        group.setExclusive(True)
        for page in actor.pages:
            button = QPushButton(PAGE_LABELS[page], objectName=f"nav_{page.value}")
            button.setCheckable(True)
            button.clicked.connect(lambda _checked=False, p=page: self.open_page(p))
            group.addButton(button)
            nav_layout.addWidget(button)
            self.nav_buttons[page] = button
        nav_layout.addStretch(1)
        user = QLabel(actor.label, objectName="nav_user")
        user.setStyleSheet("font-size: 13px; font-weight: normal;")
        nav_layout.addWidget(user)

        self.stack = QStackedWidget(objectName="page_stack")
        self.empty = QLabel("您的账号还没有任何页面权限，请联系管理员分配。", objectName="no_pages")
        self.stack.addWidget(self.empty)
        central = QWidget()
        layout = QHBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(nav)
        layout.addWidget(self.stack, 1)
        self.setCentralWidget(central)
        self.setup_menus()
        self.statusBar().showMessage(f"{clinic_name}　当前用户：{actor.label}（{actor.username}）")
        if not geometry.restore(self, actor.username):
            geometry.fit_to_screen(self, default=(1280, 800))
        if actor.pages:
            self.open_page(actor.pages[0])
        self.idle_lock = IdleLock(clinic, actor, self)  # the clinic's idle time, read off the GUI thread
        self.idle_lock.screen.logout.connect(self.logout)
        self._cover = self.idle_lock
        self.phone_listener: PhoneListener | None = None
        self.start_phone(callerid)
        # The other pages' code imported ahead, off the GUI thread: opening one later builds its widgets only
        # (a first import of the cashier's modules alone stalled the window for tens of milliseconds).
        manager().run(Lane.IO, lambda: [factory(page) for page in actor.pages])

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        if self._cover is not None:
            self._cover.resize_cover()

    def start_phone(self, setting: CallerIdSetting | None = None) -> PhoneListener | None:
        """Listen to this PC's caller-ID box, if one is configured and the user has 电话管理."""
        from meike import workstation

        setting = setting if setting is not None else workstation.callerid_setting()
        if not setting.enabled or not self.actor.can_open(Page.PHONE):
            return None
        from ui.phone.listener import PhoneListener

        if self.phone_listener is not None:
            self.phone_listener.close()
        listener = PhoneListener(self.clinic, self.actor, self, recording=self.recording or workstation.recording_setting(),
                                 audio_backend=self.audio_backend)
        listener.popup.register_requested.connect(self.register_caller)
        listener.popup.open_customer.connect(self.open_customer)
        listener.popup.bind(self.clinic, self.actor)  # 显示 on the pop-up: a full number only by a logged reveal
        listener.device_failed.connect(lambda exc: self.statusBar().showMessage(f"来电盒：{exc}", 15000))
        where = setting.port if setting.kind == "serial" else setting.family
        listener.started.connect(lambda _cmd: self.statusBar().showMessage(f"来电盒已连接（{where}）", 5000))
        self.idle_lock.lock_changed.connect(listener.set_locked)  # locked: "来电" only, the card after the unlock
        listener.set_locked(self.idle_lock.locked)
        listener.start(setting)
        self.phone_listener = listener
        return listener

    def register_caller(self, number: str) -> QWidget | None:
        """登记新顾客 from the pop-up: the registration page, cleared, with the caller's number filled in."""
        if self.idle_lock.locked:
            return None
        if Page.REGISTRATION not in self.nav_buttons:
            self.statusBar().showMessage("您没有“挂号中心”的权限，不能登记新顾客", 5000)
            return None
        from ui.front_desk.registration import RegistrationPage

        page = self.open_page(Page.REGISTRATION)
        if isinstance(page, RegistrationPage):
            page.prepare_for_caller(number)
        self.raise_()
        self.activateWindow()
        return page

    def setup_menus(self) -> None:
        menu = self.menuBar().addMenu("系统")
        change = QAction("修改密码", self, objectName="action_change_password")
        change.triggered.connect(self.change_password)
        logout = QAction("退出登录", self, objectName="action_logout")
        logout.triggered.connect(self.logout)
        quit_action = QAction("退出", self, objectName="action_quit")
        quit_action.triggered.connect(self.close)
        for action in (change, logout, quit_action):
            menu.addAction(action)
        help_menu = self.menuBar().addMenu("帮助")
        about = QAction("关于 美客", self, objectName="action_about")
        about.triggered.connect(lambda: show_about(self))
        help_menu.addAction(about)

    def open_page(self, page: Page) -> QWidget:
        """Show a page, building it on first use. The page's own service calls check permission (and the
        account) too; this is the login's view, without a database round trip on the GUI thread."""
        if not self.actor.can_open(page):
            raise PermissionDenied(f"您没有“{PAGE_LABELS[page]}”的权限，请联系管理员")
        widget = self.pages.get(page)
        if widget is None:
            widget = factory(page)(self.clinic, self.actor)
            self.pages[page] = widget
            self.stack.addWidget(widget)
            self._wire(widget)
        elif isinstance(widget, PageWidget):
            widget.reopen()
        self.stack.setCurrentWidget(widget)
        self.nav_buttons[page].setChecked(True)
        return widget

    def _wire(self, widget: QWidget) -> None:
        """Pages ask the window for what lies beyond them: a customer's detail, another page."""
        if isinstance(widget, PageWidget):
            widget.open_customer.connect(self.open_customer)
            widget.open_page.connect(lambda value: Page(value) in self.nav_buttons and self.open_page(Page(value)))

    def open_customer(self, customer_id: int) -> QWidget | None:
        """The customer detail dialog (needs the 顾客管理 page; the services check it again). Never while
        the window is locked."""
        from ui.front_desk.detail import CustomerDetailDialog

        if self.idle_lock.locked:
            return None
        if not self.actor.can_open(Page.CUSTOMERS):
            self.statusBar().showMessage("您没有“顾客管理”的权限，不能打开顾客详情", 5000)
            return None
        dialog = CustomerDetailDialog(self.clinic, self.actor, customer_id, self)
        self.detail = dialog
        dialog.open()
        return dialog

    def current_page(self) -> Page | None:
        return next((p for p, w in self.pages.items() if w is self.stack.currentWidget()), None)

    def change_password(self) -> None:
        def save(old: str, new: str, confirm: str) -> Op[None]:
            return ops.change_own_password(dialog, self.clinic, self.actor, old, new, confirm)

        dialog = PasswordDialog("修改密码", lambda _p, _c: Op(None, lambda: None), self, with_old=save)
        if messages.run(dialog):
            self.statusBar().showMessage("密码已修改", 5000)

    def logout(self) -> None:
        self._logging_out = True
        self.close()

    def _account_changed(self, message: str) -> None:
        """The account was disabled or changed since the login: the window's dialogs close, nothing more of
        the clinic is shown, the user reads why and logs in again. Under the idle lock the window only
        logs out (nothing shows over the lock)."""
        if self._logging_out or self.account_notice or not self.isVisible():
            return
        self.account_notice = message
        self.setProperty(messages.LOGGING_OUT, True)  # an action refused meanwhile says nothing more
        for widget in QApplication.topLevelWidgets():  # its dialogs first (a modal one ends its loop)
            if widget is not self and widget.isVisible() and self._owns(widget):
                widget.close()
        central = self.centralWidget()
        if central is not None:
            central.hide()
        if not self.idle_lock.locked:
            box = QMessageBox(QMessageBox.Icon.Information, "请重新登录", message, QMessageBox.StandardButton.Ok,
                              self)
            box.setObjectName("account_changed")
            box.button(QMessageBox.StandardButton.Ok).setText("确定")
            box.exec()
        self.logout()

    def _owns(self, widget: QWidget) -> bool:
        parent = widget.parentWidget()
        while parent is not None:
            if parent is self:
                return True
            parent = parent.parentWidget()
        return False

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt override)
        self._unwatch()
        geometry.save(self, self.actor.username)
        self.idle_lock.stop()
        if self.phone_listener is not None:
            self.phone_listener.close()
            self.phone_listener = None
        super().closeEvent(event)
        self.closed.emit(self._logging_out)
