"""Idle lock 自动锁屏: after the clinic's idle time with no mouse or key input, the window and its
dialogs are hidden behind a lock screen until the same user types their password (or logs out).

The time is the system parameter ``security.idle_lock_minutes`` (0 = never), read off the GUI thread.
Locking and unlocking are audited; a wrong password counts toward the account's lockout like a login
(checked off the GUI thread: the lock screen is busy meanwhile).

Nothing else comes up over the lock: a window that is shown while locked (a dialog opened by a timer or
a finished background job, a message box, the crash dialog) is hidden at once and shown after the
unlock — a modal one keeps waiting for its answer meanwhile. Only a window that says it shows nothing
personal (the property ``OVER_LOCK``: the caller pop-up's "来电" notice) and tooltips may appear.
"""

from __future__ import annotations

import time

import shiboken6
from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QApplication, QDialog, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from meike.db import Clinic
from meike.errors import LoginFailed
from meike.permissions import Actor
from ui.operations import shell as ops
from ui.tasks import error_text
from ui.widgets.form import ERROR_STYLE
from ui.widgets.messages import INTERRUPTED

OVER_LOCK = "meike_over_lock"  # a window with this property true may show while the window is locked
LOCKED = "meike_locked"  # set on the main window while it is locked (``ui.app.bring_forward`` reads it)
INPUT_EVENTS = {QEvent.Type.MouseButtonPress, QEvent.Type.MouseMove, QEvent.Type.KeyPress, QEvent.Type.Wheel,
                QEvent.Type.TouchBegin}


class IdleWatcher(QObject):
    """Emits ``idle`` once when no input reached the application for ``limit_s`` seconds."""

    idle = Signal()

    def __init__(self, limit_s: float, parent: QObject | None = None, *, check_ms: int = 5_000) -> None:
        super().__init__(parent)
        self.limit_s = limit_s
        self.last_input = time.monotonic()
        self.fired = False
        self.timer = QTimer(self)
        self.timer.setInterval(check_ms)
        self.timer.timeout.connect(self.check)
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self)
        if limit_s > 0:
            self.timer.start()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt override)
        if event.type() in INPUT_EVENTS:
            self.last_input = time.monotonic()
        return False

    def check(self) -> None:
        if self.limit_s > 0 and not self.fired and time.monotonic() - self.last_input >= self.limit_s:
            self.fired = True
            self.idle.emit()

    def set_limit(self, limit_s: float) -> None:
        """A new idle time (0: never); counted from the last input."""
        self.limit_s = limit_s
        if limit_s > 0:
            self.timer.start()
        else:
            self.timer.stop()

    def rearm(self) -> None:
        self.last_input = time.monotonic()
        self.fired = False

    def stop(self) -> None:
        self.timer.stop()
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)


class LockScreen(QWidget):
    """Covers the main window; ``unlocked`` after the right password, ``logout`` on request."""

    unlocked = Signal()
    logout = Signal()

    def __init__(self, clinic: Clinic, actor: Actor, parent: QWidget) -> None:
        super().__init__(parent)
        self.clinic, self.actor = clinic, actor
        self.setObjectName("lock_screen")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)  # paint the opaque background
        self.setAutoFillBackground(True)
        self.setStyleSheet("#lock_screen { background: #24445c; } QLabel { color: white; }")
        title = QLabel(f"已锁屏　{actor.label}", objectName="lock_title")
        title.setStyleSheet("font-size: 20px; color: white;")
        hint = QLabel("长时间没有操作，为保护顾客信息已自动锁屏。请输入密码继续。", objectName="lock_hint")
        self.password = QLineEdit(objectName="lock_password", placeholderText="密码")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setMaximumWidth(280)
        self.message = QLabel(objectName="lock_message")
        self.message.setStyleSheet(ERROR_STYLE + "color: #ffb4a8;")
        self.unlock_button = QPushButton("解锁", objectName="lock_unlock")
        self.logout_button = QPushButton("退出登录", objectName="lock_logout")
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        for widget in (title, hint, self.password, self.message, self.unlock_button, self.logout_button):
            layout.addWidget(widget, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(2)
        self.password.returnPressed.connect(self.try_unlock)
        self.unlock_button.clicked.connect(self.try_unlock)
        self.logout_button.clicked.connect(self.logout.emit)
        self.hide()

    def cover(self) -> None:
        parent = self.parentWidget()
        if parent is not None:
            self.setGeometry(parent.rect())
        self.password.clear()
        self.message.clear()
        self.show()
        self.raise_()
        self.password.setFocus()

    def try_unlock(self) -> None:
        """Check the password (on the database lane); ``unlocked`` when it is the user's."""
        if not self.unlock_button.isEnabled():  # a check is already under way
            return
        ops.unlock(self, self.clinic, self.actor, self.password.text()).success(self._right).failure(
            self._wrong).busy(self.password, self.unlock_button).run()

    def _right(self, _actor: Actor) -> None:
        self.message.clear()
        self.hide()
        self.unlocked.emit()

    def _wrong(self, error: Exception) -> None:
        self.password.clear()
        self.message.setText(error.message if isinstance(error, LoginFailed) else error_text(error))
        self.password.setFocus()


class IdleLock(QObject):
    """Wires the watcher and the lock screen to a main window; hides its other windows while locked.

    ``lock_changed(True)`` after locking, ``lock_changed(False)`` after the unlock (the windows that were
    hidden are back by then).
    """

    lock_changed = Signal(bool)

    def __init__(self, clinic: Clinic, actor: Actor, window: QWidget, minutes: int | None = None, *,
                 check_ms: int = 5_000) -> None:
        """``minutes``: the idle time; None reads the clinic's (``security.idle_lock_minutes``)."""
        super().__init__(window)
        self.clinic, self.actor, self.window = clinic, actor, window
        self.watcher = IdleWatcher((minutes or 0) * 60, self, check_ms=check_ms)
        self.screen = LockScreen(clinic, actor, window)
        self.hidden: list[QWidget] = []
        self._done: dict[QDialog, object] = {}  # hidden dialogs → their finished connection, while locked
        self._finished: list[QWidget] = []  # hidden dialogs answered while locked: they stay closed
        self._guarding = False
        self._stopped = False
        self.watcher.idle.connect(self.lock)
        self.screen.unlocked.connect(self._unlocked)
        if minutes is None:
            ops.idle_lock_minutes(window, clinic).success(self._minutes).run()

    def _minutes(self, minutes: int) -> None:
        if not self._stopped:
            self.watcher.set_limit(minutes * 60)

    @property
    def locked(self) -> bool:
        return self.screen.isVisible()

    def lock(self) -> None:
        if self.locked:
            return
        self.hidden = [w for w in QApplication.topLevelWidgets()
                       if w is not self.window and w.isVisible() and w.window() is not self.window.window()]
        for widget in self.hidden:
            if isinstance(widget, QDialog):  # its exec() ends with the hide: messages.run runs it again
                widget.setProperty(INTERRUPTED, True)
            widget.hide()
        self.hidden = [w for w in self.hidden if self._comes_back(w)]
        for widget in self.hidden:
            self._watch_done(widget)
        central = getattr(self.window, "centralWidget", lambda: None)()
        if central is not None:  # nothing of the pages stays on screen, whatever the style paints
            central.hide()
        self.screen.cover()
        self._guard(True)
        self.window.setProperty(LOCKED, True)
        ops.record_lock(self.window, self.clinic, self.actor, True).run()
        self.lock_changed.emit(True)

    def _unlocked(self) -> None:
        self._guard(False)
        self.window.setProperty(LOCKED, False)
        central = getattr(self.window, "centralWidget", lambda: None)()
        if central is not None:
            central.show()
        hidden, self.hidden = self.hidden, []
        done, self._done = self._done, {}
        for dialog, connection in done.items():
            if shiboken6.isValid(dialog):
                dialog.finished.disconnect(connection)
        for widget in hidden:  # a message box that was waiting may be gone by now; a dialog answered stays shut
            if shiboken6.isValid(widget) and widget not in self._finished:
                widget.setProperty(INTERRUPTED, False)
                widget.show()
        self._finished.clear()
        self.watcher.rearm()
        ops.record_lock(self.window, self.clinic, self.actor, False).run()
        self.lock_changed.emit(False)

    # --- nothing comes up over the lock ----------------------------------------------------------------

    def _guard(self, on: bool) -> None:
        app = QApplication.instance()
        if app is None or on == self._guarding:
            return
        if on:
            app.installEventFilter(self)
        else:
            app.removeEventFilter(self)
        self._guarding = on

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt override)
        """While locked: a window being shown is hidden again before it is painted, and kept for later.
        (``ShowToParent`` comes after Qt has finished showing it, before any paint; a modal dialog's
        ``exec()`` then waits, hidden and no longer blocking the lock screen, until it is shown again.)"""
        if (event.type() == QEvent.Type.ShowToParent and isinstance(watched, QWidget) and watched.isWindow()
                and self.locked and not self._may_show(watched)):
            watched.hide()
            if self._comes_back(watched) and watched not in self.hidden:
                self.hidden.append(watched)
                self._watch_done(watched)
        return False

    def _may_show(self, widget: QWidget) -> bool:
        if widget is self.window or widget.windowType() == Qt.WindowType.ToolTip or bool(widget.property(OVER_LOCK)):
            return True
        parent = widget.parentWidget()
        while parent is not None:  # the lock screen's own menus (the password field's 复制/粘贴)
            if parent is self.screen:
                return True
            parent = parent.parentWidget()
        return False

    def _watch_done(self, widget: QWidget) -> None:
        """A hidden dialog that is answered while locked (an action it started finished: 收款 went through)
        is done: it does not come back after the unlock."""
        if isinstance(widget, QDialog) and widget not in self._done:
            self._done[widget] = widget.finished.connect(lambda _r, w=widget: self._finished.append(w))

    @staticmethod
    def _comes_back(widget: QWidget) -> bool:
        """Menus and other pop-ups close for good; windows and dialogs come back after the unlock."""
        return widget.windowType() not in (Qt.WindowType.Popup, Qt.WindowType.ToolTip)

    def resize_cover(self) -> None:
        if self.locked:
            self.screen.setGeometry(self.window.rect())

    def stop(self) -> None:
        """The window closes (log out, quit): the watcher and the guard go; what was hidden stays hidden."""
        self._stopped = True
        self.watcher.stop()
        self._guard(False)
