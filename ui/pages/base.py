"""What every left-menu page is to the window: a widget that can be refreshed, that says which kinds of
data it shows (``WATCHES``, groups of ``meike.changes.GROUPS``), and that may ask the window for a
customer's detail or another page. The window wires these by type, never by probing attributes."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QWidget

from meike.changes import Changes
from meike.errors import PermissionDenied
from meike.permissions import PAGE_LABELS, Actor, Page
from ui.operations import bus


def need_page(actor: Actor, page: Page) -> None:
    """A page's constructor: the login's view of the page right, without a database round trip on the GUI
    thread (``actor.require_page`` reads the account). The page's reads and actions check it live."""
    if not actor.can_open(page):
        raise PermissionDenied(f"您没有“{PAGE_LABELS[page]}”的权限，请联系管理员")


def need_admin(actor: Actor) -> None:
    """The administrator's windows' constructors: the login's view, like ``need_page``."""
    if not actor.is_admin:
        raise PermissionDenied("只有管理员账号可以管理账号和权限")


class PageWidget(QWidget):
    open_customer = Signal(int)  # a customer's detail dialog, opened by the window
    open_page = Signal(str)  # another page (a Page value), opened by the window if the user has it
    WATCHES: tuple[str, ...] = ()  # the kinds of data shown: a change to any of them refreshes the page

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._stale = False
        bus().changed.connect(self._changed)

    def refresh(self) -> None:
        """Read again what the page shows (on opening it, and after a change it watches)."""

    def reopen(self) -> None:
        """The window opens the page again: read it once, now if it is on screen, else when it is shown
        (never both: the window's open and the page's showEvent would read it twice)."""
        if self.isVisible():
            self.refresh()
        else:
            self._stale = True

    def showEvent(self, event) -> None:  # type: ignore[no-untyped-def]  # noqa: N802 (Qt override)
        super().showEvent(event)
        if self._stale:
            self._stale = False
            self.refresh()

    def _changed(self, what: Changes) -> None:
        if not (self.WATCHES and what.touches(*self.WATCHES)):
            return
        if self.isVisible():
            self.refresh()
        else:  # read when it is next shown, not now for nobody
            self._stale = True
