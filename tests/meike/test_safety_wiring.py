"""What the program does with the data-safety pieces: ``main.py --check``, refusing a database on a
network share, the migration / daily / exit backups and the administrator's restore."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from meike import backup
from meike.backup import BackupError
from meike.clinic_setup import open_clinic
from meike.db import Clinic, sqlite_url
from meike.db.location import NetworkShareError
from meike.errors import PermissionDenied
from meike.scheduler import start_backup_schedule
from meike.services import accounts, audit, customers
from meike.services.audit import AuditFilter

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.sqlite_only


def _check(path: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    return subprocess.run([sys.executable, "main.py", "--check", "--database", sqlite_url(path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, env=env)


def test_check_prints_a_report_and_fails_on_tampered_books(demo_clinic: Clinic) -> None:
    assert demo_clinic.path is not None
    ok = _check(demo_clinic.path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "美客数据检查" in ok.stdout and "integrity" not in ok.stderr
    demo_clinic.dispose()
    with demo_clinic.engine.begin() as conn:  # someone with the file rewrites who did what
        conn.execute(text("DROP TRIGGER audit_log_no_update"))
        conn.execute(text("UPDATE audit_log SET username = 'nobody' WHERE id = 3"))
    bad = _check(demo_clinic.path)
    assert bad.returncode == 1, bad.stdout
    missing = _check(demo_clinic.path.parent / "nowhere" / "x.sqlite3")
    assert missing.returncode in (1, 2)


def test_a_database_on_a_network_share_is_refused_with_a_pointer_to_postgresql() -> None:
    with pytest.raises(NetworkShareError) as e:
        open_clinic("sqlite://///fileserver/clinic/meike.sqlite3")  # //fileserver/clinic: a UNC path
    assert "PostgreSQL" in e.value.message


def test_the_schedule_makes_the_days_backup_and_exit_adds_one(demo_clinic: Clinic) -> None:
    assert demo_clinic.path is not None
    folder = demo_clinic.path.parent / "backups"
    scheduler = start_backup_schedule(demo_clinic, first_after_s=0.05, every_s=3600)
    try:
        deadline = time.monotonic() + 20
        while not backup.list_backups(folder) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        scheduler.shutdown(wait=True)
    assert [i.kind for i in backup.list_backups(folder)] == ["daily"]
    assert backup.daily_backup(demo_clinic) is None  # once a day
    assert backup.exit_backup(demo_clinic) is not None
    # Retention keeps the newest of each day: the exit backup now stands for today.
    assert [i.kind for i in backup.list_backups(folder)] == ["exit"]


def test_the_administrator_restores_a_backup_and_the_current_data_is_kept(demo_clinic: Clinic) -> None:
    gl = accounts.authenticate(demo_clinic, "gl", "123")
    admin = accounts.authenticate(demo_clinic, "admin", "admin")
    taken = backup.manual_backup(demo_clinic, gl)
    before = customers.count_customers(demo_clinic, gl)
    customers.register_customer(demo_clinic, gl, name="恢复后消失", mobile="13866667777")
    with pytest.raises(PermissionDenied):
        backup.restore_clinic(demo_clinic, gl, taken.path)
    safety = backup.restore_clinic(demo_clinic, admin, taken.path)
    assert safety is not None and backup.parse_name(safety).kind == "before-restore"  # type: ignore[union-attr]
    assert customers.count_customers(demo_clinic, gl) == before
    assert backup.describe(safety).customers == before + 1  # the replaced data is still there
    assert [line.action for line in audit.search(demo_clinic, admin, AuditFilter(), limit=1)] == ["backup.restore"]
    with pytest.raises(BackupError):
        backup.restore_clinic(demo_clinic, admin, demo_clinic.path)  # type: ignore[arg-type]
