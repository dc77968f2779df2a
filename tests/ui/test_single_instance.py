"""One Meike per clinic database: a second start brings the first one's window forward and ends."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QLockFile

from ui.single_instance import SingleInstance

pytestmark = pytest.mark.gui
ROOT = Path(__file__).resolve().parents[2]


def test_a_second_instance_hands_over_to_the_first(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    first = SingleInstance(tmp_path, "sqlite:///clinic.sqlite3")
    assert first.acquire()
    try:
        second = SingleInstance(tmp_path, "sqlite:///clinic.sqlite3")
        with qtbot.waitSignal(first.activated, timeout=5000):
            assert not second.acquire()
        assert second.handed_over
        other = SingleInstance(tmp_path, "sqlite:///demo.sqlite3")  # another database may be open beside it
        assert other.acquire()
        other.release()
    finally:
        first.release()
    again = SingleInstance(tmp_path, "sqlite:///clinic.sqlite3")
    assert again.acquire()  # the first one closed: the next start is the one
    again.release()


def test_a_lock_whose_owner_does_not_answer_is_reported(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    probe = SingleInstance(tmp_path, "sqlite:///clinic.sqlite3")
    holder = QLockFile(probe.lock.fileName())  # e.g. another Windows user's Meike on this PC
    assert holder.tryLock(100)
    try:
        assert not probe.acquire(handover_timeout_ms=300) and not probe.handed_over
    finally:
        holder.unlock()


def _wait_for(condition, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def test_a_second_double_click_brings_the_running_program_forward(tmp_path: Path) -> None:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", MEIKE_DATA_DIR=str(tmp_path / "data"),
               MEIKE_CONFIG_DIR=str(tmp_path / "config"))
    env.pop("MEIKE_DATABASE_URL", None)
    log = tmp_path / "data" / "logs" / "meike-demo.log"
    first = subprocess.Popen([sys.executable, str(ROOT / "main.py"), "--demo"], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        # The first program holds its lock before it opens the database; it is listening once it logs the
        # database's opening (the demo clinic is built first, which takes a while on a loaded machine).
        _wait_for(lambda: log.exists() and "starting" in log.read_text(encoding="utf-8")
                  and any((tmp_path / "data").glob("meike-*.lock")), 120, "the first program's lock")
        second = subprocess.run([sys.executable, str(ROOT / "main.py"), "--demo"], env=env,
                                capture_output=True, text=True, timeout=120)
        assert second.returncode == 0, second.stderr[-2000:]
        _wait_for(lambda: "a second start of Meike asked for the window" in log.read_text(encoding="utf-8"),
                  120, "the first program to come forward")
        assert first.poll() is None  # still running, with its login window
    finally:
        first.kill()
        first.wait(30)


def test_a_lock_that_cannot_be_written_is_said_not_taken_for_a_running_meike(tmp_path: Path) -> None:
    instance = SingleInstance(tmp_path, "sqlite:///clinic.sqlite3")
    tmp_path.rename(tmp_path.with_name(tmp_path.name + "-gone"))  # the folder went away (a removed USB disk)
    assert not instance.acquire() and not instance.handed_over
    assert "没有写入权限" in instance.problem
