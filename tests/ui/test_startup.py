"""Program start: first run on an empty database, the demo clinic, the screenshot mode."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLineEdit, QPushButton

from meike import paths
from meike.clinic_setup import database_url, open_clinic
from meike.db import Clinic, sqlite_url
from meike.services import accounts, system
from tests.ui.waiting import settle
from ui.dialogs.first_run import FirstRunDialog

pytestmark = pytest.mark.gui
ROOT = Path(__file__).resolve().parents[2]


def test_first_run_dialog_creates_the_administrator(qtbot, clinic: Clinic) -> None:  # type: ignore[no-untyped-def]
    dialog = FirstRunDialog(clinic)
    qtbot.addWidget(dialog)
    dialog.show()
    ok = dialog.findChild(QPushButton, "first_run_submit")
    assert ok is not None and dialog.findChild(QLineEdit, "first_run_password") is dialog.admin_password
    dialog.clinic_name.setText("丽人医疗美容")
    qtbot.keyClicks(dialog.admin_password, "abc")
    qtbot.keyClicks(dialog.confirm, "abc")
    dialog.submit()
    settle()  # saved off the GUI thread
    assert dialog.form.error_text("password") == "密码至少 6 位"
    assert not system.is_initialised(clinic)
    dialog.admin_password.setText("strong-pass")
    dialog.confirm.setText("strong-pass")
    qtbot.mouseClick(ok, Qt.MouseButton.LeftButton)
    settle()
    assert dialog.result() == FirstRunDialog.DialogCode.Accepted
    assert accounts.authenticate(clinic, "admin", "strong-pass").is_admin
    assert system.get(clinic, "clinic.name") == "丽人医疗美容"


def test_real_database_has_no_default_password(tmp_path: Path) -> None:
    clinic = open_clinic(database_url(None, demo_mode=False))
    assert clinic.path == paths.clinic_database()
    assert not system.is_initialised(clinic)  # the first-run dialog will ask
    clinic.dispose()


def test_database_url_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MEIKE_DATABASE_URL", sqlite_url(tmp_path / "env.sqlite3"))
    assert database_url(None, demo_mode=False).endswith("env.sqlite3")
    assert database_url("sqlite:///cli.sqlite3", demo_mode=False) == "sqlite:///cli.sqlite3"
    assert database_url(None, demo_mode=True).endswith("meike-demo.sqlite3")


def test_demo_clinic_has_the_manual_accounts() -> None:
    clinic = open_clinic(database_url(None, demo_mode=True), demo_mode=True)
    assert clinic.path == paths.demo_database()
    gl = accounts.authenticate(clinic, "gl", "123")
    assert not gl.is_admin and len(gl.pages) == 6
    assert accounts.authenticate(clinic, "admin", "admin").is_admin
    from meike.services import customers

    assert customers.count_customers(clinic, gl) >= 200
    clinic.dispose()


def test_screenshot_mode_writes_every_page(tmp_path: Path) -> None:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    out = tmp_path / "shots"
    done = subprocess.run([sys.executable, str(ROOT / "main.py"), "--demo", "--screenshot", str(out)],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    names = sorted(p.name for p in out.glob("*.png"))
    assert names == sorted(["login.png", "account_manager.png", "page_dashboard.png", "page_registration.png",
                            "page_customers.png", "page_cashier.png", "page_phone.png", "page_settings.png"])
    assert all(p.stat().st_size > 5_000 for p in out.glob("*.png"))


def test_first_run_on_a_disk_that_cannot_be_written_says_so_and_keeps_the_form(  # type: ignore[no-untyped-def]
        qtbot, clinic: Clinic, monkeypatch: pytest.MonkeyPatch) -> None:
    from meike.errors import StorageError
    from ui.widgets import messages

    def read_only(*_a, **_k) -> None:  # type: ignore[no-untyped-def]
        raise StorageError("数据库文件是只读的（文件权限或只读磁盘），刚才的操作没有保存")

    shown: list[str] = []
    monkeypatch.setattr(accounts, "initialise_clinic", read_only)
    monkeypatch.setattr(messages, "error", lambda _parent, text, _title="": shown.append(text))
    dialog = FirstRunDialog(clinic)
    qtbot.addWidget(dialog)
    dialog.clinic_name.setText("丽人医疗美容")
    dialog.admin_password.setText("strong-pass")
    dialog.confirm.setText("strong-pass")
    dialog.submit()
    settle()
    assert shown == ["数据库文件是只读的（文件权限或只读磁盘），刚才的操作没有保存"]
    assert dialog.result() != FirstRunDialog.DialogCode.Accepted and dialog.clinic_name.text() == "丽人医疗美容"


def test_after_a_login_one_scheduler_runs_every_timed_job_and_stops_once_on_exit(  # type: ignore[no-untyped-def]
        qtbot, qapp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The program as it runs (``ui.app``): log in as gl; the dashboard's reminder counts, the SMS jobs and
    the daily backup are jobs of the one scheduler the composition root made; closing the window ends
    the program and shuts that scheduler down (and no other was ever started)."""
    from apscheduler.schedulers.background import BackgroundScheduler
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from meike import scheduler as schedules
    from meike.permissions import Page
    from ui import app as program
    from ui.dialogs.login import LoginDialog
    from ui.main_window import MainWindow

    started: list[BackgroundScheduler] = []
    real_start = BackgroundScheduler.start

    def spy(self: BackgroundScheduler, *args: object, **kwargs: object) -> None:
        started.append(self)
        real_start(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(BackgroundScheduler, "start", spy)
    seen: dict[str, object] = {}

    def step() -> None:
        dialog = QApplication.activeModalWidget()
        if isinstance(dialog, LoginDialog) and "typed" not in seen:
            seen["typed"] = True
            dialog.user.setText("gl")
            dialog.password.setText("123")
            dialog.try_login()
            return
        window = next((w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()),
                      None)
        if window is None or "jobs" in seen:
            return
        dashboard = window.pages.get(Page.DASHBOARD)
        if dashboard is None or not getattr(dashboard, "counter").running:  # noqa: B009 (a DashboardPage)
            return
        seen["installed"] = schedules.installed()
        seen["frozen"] = gc.get_freeze_count()  # the heap settled once the window was up (ui.gc_guard)
        seen["jobs"] = {job.id for job in started[0].get_jobs()} if started else set()
        seen["started"] = list(started)
        window.close()  # not a logout: the program ends

    timer = QTimer(interval=20)
    timer.timeout.connect(step)
    timer.start()
    QTimer.singleShot(120_000, qapp.quit)  # never hang the suite
    args = program.parse_args(["--demo"])
    try:
        code = program._with_clinic(qapp, args, database_url(None, demo_mode=True), tmp_path / "meike.log")
    finally:
        timer.stop()
        qapp.setQuitOnLastWindowClosed(True)
    assert code == 0 and "jobs" in seen
    assert isinstance(seen["frozen"], int) and seen["frozen"] > 10_000  # the collector's full pass stays short
    assert len(started) >= 1
    one = started[0]
    assert not one.running  # shut down on exit
    assert seen["started"] == [one] and seen["installed"] is one
    jobs = seen["jobs"]
    assert isinstance(jobs, set) and {"sms.pump", "sms.daily", "backup.daily"} <= jobs
    assert any(j.startswith("dashboard.reminder_counts") for j in jobs)
    assert started == [one]  # no other was started
    assert schedules.installed() is None
