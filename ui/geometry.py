"""Window geometry remembered per user on this workstation (QSettings in the config directory), kept on screen."""

from __future__ import annotations

from PySide6.QtCore import QMargins, QPoint, QRect, QSettings, Qt
from PySide6.QtGui import QGuiApplication, QScreen
from PySide6.QtWidgets import QWidget

from meike import paths

# The frame around a window that was never shown (the platform reports it only once the window exists):
# a Windows 10/11 title bar at 100 % (31 px and a 1 px border) and its 8 px resize borders, 16 × 40 px in all.
FRAME_GUESS = QMargins(8, 32, 8, 8)


def _settings() -> QSettings:
    return QSettings(str(paths.private_config_file("workstation.ini")), QSettings.Format.IniFormat)


def restore(widget: QWidget, username: str) -> bool:
    """Put back the geometry this user left the window at, clamped into the screen it lands on."""
    data = _settings().value(f"geometry/{username}/{widget.objectName()}")
    if data is None:
        return False
    if not widget.restoreGeometry(data):
        return False
    fit_to_screen(widget)
    return True


def save(widget: QWidget, username: str) -> None:
    settings = _settings()
    settings.setValue(f"geometry/{username}/{widget.objectName()}", widget.saveGeometry())
    settings.sync()


def frame_margins(widget: QWidget) -> QMargins:
    """The frame the platform draws around the window, or ``FRAME_GUESS`` while it does not know it yet."""
    window = widget.window()
    if window.windowFlags() & Qt.WindowType.FramelessWindowHint:
        return QMargins()
    frame, inner = window.frameGeometry(), window.geometry()
    margins = QMargins(inner.left() - frame.left(), inner.top() - frame.top(),
                       frame.right() - inner.right(), frame.bottom() - inner.bottom())
    known = window.isVisible() and frame != inner and min(margins.left(), margins.top(), margins.right(),
                                                          margins.bottom()) >= 0
    return margins if known else FRAME_GUESS


def _area(rect: QRect) -> int:
    return max(rect.width(), 0) * max(rect.height(), 0)


def screen_for(widget: QWidget) -> QScreen | None:
    """The screen a window is (or will be) on: a dialog not placed yet opens over its parent; otherwise the
    screen under the window's centre, else the one it overlaps most, else the primary screen."""
    window = widget.window()
    parent = window.parentWidget()
    if not window.testAttribute(Qt.WidgetAttribute.WA_Moved) and parent is not None:
        return parent.window().screen()
    rect = QRect(window.pos(), window.size().grownBy(frame_margins(window)))
    screen = QGuiApplication.screenAt(rect.center())
    if screen is None:
        overlaps = [(_area(s.availableGeometry().intersected(rect)), s) for s in QGuiApplication.screens()]
        best = max(overlaps, key=lambda pair: pair[0], default=(0, None))
        screen = best[1] if best[0] > 0 else None
    return screen or QGuiApplication.primaryScreen()


def fit_to_screen(widget: QWidget, default: tuple[int, int] | None = None) -> None:
    """Keep a window, frame and all, inside the available area (the screen less the taskbar) of its screen.

    ``default``: the size to open at when the window has none yet (no ``resize()``, nothing restored). The
    size shrinks to the area (never below the window's minimum size). A window that has a position (moved,
    or restored) is moved inside the area; a dialog that has none is left to open centred over its parent,
    and any other window is centred on the screen. Maximised and full-screen windows are left alone.
    """
    window = widget.window()
    if window.isMaximized() or window.isFullScreen():
        return
    if default is not None and not window.testAttribute(Qt.WidgetAttribute.WA_Resized):
        window.resize(*default)
    screen = screen_for(window)
    if screen is None:
        return
    area = screen.availableGeometry()
    margins = frame_margins(window)
    room = area.marginsRemoved(margins).size()
    size = window.size().boundedTo(room).expandedTo(window.minimumSize())
    if size != window.size():
        window.resize(size)
    outer = size.grownBy(margins)
    if window.testAttribute(Qt.WidgetAttribute.WA_Moved):
        origin = window.pos()  # a window's position is its frame's
    elif window.parentWidget() is None:
        origin = area.topLeft() + QPoint((area.width() - outer.width()) // 2, (area.height() - outer.height()) // 2)
    else:
        return
    window.move(_inside(QRect(origin, outer), area))


def _inside(rect: QRect, area: QRect) -> QPoint:
    """The top-left that puts ``rect`` inside ``area`` (its top-left corner first when it cannot fit)."""
    x = max(min(rect.left(), area.left() + area.width() - rect.width()), area.left())
    y = max(min(rect.top(), area.top() + area.height() - rect.height()), area.top())
    return QPoint(x, y)

