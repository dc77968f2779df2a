"""The window's one way to do work: an action runs off the GUI thread, the asking widget is busy while
it runs, the error comes back in Chinese, and every page hears what the action changed."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtWidgets import QPushButton

from meike.changes import Changes
from meike.db import Clinic
from meike.errors import MeikeError, ValidationError
from meike.permissions import Actor
from meike.services import customers
from ui.operations import Op, bus, read
from ui.taskman import manager

pytestmark = pytest.mark.gui


def test_an_action_runs_off_the_gui_thread_and_says_what_it_wrote(qtbot, clinic: Clinic, user: Actor) -> None:  # type: ignore[no-untyped-def]
    button = QPushButton("挂号")
    qtbot.addWidget(button)
    heard: list[Changes] = []
    bus().changed.connect(heard.append)
    threads: list[threading.Thread] = []
    results: list[int] = []

    def register() -> int:
        threads.append(threading.current_thread())
        return customers.register_customer(clinic, user, name="王小美", mobile="13800138000", gender="F")

    Op(button, register).success(results.append).run()
    assert not button.isEnabled()  # busy: a second click cannot register twice
    assert manager().wait_idle()
    assert button.isEnabled()
    assert threads and threads[0] is not threading.main_thread()
    assert results and heard and results[0] in heard[-1].customers
    assert heard[-1].touches("customers") and not heard[-1].touches("money")


def test_a_failed_action_writes_nothing_announces_nothing_and_says_why_in_chinese(  # type: ignore[no-untyped-def]
        qtbot, clinic: Clinic, user: Actor) -> None:
    button = QPushButton("挂号")
    qtbot.addWidget(button)
    heard: list[Changes] = []
    bus().changed.connect(heard.append)
    errors: list[Exception] = []
    Op(button, lambda: customers.register_customer(clinic, user, name="", mobile="12", gender="F")) \
        .success(lambda _r: pytest.fail("saved")).failure(errors.append).run()
    assert manager().wait_idle()
    assert errors and isinstance(errors[0], ValidationError) and button.isEnabled()
    assert not heard


def test_an_unexpected_error_is_said_in_general_terms(qtbot) -> None:  # type: ignore[no-untyped-def]
    errors: list[Exception] = []

    def broken() -> None:
        raise KeyError("mobile")

    Op(None, broken).failure(errors.append).run()
    assert manager().wait_idle()
    assert isinstance(errors[0], MeikeError) and "意外错误" in errors[0].message and "KeyError" not in errors[0].message


def test_a_closed_widget_gets_no_answer(qtbot, clinic: Clinic, user: Actor) -> None:  # type: ignore[no-untyped-def]
    button = QPushButton()
    answers: list[object] = []
    release = threading.Event()

    def slow() -> int:
        release.wait(10)
        return 1

    read(button, slow).success(answers.append).run()
    button.deleteLater()
    qtbot.waitUntil(lambda: not _alive(button))
    release.set()
    assert manager().wait_idle()
    assert answers == []


def _alive(widget: QPushButton) -> bool:
    import shiboken6

    return shiboken6.isValid(widget)


def test_writes_are_serialised_on_one_worker(qtbot, clinic: Clinic, user: Actor) -> None:  # type: ignore[no-untyped-def]
    inside = 0
    most = 0
    lock = threading.Lock()
    names: set[str] = set()

    def write(i: int) -> int:
        nonlocal inside, most
        with lock:
            inside += 1
            most = max(most, inside)
        names.add(threading.current_thread().name)
        try:
            return customers.register_customer(clinic, user, name=f"顾客{i}", mobile=f"1390000000{i}", gender="F")
        finally:
            with lock:
                inside -= 1

    for i in range(5):
        Op(None, lambda i=i: write(i)).run()
    assert manager().wait_idle()
    assert most == 1


def test_a_two_step_action_writes_on_the_database_lane_then_waits_for_the_device_elsewhere(qtbot) -> None:  # type: ignore[no-untyped-def]
    """A print: recorded by the one database writer, then sent to a slow printer on the I/O lane, so the next
    write (a payment) does not wait for the printer; the button stays busy through both steps."""
    button = QPushButton("打印收据")
    qtbot.addWidget(button)
    printer = threading.Event()
    steps: list[str] = []
    answers: list[str] = []

    def record() -> str:
        steps.append(threading.current_thread().name)
        return "job"

    def send(job: str) -> str:
        steps.append(threading.current_thread().name)
        printer.wait(10)
        return f"{job} sent"

    Op(button, record).then(send).success(answers.append).run()
    qtbot.waitUntil(lambda: len(steps) == 2)
    wrote: list[str] = []
    Op(None, lambda: wrote.append(threading.current_thread().name)).run()  # a payment meanwhile
    qtbot.waitUntil(lambda: bool(wrote))  # done while the printer still holds its step
    assert not button.isEnabled() and not answers
    printer.set()
    assert manager().wait_idle()
    assert answers == ["job sent"] and button.isEnabled()
    assert steps[0] != steps[1] and wrote[0] == steps[0]  # the writer's thread, then another
