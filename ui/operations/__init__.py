"""User actions, one small function each, run off the GUI thread (after Anki's ``aqt/operations``).

A page never calls a service itself. It asks ``ui/operations/<desk>.py`` for the action, which returns
an ``Op``; the page says what to do with the answer and runs it::

    ops.cashier.pay(self, order_id, tenders, key).success(self._paid).run()

While the service runs on the task manager's database lane, the asking widget is disabled with a busy
cursor (a second click cannot pay twice), and the window keeps painting. Then, on the GUI thread:

- on success, the one application-wide ``bus().changed`` signal carries the ``Changes`` the action's
  committed transactions wrote (``meike/changes.py``), so every page refreshes what it shows of them;
  then the success callback runs;
- on failure, the error in Chinese (``ui.tasks.user_error``: a service's own message, a database error
  in words, anything else logged and said in general terms) goes to the failure callback, or by
  default to a message box over the asking widget.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import shiboken6
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QApplication, QWidget

from meike import changes
from meike.changes import Changes
from ui.taskman import Lane, manager
from ui.tasks import user_error

T = TypeVar("T")
log = logging.getLogger(__name__)


class Bus(QObject):
    """The window's one notice of what changed (``Changes``); pages connect to it and refresh."""

    changed = Signal(object)


_bus: Bus | None = None


def bus() -> Bus:
    global _bus
    if _bus is None or not shiboken6.isValid(_bus):
        _bus = Bus()
    return _bus


def announce(what: Changes) -> None:
    """Tell every page what changed (also used by the scheduler and the phone listener's own writes)."""
    if what:
        bus().changed.emit(what)


class Op(Generic[T]):
    """One user action: ``fn`` on a lane of the task manager, answered on the GUI thread."""

    def __init__(self, parent: QWidget | None, fn: Callable[[], T], *, lane: Lane = Lane.DB) -> None:
        self._parent = parent
        self._fn = fn
        self._lane = lane
        self._success: Callable[[T], None] | None = None
        self._failure: Callable[[Exception], None] | None = None
        self._busy: tuple[QWidget, ...] | None = None
        self._then: tuple[Lane, Callable[[Any], Any]] | None = None

    def success(self, callback: Callable[[T], None]) -> Op[T]:
        self._success = callback
        return self

    def failure(self, callback: Callable[[Exception], None]) -> Op[T]:
        """Show the (Chinese) error yourself, e.g. next to a field; the default is a message box."""
        self._failure = callback
        return self

    def then(self, fn: Callable[[T], Any], *, lane: Lane = Lane.IO) -> Op[Any]:
        """A second step on another lane with the first step's result, e.g. a print recorded on the
        database lane, then sent to the printer on the I/O lane (the writer never waits for a printer).
        The widget stays busy through both; the success callback gets the second step's result."""
        self._then = (lane, fn)
        return self

    def busy(self, *widgets: QWidget) -> Op[T]:
        """The widgets disabled while the action runs (default: the asking widget; none: ``busy()``)."""
        self._busy = widgets
        return self

    def run(self) -> None:
        fn, lane = self._fn, self._lane
        busy = self._busy if self._busy is not None else ((self._parent,) if self._parent is not None else ())
        held = [w for w in busy if w.isEnabled()]
        focus = QApplication.focusWidget()  # disabling takes the keyboard focus away; it comes back after
        if focus is not None and not any(w is focus or w.isAncestorOf(focus) for w in held):
            focus = None
        for widget in held:
            widget.setEnabled(False)
            widget.setCursor(Qt.CursorShape.BusyCursor)

        def job() -> tuple[Any, Changes]:
            with changes.collect() as collected:
                try:
                    result = fn()
                except BaseException as exc:  # what committed before the failure is still announced
                    exc.meike_changes = collected.result()  # type: ignore[attr-defined]
                    raise
            return result, collected.result()

        def release() -> None:
            for widget in held:
                if shiboken6.isValid(widget):
                    widget.setEnabled(True)
                    widget.unsetCursor()
            if (focus is not None and shiboken6.isValid(focus) and QApplication.focusWidget() is None
                    and focus.isVisible() and focus.isEnabled()):
                focus.setFocus(Qt.FocusReason.OtherFocusReason)  # the cursor is where the user left it

        def done(answer: tuple[Any, Changes]) -> None:
            result, what = answer
            if self._then is not None:
                next_lane, next_fn = self._then
                announce(what)  # the first step committed; the second is outside the database

                def second() -> tuple[Any, Changes]:
                    return next_fn(result), Changes()

                self._then = None
                manager().run(next_lane, second, done, failed)
                return
            release()
            announce(what)
            if self._success is not None and self._alive():
                self._success(result)

        def failed(exc: BaseException) -> None:
            release()
            committed = getattr(exc, "meike_changes", None)
            if isinstance(committed, Changes):
                announce(committed)
            shown = user_error(exc) if isinstance(exc, Exception) else user_error(RuntimeError("interrupted"))
            if not self._alive():
                return
            if self._failure is not None:
                self._failure(shown)
            elif self._parent is not None and self._closed(self._parent):
                # its window was closed meanwhile: nobody to tell, and a message box over a window being
                # torn down crashes Qt; the error is in the log (user_error logged anything unexpected)
                log.info("an action's refusal arrived after its window closed (%s)", type(shown).__name__)
            else:
                from ui.tasks import error_text
                from ui.widgets import messages

                messages.error(self._parent, error_text(shown))

        manager().run(lane, job, done, failed)

    @staticmethod
    def _closed(widget: QWidget) -> bool:
        """The widget's window is closed (not merely hidden by the idle lock, which shows it again)."""
        from ui.widgets.messages import INTERRUPTED

        window = widget.window()
        return not window.isVisible() and not window.property(INTERRUPTED)

    def _alive(self) -> bool:
        return self._parent is None or shiboken6.isValid(self._parent)


def read(parent: QWidget | None, fn: Callable[[], T]) -> Op[T]:
    """A read (a list, a search, a count) on the read lane; nothing is disabled while it runs."""
    return Op(parent, fn, lane=Lane.READ).busy()


def io(parent: QWidget | None, fn: Callable[[], T]) -> Op[T]:
    """A printer, a device or a file, on the I/O lane."""
    return Op(parent, fn, lane=Lane.IO)
