"""Waiting for the window's work: actions run on the task manager's threads (ui/taskman.py), so a test
that clicks waits for them, with the event loop turning, before it looks (never a sleep)."""

from __future__ import annotations

from ui.taskman import manager


def settle(timeout_s: float = 30.0) -> None:
    """Every action and read started so far has finished and been answered on the GUI thread."""
    assert manager().wait_idle(timeout_s), "the window's work did not finish"
