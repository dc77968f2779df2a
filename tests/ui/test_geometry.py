"""Saved window geometry comes back inside the screen: a size and place left on a big monitor must not put the
window off a 1366×768 screen; ``fit_to_screen`` does the same for a window's default size."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QRect, QSize
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QDialog, QLabel, QMainWindow, QVBoxLayout, QWidget

from ui import geometry

pytestmark = pytest.mark.gui


def _area() -> QRect:
    screen = QGuiApplication.primaryScreen()
    assert screen is not None
    return screen.availableGeometry()


def _outer(window: QWidget) -> QRect:
    """The window with its frame (the guessed one until the platform reports it)."""
    return QRect(window.pos(), window.size().grownBy(geometry.frame_margins(window)))


def _window(qtbot, name: str = "some_window") -> QMainWindow:  # type: ignore[no-untyped-def]
    window = QMainWindow()
    window.setObjectName(name)
    window.setCentralWidget(QLabel("内容"))
    qtbot.addWidget(window)
    return window


def test_a_geometry_saved_on_a_big_monitor_is_restored_inside_this_screen(qtbot) -> None:  # type: ignore[no-untyped-def]
    area = _area()
    big = _window(qtbot)
    big.setGeometry(1500, 40, 1900, 1000)  # right half of a 1920×1080 monitor and beyond
    assert not area.contains(big.geometry())
    geometry.save(big, "gl")
    again = _window(qtbot)
    assert geometry.restore(again, "gl") is True
    assert area.contains(_outer(again)), (_outer(again), area)
    again.show()
    qtbot.waitExposed(again)
    assert area.contains(again.frameGeometry()), (again.frameGeometry(), area)


def test_a_window_partly_off_the_edge_is_moved_back_and_keeps_its_size(qtbot) -> None:  # type: ignore[no-untyped-def]
    area = _area()
    window = _window(qtbot)
    window.setGeometry(area.right() - 200, area.bottom() - 100, 400, 300)
    geometry.save(window, "gl")
    again = _window(qtbot)
    geometry.restore(again, "gl")
    assert again.size() == QSize(400, 300)
    assert area.contains(_outer(again))


def test_a_saved_geometry_is_per_user_and_per_window(qtbot) -> None:  # type: ignore[no-untyped-def]
    window = _window(qtbot)
    window.setGeometry(20, 60, 500, 400)
    geometry.save(window, "gl")
    assert geometry.restore(_window(qtbot), "kf") is False
    assert geometry.restore(_window(qtbot, "other_window"), "gl") is False
    again = _window(qtbot)
    assert geometry.restore(again, "gl") is True
    assert again.size() == QSize(500, 400)


def test_fit_to_screen_shrinks_a_main_windows_default_size_and_centres_it(qtbot) -> None:  # type: ignore[no-untyped-def]
    """What the main window does: ``resize(1280, 800)``, ``restore`` (nothing saved), ``fit_to_screen``."""
    area = _area()
    window = _window(qtbot, "main_window")
    window.resize(1280, 800)
    assert geometry.restore(window, "gl") is False
    geometry.fit_to_screen(window, default=(1280, 800))
    outer = _outer(window)
    assert area.contains(outer), (outer, area)
    assert outer.width() == min(1280 + 16, area.width()) and outer.height() == min(800 + 40, area.height())
    assert abs(outer.center().x() - area.center().x()) <= 1
    window.show()
    qtbot.waitExposed(window)
    assert area.contains(window.frameGeometry()), (window.frameGeometry(), area)


def test_fit_to_screen_gives_the_default_size_only_to_a_window_without_one(qtbot) -> None:  # type: ignore[no-untyped-def]
    fresh = _window(qtbot)
    geometry.fit_to_screen(fresh, default=(500, 300))
    assert fresh.size() == QSize(500, 300)
    sized = _window(qtbot)
    sized.resize(420, 260)
    geometry.fit_to_screen(sized, default=(500, 300))
    assert sized.size() == QSize(420, 260)


def test_fit_to_screen_never_goes_below_the_minimum_size(qtbot) -> None:  # type: ignore[no-untyped-def]
    area = _area()
    window = _window(qtbot)
    window.setMinimumSize(300, area.height() - 20)  # taller than the room left under a title bar
    window.resize(300, area.height() + 200)
    geometry.fit_to_screen(window)
    assert window.size() == QSize(300, area.height() - 20)
    assert window.y() == area.top()  # its title bar stays reachable


def test_fit_to_screen_leaves_a_dialog_to_open_over_its_parent(qtbot) -> None:  # type: ignore[no-untyped-def]
    area = _area()
    parent = _window(qtbot)
    parent.setGeometry(area.left() + 10, area.top() + 50, 400, 300)
    parent.show()
    qtbot.waitExposed(parent)
    dialog = QDialog(parent)
    QVBoxLayout(dialog).addWidget(QLabel("日结"))
    geometry.fit_to_screen(dialog, default=(area.width() + 300, area.height() + 300))
    assert dialog.size().grownBy(geometry.frame_margins(dialog)).width() <= area.width()
    assert dialog.size().grownBy(geometry.frame_margins(dialog)).height() <= area.height()
    dialog.show()
    qtbot.waitExposed(dialog)
    assert area.contains(dialog.frameGeometry()), (dialog.frameGeometry(), area)


def test_a_maximised_window_stays_maximised(qtbot) -> None:  # type: ignore[no-untyped-def]
    window = _window(qtbot)
    window.resize(500, 400)
    window.showMaximized()
    qtbot.waitUntil(window.isMaximized)
    geometry.save(window, "gl")
    again = _window(qtbot)
    assert geometry.restore(again, "gl") is True
    assert again.isMaximized()


def test_the_main_window_fits_after_fit_to_screen(qtbot, demo_clinic, gl) -> None:  # type: ignore[no-untyped-def]
    """The call ``ui/main_window.py`` makes after ``geometry.restore``: works on the real QMainWindow."""
    from ui.main_window import MainWindow

    area = _area()
    window = MainWindow(demo_clinic, gl)
    qtbot.addWidget(window)
    geometry.fit_to_screen(window, default=(1280, 800))
    assert area.contains(_outer(window)), (_outer(window), area)
    window.show()
    qtbot.waitExposed(window)
    assert area.contains(window.frameGeometry()), (window.frameGeometry(), area)
