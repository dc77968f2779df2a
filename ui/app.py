"""Program start: QApplication, the clinic's database, first run, login, then the right window.

This is the composition root: it makes the program's one scheduler (``meike.scheduler``), to which the
dashboard's reminder counts, the daily backup and the SMS jobs add their jobs, and shuts it down once
on exit. What it reads or writes of the clinic goes through ``ui/operations/shell.py``."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import TypeVar

from apscheduler.schedulers.background import BackgroundScheduler
from PySide6.QtCore import QLibraryInfo, QLocale, QTimer, QTranslator
from PySide6.QtGui import QFont, QIcon
from PySide6.QtWidgets import QApplication, QDialog, QMainWindow, QMessageBox, QWidget

import meike
from meike import logs, paths
from meike import scheduler as schedules
from meike.clinic_setup import database_url, open_clinic
from meike.db import Clinic, sqlite_url
from meike.permissions import Actor
from meike.ports import CallerIdSetting
from ui.account_manager import AccountManager
from ui.dialogs.first_run import FirstRunDialog
from ui.dialogs.login import LoginDialog
from ui.gc_guard import settle_heap
from ui.idle_lock import LOCKED
from ui.main_window import MainWindow
from ui.operations import Op
from ui.operations import backup as backup_ops
from ui.operations import shell as ops
from ui.taskman import manager

log = logging.getLogger(__name__)
T = TypeVar("T")


def answer(op: Op[T], timeout_s: float = 3600.0) -> T:
    """Before or after the event loop (start-up, exit): run ``op`` and wait for it with the events
    turning (a dialog on screen keeps painting); its error is raised here."""
    got: list[T] = []
    errors: list[Exception] = []
    op.success(got.append).failure(errors.append).run()
    if not manager().wait_idle(timeout_s) and not (got or errors):
        raise TimeoutError("the clinic's database did not answer")
    if errors:
        raise errors[0]
    return got[0]


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="meike", description="美客 顾客管理系统")
    parser.add_argument("--demo", action="store_true", help="open the demo clinic (created on first use)")
    parser.add_argument("--database", metavar="URL", help="SQLAlchemy URL of the clinic database")
    parser.add_argument("--simulate-devices", action="store_true",
                        help="attach simulated devices (a caller-ID modem that rings a demo customer, a GSM modem sending SMS)")
    parser.add_argument("--screenshot", metavar="DIR", type=Path,
                        help="render every page offscreen to PNG files in DIR and exit")
    parser.add_argument("--check", action="store_true",
                        help="check the database (integrity, ledger invariants, audit chain), print a report and exit")
    return parser.parse_args(argv)


def icon() -> QIcon:
    """The application icon (resources/meike.png, installed as ui.resources)."""
    from importlib.resources import files

    return QIcon(str(files("ui.resources") / "meike.png"))


def install_chinese(app: QApplication) -> bool:
    """Qt's own texts in Chinese: 确定/取消, 是/否, the 复制/粘贴 menu of text fields (qtbase_zh_CN)."""
    if getattr(app, "qt_translator", None) is not None:
        return True
    translator = QTranslator(app)
    folder = QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)
    if not translator.load(QLocale(QLocale.Language.Chinese, QLocale.Country.China), "qtbase", "_", folder):
        log.warning("Qt's Chinese translation (qtbase_zh_CN.qm) was not found in %s", folder)
        return False
    app.installTranslator(translator)
    app.qt_translator = translator  # type: ignore[attr-defined]
    return True


def app_font() -> QFont:
    """The program's font: Microsoft YaHei 10 pt on a clinic's Windows PC."""
    font = QFont()
    font.setFamilies(["Microsoft YaHei", "WenQuanYi Micro Hei", "Noto Sans CJK SC", "PingFang SC", "sans-serif"])
    font.setPointSize(10)
    return font


def make_application(argv: list[str]) -> QApplication:
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(argv)
    app.setApplicationName("Meike")
    app.setApplicationDisplayName("美客")  # Qt adds " — 美客" to every window title
    app.setApplicationVersion(meike.__version__)
    app.setWindowIcon(icon())
    install_chinese(app)
    app.setFont(app_font())
    if not hasattr(app, "gc_guard"):
        from ui.gc_guard import GcGuard

        app.gc_guard = GcGuard(app)  # type: ignore[attr-defined]  # collect on the GUI thread only
    return app


def window_for(clinic: Clinic, actor: Actor, *, callerid: CallerIdSetting | None = None,
               simulators: DeviceSimulators | None = None, clinic_name: str | None = None
               ) -> AccountManager | MainWindow:
    """The administrator gets the account manager and nothing else; everyone else the main window."""
    name = clinic_name if clinic_name is not None else answer(ops.clinic_name(None, clinic))
    return AccountManager(clinic, actor, name) if actor.is_admin else MainWindow(
        clinic, actor, name, callerid=simulators.callerid if simulators else callerid,
        recording=simulators.recording if simulators else None,
        audio_backend=simulators.audio if simulators else None)


class DeviceSimulators:
    """``--simulate-devices``: a caller-ID modem on a pty that rings a demo customer after each login."""

    RING_AFTER_MS = 4000

    def __init__(self, clinic: Clinic, *, demo_mode: bool = False) -> None:
        from devices.simulators.callerid_modem import CallerIdModem
        from devices.simulators.gsm_modem import GsmModemSimulator

        self.modem = CallerIdModem()
        self.callerid = CallerIdSetting(self.modem.port)
        # The line-in "hears" the call: ringing, a conversation, then the busy tone after the caller
        # hangs up, which ends the call and attaches its recording.
        import tempfile

        from devices.audio import FakeBackend
        from devices.simulators.phone_audio import call_audio
        from meike.workstation import RecordingSetting

        self.recordings = tempfile.TemporaryDirectory(prefix="meike-recordings-")
        self.recording = RecordingSetting("linein", folder=self.recordings.name)
        self.audio = FakeBackend(call_audio())
        self.gsm = GsmModemSimulator()  # SMS go out through a simulated 短信猫 (the demo clinic's channel)
        self.mobile = answer(ops.simulate_devices(clinic, self.gsm.port, demo_mode=demo_mode))

    def after_login(self) -> None:
        QTimer.singleShot(self.RING_AFTER_MS, lambda: self.modem.ring(self.mobile, name="DEMO"))
        QTimer.singleShot(self.RING_AFTER_MS + 3000, lambda: self.modem.hook(True))  # picked up

    def close(self) -> None:
        self.modem.close()
        self.gsm.close()
        self.recordings.cleanup()


def _exit_backup(clinic: Clinic) -> None:
    """A backup when the program closes (SQLite); a failure is logged, it never stops the exit."""
    from meike import backup

    try:
        answer(backup_ops.exit_backup(clinic))  # records its outcome (the dashboard warns of a failure next time)
    except Exception as exc:  # noqa: BLE001 (logged with its traceback by the backup itself)
        log.warning("backup on exit failed (%s)", backup.failure_reason(exc))


def bring_forward() -> QWidget | None:
    """A second start of Meike asked for the window: show the one in front (a dialog before its window).
    A locked main window comes forward with its lock screen and nothing else (``ui.idle_lock``)."""
    shown = [w for w in QApplication.topLevelWidgets() if w.isVisible() and isinstance(w, (QMainWindow, QDialog))]
    window = next((w for w in shown if w.property(LOCKED)), None) or QApplication.activeModalWidget() or next(
        iter(shown), None)
    log.info("a second start of Meike asked for the window")
    if window is None:
        return None
    if window.isMinimized():
        window.showNormal()
    window.raise_()
    window.activateWindow()
    return window


def _uses_default_location(args: argparse.Namespace) -> bool:
    return not (args.database or os.environ.get("MEIKE_DATABASE_URL") or os.environ.get("MEIKE_DATA_DIR"))


def log_name(url: str) -> str:
    """One log file per database (one Meike per database runs on a PC, so one writer per file)."""
    import hashlib

    from sqlalchemy.engine import make_url

    if url == sqlite_url(paths.clinic_database()):
        return "meike.log"
    if url == sqlite_url(paths.demo_database()):
        return "meike-demo.log"
    parsed = make_url(url)
    return f"meike-{hashlib.sha256(parsed.render_as_string(hide_password=True).encode()).hexdigest()[:8]}.log"


def run(argv: list[str] | None = None) -> int:
    """The program with its windows. An error before the event loop runs ends it with a message in
    Chinese (``ui.launcher`` catches what happens before the application exists)."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    url = database_url(args.database, demo_mode=args.demo or bool(args.screenshot))
    log_path = logs.setup(paths.log_dir(), name=log_name(url))
    log.info("Meike %s starting (log %s)", meike.__version__, log_path)
    app = make_application(sys.argv[:1])
    from ui import crash

    crash.install(app)
    if args.screenshot:
        from ui.screenshots import render_all

        return render_all(args.screenshot, database=args.database)
    try:
        return _run(app, args, url, log_path)
    except Exception:  # noqa: BLE001 (whatever it was: said in Chinese, logged, the program ends)
        crash.report_fatal(*sys.exc_info())
        return 2


def _adopt_legacy(args: argparse.Namespace) -> bool:
    """Move a clinic from the old per-user folder (Windows) before anything opens it; False: do not go on."""
    if not _uses_default_location(args):
        return True
    try:
        result = paths.adopt_legacy_data(paths.data_dir(), paths.legacy_data_dirs(), paths.config_dir())
    except paths.LegacyDataInUse as exc:
        QMessageBox.warning(None, "无法移动诊所数据", exc.message)
        return False
    except OSError as exc:
        log.exception("moving the clinic from the old per-user folder failed")
        QMessageBox.critical(None, "无法移动诊所数据", f"把诊所数据从旧位置移到 {paths.data_dir()} 时出错：{exc.strerror or exc}。"
                             "旧位置的数据没有改动。请联系维护人员。")
        return False
    for left in result.left_behind:
        QMessageBox.information(None, "旧位置还有诊所数据", f"{left} 里还有一份旧版本留下的诊所数据，这台电脑已经在使用 "
                                f"{paths.data_dir()} 里的数据，所以没有移动它。需要它的数据时请联系维护人员。")
    return True


def _run(app: QApplication, args: argparse.Namespace, url: str, log_path: Path) -> int:
    if not _adopt_legacy(args):
        return 2
    from ui.single_instance import SingleInstance

    instance = SingleInstance(paths.data_dir(), url, app)
    if not instance.acquire():
        if instance.problem:
            QMessageBox.critical(None, "美客无法启动", instance.problem)
        elif not instance.handed_over:
            QMessageBox.information(None, "美客已在运行", "这个诊所的数据已经被这台电脑上的另一个美客打开了，可能是另一个 "
                                    "Windows 用户打开的。请让那位用户退出美客（或切换到那个 Windows 用户把美客关掉），再启动。")
        return 0
    instance.activated.connect(bring_forward)
    try:
        return _with_clinic(app, args, url, log_path)
    finally:
        instance.release()


def _with_clinic(app: QApplication, args: argparse.Namespace, url: str, log_path: Path) -> int:
    from ui import crash

    try:
        clinic = open_clinic(url, demo_mode=args.demo)
    except Exception as exc:  # the database cannot be opened or upgraded: say so, do not crash silently
        log.exception("cannot open the database")
        QMessageBox.critical(None, "无法打开数据库", open_failure_text(exc, log_path))
        return 2
    if not answer(ops.is_initialised(None, clinic)) and FirstRunDialog(clinic).exec() != QDialog.DialogCode.Accepted:
        clinic.dispose()
        return 0
    check_audit_log(clinic)
    clinic_name = answer(ops.clinic_name(None, clinic))
    if os.environ.get("MEIKE_STARTUP_PROBE"):  # bench/: time from process start to the login window
        probe = LoginDialog(clinic, clinic_name)
        probe.show()
        app.processEvents()
        print("login-shown", flush=True)
        clinic.dispose()
        return 0
    windows: list[QMainWindow] = []
    app.setQuitOnLastWindowClosed(False)  # between logout and the next login no window is open
    simulators = DeviceSimulators(clinic, demo_mode=args.demo) if args.simulate_devices and sys.platform != "win32" else None
    from meike.sms_jobs import SmsJobs

    jobs = start_scheduler()  # the program's one scheduler: every timed job runs on it
    sms_jobs = SmsJobs(clinic, scheduler=jobs)  # the SMS queue and reminders
    sms_jobs.start()

    def login() -> None:
        """The clinic's name (it may have been renamed since), then the login dialog."""
        def failed(_error: Exception) -> None:
            log.warning("the clinic's name could not be read before the login", exc_info=_error)
            show_login(clinic_name)

        ops.clinic_name(None, clinic).success(show_login).failure(failed).run()

    def show_login(name: str) -> None:
        try:
            dialog = LoginDialog(clinic, name)
            if dialog.exec() != QDialog.DialogCode.Accepted or dialog.actor is None:
                app.quit()
                return
            window = window_for(clinic, dialog.actor, simulators=simulators, clinic_name=name)
            window.closed.connect(lambda logged_out: QTimer.singleShot(0, login) if logged_out else app.quit())
            windows[:] = [window]
            window.show()
            settle_heap()  # the collector's full pass stays short from now on (ui/gc_guard.py)
            if isinstance(window, MainWindow):
                from ui.cashier.pending import offer

                offer(window, clinic, dialog.actor)  # 上次收款未确认: money calls a crash left unanswered
            if simulators is not None and isinstance(window, MainWindow):
                simulators.after_login()
        except Exception:  # noqa: BLE001 (no login or no window: say so and end, never run on invisibly)
            crash.report_fatal(*sys.exc_info())
            app.quit()

    QTimer.singleShot(0, login)
    schedules.add_backup_job(jobs, clinic)  # the daily backup (SQLite), checked every hour
    try:
        code = app.exec()
    finally:
        sms_jobs.shutdown(wait=True)
        stop_scheduler(jobs)
        _exit_backup(clinic)
        if simulators is not None:
            simulators.close()
        clinic.dispose()
    log.info("Meike closed (%s)", code)
    return code


def start_scheduler() -> BackgroundScheduler:
    """The program's one scheduler, started and made the one every timed job is added to."""
    jobs = schedules.new_scheduler()
    jobs.start()
    schedules.install(jobs)
    return jobs


def stop_scheduler(jobs: BackgroundScheduler) -> None:
    """On exit, once: no job is added any more, a job still running finishes (its thread is joined)."""
    schedules.uninstall(jobs)
    if jobs.running:
        jobs.shutdown(wait=True)


AUDIT_WARNING = ("操作日志（审计日志）与这台电脑或备份中保存的记录不一致，可能有人绕过美客直接改动了数据库：\n\n{problems}\n\n"
                 "这一情况已记入操作日志。请通知管理员：在管理员窗口的“操作日志”中点“校验日志完整性”查看详情；"
                 "查明原因后（例如确实换过数据库），管理员可以“以当前日志为准”。")


def check_audit_log(clinic: Clinic) -> list[str]:
    """Before the login: the audit log against the anchors kept outside the database and its triggers
    (``meike.services.audit_guard``); a difference is written to the log and said here."""
    try:
        problems = answer(ops.check_audit_on_start(None, clinic))
    except Exception:  # noqa: BLE001 (the check must never keep the clinic from working; logged)
        log.exception("the audit log could not be compared with its anchors on start")
        return []
    if problems:
        text = "\n".join(f"· {p}" for p in problems[:6])
        QMessageBox.warning(None, "操作日志可能被改动", AUDIT_WARNING.format(problems=text))
    return problems


def open_failure_text(exc: Exception, log_path: Path) -> str:
    """Why the database could not be opened, in words; a message of our own is shown as it is.

    ``meike.clinic_setup.open_clinic`` turns a file that is no database or is damaged, one from a newer
    Meike, a read-only or locked file and an unreachable server into ``OpenFailed`` with what to do
    (restoring a backup: the administrator's 备份与恢复); never SQLAlchemy's English text.
    """
    from meike.clinic_setup import OpenFailed
    from meike.errors import MeikeError

    if isinstance(exc, OpenFailed):
        return f"{exc.message}\n\n详细情况已写入日志：{log_path}"
    if isinstance(exc, MeikeError):
        return exc.message
    return ("无法打开或升级诊所的数据库。数据库文件没有被改动；如果升级前做了备份，它在备份文件夹里。\n"
            f"请联系维护人员，并把日志文件发给他：\n{log_path}")
