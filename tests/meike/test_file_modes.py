"""Every file the program writes is its owner's only on POSIX (0600, folders 0700), made through the
program's own functions with an ordinary umask (issue 14/6). Windows: ``meike.paths.windows_acl``."""

from __future__ import annotations

import logging
import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from devices.audio import FakeBackend, LineInRecorder
from meike import backup, logs, numbering, paths, secret_box, workstation
from meike.db import Clinic, sqlite_url
from meike.services import cashier, receipting
from meike.services.cashier import LineSpec, Tender
from tests.meike.conftest_money import build_desk

pytestmark = [pytest.mark.sqlite_only, pytest.mark.skipif(os.name != "posix", reason="POSIX modes")]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def _ordinary_umask() -> Iterator[None]:
    """The usual 022: a file made without care would be 0644, a folder 0755."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture
def live(_template_db: Path) -> Iterator[Clinic]:
    """The clinic's database where the program keeps it (the data folder), opened by the program."""
    path = paths.clinic_database()
    shutil.copy(_template_db, path)
    os.chmod(path, 0o644)  # as an earlier version left it
    clinic = Clinic.open(sqlite_url(path))
    yield clinic
    clinic.dispose()


def test_the_database_backups_and_receipts_are_their_owners_only(live: Clinic, tmp_path: Path) -> None:
    desk = build_desk(live)  # writes: the -wal and -shm files exist now
    order = cashier.open_order(live, desk.cashier, customer_id=desk.plain, lines=[LineSpec(desk.items["脱毛"])])
    paid = cashier.pay(live, desk.cashier, order, [Tender(desk.methods["现金"], 50_000)], idempotency_key="k1")
    db = paths.clinic_database()
    for path in (db, Path(f"{db}-wal"), Path(f"{db}-shm"), numbering.mark_path(db)):
        assert mode(path) == 0o600, path.name
    assert mode(paths.data_dir()) == 0o700

    pdf = receipting.print_receipt(live, desk.cashier, paid.receipt_id, setting=workstation.PrinterSetting())
    assert pdf is not None and mode(pdf) == 0o600 and mode(pdf.parent) == mode(pdf.parent.parent) == 0o700

    made = backup.make_backup(db, backup.BackupSettings().folder_for(db), kind="manual")
    assert mode(made.path) == 0o600 and mode(made.path.parent) == 0o700
    chosen = backup.make_backup(db, tmp_path / "usb" / "美客备份", kind="daily")
    assert mode(chosen.path) == 0o600 and mode(chosen.path.parent) == 0o700

    live.dispose()
    fresh = tmp_path / "new-pc" / "meike.sqlite3"  # a restore onto a new computer makes the file
    backup.restore(made.path, fresh, tmp_path / "new-pc" / "backups")
    assert mode(fresh) == 0o600
    safety = backup.restore(made.path, db, made.path.parent)  # and the before-restore copy
    assert safety is not None and mode(safety) == 0o600


def test_a_new_database_is_private_from_its_first_connection(tmp_path: Path) -> None:
    path = tmp_path / "brand-new.sqlite3"
    clinic = Clinic.open(sqlite_url(path))
    try:
        with clinic.engine.connect() as conn:
            conn.exec_driver_sql("CREATE TABLE t (x)")
            conn.commit()
            assert {p.name: mode(p) for p in tmp_path.iterdir()} == {
                "brand-new.sqlite3": 0o600, "brand-new.sqlite3-wal": 0o600, "brand-new.sqlite3-shm": 0o600}
    finally:
        clinic.dispose()


def test_logs_are_their_owners_only_rotated_ones_too() -> None:
    folder = paths.log_dir()
    try:
        log_file = logs.setup(folder)
        logging.getLogger("meike.test").warning("a line")
        assert mode(folder) == 0o700 and mode(log_file) == 0o600 and mode(folder / logs.FAULT_FILE) == 0o600
        handler = logs._handler
        assert handler is not None
        handler.doRollover()
        logging.getLogger("meike.test").warning("another line")
        assert mode(folder / f"{logs.LOG_FILE}.1") == 0o600 and mode(log_file) == 0o600
    finally:
        logs.shutdown()


def test_recordings_settings_and_the_key_file_are_their_owners_only(tmp_path: Path) -> None:
    folder = workstation.RecordingSetting().folder_path()
    recorder = LineInRecorder(folder, backend=FakeBackend(np.zeros(800, np.int16), speed=0), detect_hangup=False)
    path = recorder.start("13800138000-来电")
    recording = recorder.stop()
    assert recording.path == path and mode(path) == 0o600
    assert mode(path.parent) == mode(path.parent.parent) == mode(folder) == 0o700
    assert recorder.start("13800138000-来电") != path  # never over an earlier one
    recorder.stop()

    workstation.save_printer_setting("none", "", 80)
    assert mode(paths.config_dir() / "workstation.json") == 0o600 and mode(paths.config_dir()) == 0o700
    ini = paths.private_config_file("workstation.ini")  # window sizes (ui.geometry's QSettings keeps the mode)
    assert mode(ini) == 0o600
    secret_box.forget_cached_keys()
    secret_box.seal("x")
    assert mode(secret_box.key_file()) == 0o600
    secret_box.forget_cached_keys()
    paths.write_private(tmp_path / "journal.json", b"{}")  # what a small local file of the program uses
    assert mode(tmp_path / "journal.json") == 0o600


def test_a_data_folder_an_earlier_version_made_0755_is_tightened(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    old = tmp_path / "old-data"
    old.mkdir(mode=0o755)
    os.chmod(old, 0o755)
    monkeypatch.setenv("MEIKE_DATA_DIR", str(old))
    assert paths.data_dir() == old and mode(old) == 0o700


def test_on_windows_a_new_folder_gets_the_pcs_users_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The access list ``icacls`` is asked for (run on Windows only): no inheritance, SYSTEM, Administrators
    and Users, Everyone / Guests / anonymous removed."""
    ran: list[list[str]] = []

    class Done:
        returncode = 0

    monkeypatch.setattr(paths.sys, "platform", "win32")
    monkeypatch.setattr(paths.subprocess, "run", lambda command, **_kw: ran.append(command) or Done())
    assert paths.windows_acl(tmp_path)
    [command] = ran
    assert command[:4] == ["icacls", str(tmp_path), "/inheritance:r", "/grant:r"]
    assert "*S-1-5-32-545:(OI)(CI)M" in command and "*S-1-1-0" in command[command.index("/remove:g"):]
    ran.clear()
    (tmp_path / "f").write_bytes(b"")
    paths.windows_acl(tmp_path / "f")
    assert "*S-1-5-32-545:M" in ran[0]  # a file: no inheritance flags
