"""Backups: online copies checked before they count, retention by day and month, restore, settings, jobs."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from meike import backup, clock, numbering
from meike.backup import BackupError, BackupInfo, BackupSettings
from meike.check import run_check
from meike.clinic_setup import after_upgrade
from meike.db import Clinic
from meike.db.migrate import head_revision
from meike.errors import PermissionDenied, ValidationError
from meike.models import AuditEntry, Channel, Receipt
from meike.permissions import Actor, Page, Right, right_code
from meike.services import cashier, customers, dayclose
from meike.services.cashier import LineSpec, Tender
from tests.conftest import make_user
from tests.meike.conftest_money import Desk, desk_fixture, frozen_fixture  # noqa: F401 (fixtures)

pytestmark = pytest.mark.sqlite_only  # the SQLite file: backup API, PRAGMAs, raw edits of the file

NOW = datetime(2026, 11, 23, 9, 30)


@pytest.fixture(name="now")
def now_fixture(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[datetime]]:
    """The clinic clock stopped at 2026-11-23 09:30; assign ``now[0]`` to move it."""
    now = [NOW]
    monkeypatch.setattr(clock, "now", lambda: now[0])
    yield now


@pytest.fixture
def user(clinic: Clinic, admin: Actor) -> Actor:
    """Every page and the right 数据备份 (choosing the folder and 立即备份 need it)."""
    return make_user(clinic, admin, "keeper", grants={right_code(Right.BACKUP)})


def add_channel(clinic: Clinic, name: str) -> None:
    with clinic.write() as s:
        s.add(Channel(name=name, sort_order=1))


def channels(path: Path) -> list[str]:
    with sqlite3.connect(str(path)) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM channels ORDER BY id")]
    conn.close()
    return names


def db(clinic: Clinic) -> Path:
    assert clinic.path is not None
    return clinic.path


# --- making backups --------------------------------------------------------------------------------


def test_a_backup_while_another_connection_writes_holds_only_committed_data(
        clinic: Clinic, tmp_path: Path, now: list[datetime]) -> None:
    add_channel(clinic, "美团")
    folder = tmp_path / "backups"
    writer = sqlite3.connect(str(db(clinic)), isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")  # a cashier in the middle of a payment
        writer.execute("INSERT INTO channels (name, sort_order, is_active) VALUES ('新氧', 2, 1)")
        info = backup.make_backup(db(clinic), folder, kind="daily")
        writer.execute("COMMIT")
    finally:
        writer.close()
    assert info.path == folder / "clinic-20261123-093000-daily.sqlite3"
    assert (info.kind, info.taken_at, info.database) == ("daily", NOW, "clinic")
    assert info.size == info.path.stat().st_size > 0
    assert channels(info.path) == ["美团"]
    assert channels(db(clinic)) == ["美团", "新氧"]
    # One self-contained, sound file; no temporary file left behind.
    assert sorted(p.name for p in folder.iterdir()) == [info.path.name]
    with sqlite3.connect(str(info.path)) as copy:
        assert copy.execute("PRAGMA journal_mode").fetchone() == ("delete",)
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    copy.close()


def test_a_copy_that_fails_its_check_is_deleted_and_does_not_count(
        clinic: Clinic, tmp_path: Path, now: list[datetime], monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "backups"
    monkeypatch.setattr(backup.files, "integrity_errors", lambda path: ["*** in database main ***", "Page 7: btree error"])
    with pytest.raises(BackupError, match="校验失败.*Page 7"):
        backup.make_backup(db(clinic), folder, kind="daily")
    assert list(folder.iterdir()) == []
    assert backup.list_backups(folder) == []


def test_a_damaged_database_gives_no_backup(clinic: Clinic, tmp_path: Path, now: list[datetime]) -> None:
    """The backup API copies pages as they are: the check on the copy is what catches the damage."""
    path = db(clinic)
    clinic.dispose()
    with sqlite3.connect(str(path)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'ix_receipts_customer_id'").fetchone()[0]
        size = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    with open(path, "r+b") as f:
        f.seek((root - 1) * size)
        f.write(b"\xff" * 16)
    folder = tmp_path / "backups"
    with pytest.raises(BackupError, match="校验失败"):
        backup.make_backup(path, folder, kind="exit")
    assert list(folder.iterdir()) == []


def test_backups_in_the_same_second_are_numbered(clinic: Clinic, tmp_path: Path, now: list[datetime]) -> None:
    folder = tmp_path / "b"
    first = backup.make_backup(db(clinic), folder, kind="manual")
    second = backup.make_backup(db(clinic), folder, kind="manual")
    now[0] += timedelta(seconds=1)
    third = backup.make_backup(db(clinic), folder, kind="exit")
    assert second.path.name == "clinic-20261123-093000-manual-2.sqlite3"
    assert backup.list_backups(folder) == [third, second, first]


def test_a_missing_database_or_an_unknown_kind(tmp_path: Path) -> None:
    with pytest.raises(BackupError, match="找不到数据库文件"):
        backup.make_backup(tmp_path / "nothing.sqlite3", tmp_path / "b", kind="manual")
    assert not (tmp_path / "nothing.sqlite3").exists()
    with pytest.raises(ValueError):
        backup.make_backup(tmp_path / "nothing.sqlite3", tmp_path / "b", kind="weekly")


def test_list_backups_reads_the_names_and_skips_other_files(tmp_path: Path) -> None:
    folder = tmp_path / "b"
    folder.mkdir()
    for name in ["meike-20261123-093000-daily.sqlite3", "meike-20261122-180000-exit.sqlite3",
                 "meike-demo-20261123-100000-manual.sqlite3", "meike-20261120-080000-before-restore.sqlite3",
                 "meike-20261101-070000-before-0006.sqlite3",  # meike.db.migrate's own copies
                 ".meike-20261123-110000-daily.sqlite3.123.tmp", "notes.txt", "meike-2026-daily.sqlite3"]:
        (folder / name).write_bytes(b"x" * 10)
    (folder / "meike-20261124-000000-daily.sqlite3").mkdir()
    found = [(i.path.name, i.kind, i.database, i.taken_at) for i in backup.list_backups(folder)]
    assert found == [
        ("meike-demo-20261123-100000-manual.sqlite3", "manual", "meike-demo", datetime(2026, 11, 23, 10)),
        ("meike-20261123-093000-daily.sqlite3", "daily", "meike", datetime(2026, 11, 23, 9, 30)),
        ("meike-20261122-180000-exit.sqlite3", "exit", "meike", datetime(2026, 11, 22, 18)),
        ("meike-20261120-080000-before-restore.sqlite3", "before-restore", "meike", datetime(2026, 11, 20, 8)),
        ("meike-20261101-070000-before-0006.sqlite3", "migration", "meike", datetime(2026, 11, 1, 7)),
    ]
    assert [i.path.name for i in backup.list_backups(folder, database="meike-demo")] == [found[0][0]]
    assert backup.list_backups(tmp_path / "missing") == []


# --- retention ---------------------------------------------------------------------------------------


def fake(folder: Path, at: datetime, kind: str, database: str = "meike") -> BackupInfo:
    path = folder / backup.backup_name(database, at, kind)
    path.write_bytes(b"")
    info = backup.parse_name(path)
    assert info is not None
    return info


def test_retention_over_sixty_days(tmp_path: Path) -> None:
    """Sixty days of a clinic: a daily backup at 09:00, an exit backup every third evening, an upgrade
    every tenth day, twelve manual backups; retention runs every day."""
    folder = tmp_path / "b"
    folder.mkdir()
    start = date(2026, 1, 5)
    made: list[BackupInfo] = []
    deleted: list[Path] = []
    for i in range(60):
        day = start + timedelta(days=i)
        at = datetime(day.year, day.month, day.day)
        made.append(fake(folder, at + timedelta(hours=9), "daily"))
        if i % 3 == 0:
            made.append(fake(folder, at + timedelta(hours=18, minutes=30), "exit"))
        if i % 10 == 0:
            made.append(fake(folder, at + timedelta(hours=8), "migration"))
        if i < 12:
            made.append(fake(folder, at + timedelta(hours=12), "manual"))
        deleted += backup.apply_retention(folder, daily=14, monthly=12, today=day)
    today = start + timedelta(days=59)  # 2026-03-05

    def newest_of(day: date) -> str:
        kind = "exit" if (day - start).days % 3 == 0 else "daily"
        return backup.backup_name("meike", datetime(day.year, day.month, day.day, 18 if kind == "exit" else 9,
                                                     30 if kind == "exit" else 0), kind)

    expected = {newest_of(today - timedelta(days=k)) for k in range(14)}  # 2026-02-20 … 03-05
    expected.add(newest_of(date(2026, 1, 31)))  # the newest of January (February's and March's are above)
    expected |= {i.path.name for i in made if i.kind == "migration"}  # six, under the limit of ten
    manual = sorted(i.path.name for i in made if i.kind == "manual")
    expected |= set(manual[-10:])  # the ten newest of twelve
    left = {p.name for p in folder.iterdir()}
    assert left == expected
    assert len(left) == 14 + 1 + 6 + 10
    assert {p.name for p in deleted} == {i.path.name for i in made} - expected
    # Running every day or once at the end keeps the same backups.
    assert {p.name for p in backup.select_to_keep(made, today, 14, 12)} == expected


def test_retention_counts_days_that_have_backups(tmp_path: Path) -> None:
    """A clinic closed for six weeks keeps the backups of its last working days."""
    folder = tmp_path / "b"
    folder.mkdir()
    infos = [fake(folder, datetime(2026, 1, d, 9), "daily") for d in range(1, 6)]
    assert backup.select_to_keep(infos, date(2026, 2, 20), 3, 0) == {i.path for i in infos[2:]}
    assert backup.select_to_keep(infos, date(2026, 2, 20), 0, 0) == {infos[-1].path}  # the newest, always
    # A backup dated after "today" (the PC's clock was wrong) is kept and counts for nothing.
    future = fake(folder, datetime(2027, 1, 1, 9), "daily")
    assert backup.select_to_keep([*infos, future], date(2026, 2, 20), 1, 0) == {future.path, infos[-1].path}


def test_retention_keeps_each_database_apart(tmp_path: Path) -> None:
    folder = tmp_path / "b"
    folder.mkdir()
    clinic_backups = [fake(folder, datetime(2026, 1, d, 9), "daily") for d in range(1, 4)]
    demo = fake(folder, datetime(2026, 1, 3, 10), "daily", database="meike-demo")
    keep = backup.select_to_keep([*clinic_backups, demo], date(2026, 1, 3), 1, 0)
    assert keep == {clinic_backups[-1].path, demo.path}


def test_other_kinds_are_kept_by_count(tmp_path: Path) -> None:
    folder = tmp_path / "b"
    folder.mkdir()
    restores = [fake(folder, datetime(2026, 1, 1, 9) + timedelta(hours=h), "before-restore") for h in range(5)]
    assert backup.select_to_keep(restores, date(2026, 6, 1), 14, 12, keep_other=2) == {r.path for r in restores[-2:]}


def test_retention_removes_temporary_copies_a_crash_left(tmp_path: Path) -> None:
    folder = tmp_path / "b"
    folder.mkdir()
    old = folder / ".meike-20261120-093000-daily.sqlite3.4242.tmp"
    fresh = folder / ".meike-20261123-093000-daily.sqlite3.4243.tmp"  # another window is writing it now
    other = folder / ".something.tmp"
    for path in (old, fresh, other):
        path.write_bytes(b"half a copy")
    two_days_ago = time.time() - 2 * 24 * 3600
    os.utime(old, (two_days_ago, two_days_ago))
    os.utime(other, (two_days_ago, two_days_ago))
    assert backup.apply_retention(folder, today=date(2026, 11, 23)) == [old]
    assert sorted(p.name for p in folder.iterdir()) == sorted([fresh.name, other.name])


# --- describe and restore -----------------------------------------------------------------------------


def test_describe_shows_the_backups_date_revision_and_counts(
        clinic: Clinic, desk: Desk, frozen: list[datetime], tmp_path: Path) -> None:
    order = cashier.open_order(clinic, desk.cashier, customer_id=desk.plain, lines=[LineSpec(desk.items["脱毛"])])
    cashier.pay(clinic, desk.cashier, order, [Tender(desk.methods["现金"], 50_000)], idempotency_key="k1")
    info = backup.make_backup(db(clinic), tmp_path / "b", kind="manual")
    summary = backup.describe(info.path)
    assert summary.taken_at == frozen[0] and summary.kind == "manual" and summary.size == info.size
    assert summary.revision == head_revision()
    assert (summary.customers, summary.visits, summary.orders, summary.receipts, summary.payments) == (3, 0, 1, 1, 1)
    assert summary.last_business_date == frozen[0].date()
    assert summary.last_closed_day is None


def test_describe_an_old_revision_and_a_foreign_file(tmp_path: Path) -> None:
    old = tmp_path / "clinic-20250101-080000-before-0003.sqlite3"
    with sqlite3.connect(str(old)) as conn:
        conn.execute("CREATE TABLE alembic_version (version_num VARCHAR(32))")
        conn.execute("INSERT INTO alembic_version VALUES ('0002')")
        conn.execute("CREATE TABLE customers (id INTEGER)")
        conn.execute("INSERT INTO customers VALUES (1)")
    conn.close()
    summary = backup.describe(old)
    assert (summary.revision, summary.kind, summary.customers, summary.receipts) == ("0002", "migration", 1, None)
    assert summary.last_business_date is None
    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(b"not a database at all" * 100)
    with pytest.raises(BackupError, match="无法读取"):
        backup.describe(junk)


def test_restore_brings_the_old_data_back_and_keeps_a_safety_copy(
        clinic: Clinic, tmp_path: Path, now: list[datetime]) -> None:
    folder = tmp_path / "backups"
    add_channel(clinic, "美团")
    old = backup.make_backup(db(clinic), folder, kind="daily")
    add_channel(clinic, "新氧")  # in the WAL, not yet checkpointed
    now[0] += timedelta(hours=2)
    clinic.dispose()  # the UI closes the engine first

    safety = backup.restore(old.path, db(clinic), folder)

    assert safety is not None and safety.name == "clinic-20261123-113000-before-restore.sqlite3"
    assert channels(safety) == ["美团", "新氧"]
    assert channels(old.path) == ["美团"]
    with clinic.read() as s:  # the engine reconnects to the restored file
        assert list(s.scalars(select(Channel.name))) == ["美团"]
    with clinic.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    add_channel(clinic, "抖音")  # and works on
    assert [i.kind for i in backup.list_backups(folder)] == ["before-restore", "daily"]


def test_restore_is_refused_while_the_database_is_open_elsewhere(
        clinic: Clinic, tmp_path: Path, now: list[datetime]) -> None:
    folder = tmp_path / "backups"
    add_channel(clinic, "美团")
    old = backup.make_backup(db(clinic), folder, kind="daily")
    add_channel(clinic, "新氧")
    clinic.dispose()
    other = sqlite3.connect(str(db(clinic)))  # another Meike window
    try:
        other.execute("SELECT count(*) FROM channels").fetchone()
        with pytest.raises(BackupError, match="正在被使用"):
            backup.restore(old.path, db(clinic), folder)
    finally:
        other.close()
    assert channels(db(clinic)) == ["美团", "新氧"]
    assert [i.kind for i in backup.list_backups(folder)] == ["daily"]  # no safety copy of nothing


def test_restore_refuses_a_damaged_or_foreign_file(clinic: Clinic, tmp_path: Path, now: list[datetime]) -> None:
    folder = tmp_path / "backups"
    clinic.dispose()
    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(b"\x00garbage" * 1000)
    with pytest.raises(BackupError, match="已损坏"):
        backup.restore(junk, db(clinic), folder)
    other = tmp_path / "other.sqlite3"
    with sqlite3.connect(str(other)) as conn:
        conn.execute("CREATE TABLE t (x)")
    conn.close()
    with pytest.raises(BackupError, match="不是美客的数据库备份"):
        backup.restore(other, db(clinic), folder)
    with pytest.raises(BackupError, match="找不到备份文件"):
        backup.restore(tmp_path / "missing.sqlite3", db(clinic), folder)
    assert backup.list_backups(folder) == []


def test_restore_onto_a_new_computer(clinic: Clinic, tmp_path: Path, now: list[datetime]) -> None:
    add_channel(clinic, "美团")
    old = backup.make_backup(db(clinic), tmp_path / "backups", kind="manual")
    fresh = tmp_path / "new-pc" / "meike.sqlite3"
    fresh.parent.mkdir()
    assert backup.restore(old.path, fresh, tmp_path / "new-pc" / "backups") is None
    assert channels(fresh) == ["美团"]


# --- settings and jobs ---------------------------------------------------------------------------------


def test_settings_default_save_and_load(clinic: Clinic, user: Actor, tmp_path: Path) -> None:
    assert backup.load_settings(clinic) == BackupSettings("", 14, 12, True)
    assert BackupSettings().folder_for(db(clinic)) == tmp_path / "backups"
    chosen = BackupSettings(str(tmp_path / "美客备份"), 30, 24, False)
    assert backup.save_settings(clinic, user, chosen) == chosen
    assert backup.load_settings(clinic) == chosen
    assert chosen.folder_for(db(clinic)) == tmp_path / "美客备份"
    with clinic.read() as s:
        audit = s.scalars(select(AuditEntry.after).where(AuditEntry.action == "setting.change",
                                                         AuditEntry.after.contains("backup.keep_daily"))).all()
    assert len(audit) == 1 and '"backup.keep_daily": "30"' in (audit[0] or "")
    with pytest.raises(ValidationError) as e:
        backup.save_settings(clinic, user, BackupSettings("relative/folder", 0, 500, True))
    assert set(e.value.errors) == {"backup_folder", "backup_daily", "backup_monthly"}
    assert backup.load_settings(clinic) == chosen


def test_settings_need_the_settings_page(clinic: Clinic, admin: Actor) -> None:
    front = make_user(clinic, admin, "front-desk", pages=[Page.REGISTRATION])
    with pytest.raises(PermissionDenied):
        backup.save_settings(clinic, front, BackupSettings())
    with pytest.raises(PermissionDenied):
        backup.manual_backup(clinic, front)


def test_the_daily_job_backs_up_once_a_day_and_applies_retention(
        clinic: Clinic, user: Actor, tmp_path: Path, now: list[datetime]) -> None:
    folder = tmp_path / "backups"
    backup.save_settings(clinic, user, BackupSettings(str(folder), daily=2, monthly=0, enabled=True))
    first = backup.daily_backup(clinic)
    assert first is not None and first.kind == "daily"
    now[0] += timedelta(hours=3)
    assert backup.daily_backup(clinic) is None  # today's is there
    for _ in range(3):
        now[0] += timedelta(days=1)
        assert backup.daily_backup(clinic) is not None
    exit_copy = backup.exit_backup(clinic)
    assert exit_copy is not None and exit_copy.kind == "exit"
    days = sorted({i.taken_at.date() for i in backup.list_backups(folder)})
    assert days == [date(2026, 11, 25), date(2026, 11, 26)]  # two days kept
    assert [i.kind for i in backup.list_backups(folder)] == ["exit", "daily"]  # the exit copy is the 26th's newest


def test_jobs_do_nothing_when_switched_off(clinic: Clinic, user: Actor, tmp_path: Path, now: list[datetime]) -> None:
    backup.save_settings(clinic, user, BackupSettings(str(tmp_path / "b"), enabled=False))
    assert backup.daily_backup(clinic) is None
    assert backup.exit_backup(clinic) is None
    assert not (tmp_path / "b").exists()
    manual = backup.manual_backup(clinic, user)  # a manual backup is always possible
    assert manual.kind == "manual" and manual.path.parent == tmp_path / "b"
    with clinic.read() as s:
        assert s.scalar(select(AuditEntry.action).where(AuditEntry.action == "backup.manual")) == "backup.manual"


def test_the_backup_folder_and_a_manual_backup_need_the_administrator_or_the_backup_right(
        clinic: Clinic, admin: Actor, user: Actor, tmp_path: Path, now: list[datetime]) -> None:
    """系统管理 without 数据备份 (and without the reveal right) cannot send a full copy anywhere."""
    manager = make_user(clinic, admin, "manager")  # every page, no right at all
    stolen = BackupSettings(str(tmp_path / "usb-stick"))
    with pytest.raises(PermissionDenied, match="数据备份"):
        backup.save_settings(clinic, manager, stolen)
    with pytest.raises(PermissionDenied):
        backup.manual_backup(clinic, manager)
    assert backup.load_settings(clinic) == BackupSettings() and not (tmp_path / "usb-stick").exists()
    assert not backup.can_manage(manager) and backup.can_manage(user) and backup.can_manage(admin)

    backup.save_settings(clinic, admin, BackupSettings(str(tmp_path / "chosen")))  # the administrator
    made = backup.manual_backup(clinic, admin)
    assert made.path.parent == tmp_path / "chosen"
    assert backup.manual_backup(clinic, user).path.parent == tmp_path / "chosen"  # and the right's holder
    with clinic.read() as s:
        rows = s.execute(select(AuditEntry.username, AuditEntry.action, AuditEntry.before, AuditEntry.after)
                         .where(AuditEntry.action.in_(["setting.change", "backup.manual"]))
                         .order_by(AuditEntry.id)).all()
    rows = [r for r in rows if r.action == "backup.manual" or "backup.folder" in (r.after or "")]
    assert [(r.username, r.action) for r in rows] == [
        ("admin", "setting.change"), ("admin", "backup.manual"), ("keeper", "backup.manual")]
    assert str(tmp_path / "chosen") in (rows[0].after or "")  # the destination, before and after
    assert str(tmp_path / "chosen") in (rows[1].after or "") and made.path.name in (rows[1].after or "")


# --- receipt numbers across a restore --------------------------------------------------------------


def _pay(clinic: Clinic, desk: Desk, key: str) -> str:
    order = cashier.open_order(clinic, desk.cashier, customer_id=desk.plain, lines=[LineSpec(desk.items["脱毛"])])
    return cashier.pay(clinic, desk.cashier, order, [Tender(desk.methods["现金"], 50_000)],
                       idempotency_key=key).receipt_no


def _receipt_numbers(clinic: Clinic) -> list[str]:
    with clinic.read() as s:
        return list(s.scalars(select(Receipt.receipt_no).order_by(Receipt.receipt_no)))


def test_a_restore_never_hands_out_a_receipt_number_again(
        clinic: Clinic, desk: Desk, frozen: list[datetime]) -> None:
    day = frozen[0].date()
    first = _pay(clinic, desk, "k1")
    taken = backup.manual_backup(clinic, desk.admin)
    frozen[0] += timedelta(minutes=30)
    after = [_pay(clinic, desk, "k2"), _pay(clinic, desk, "k3")]  # handed to customers, then the restore
    assert after == [ledger_no(day, 2), ledger_no(day, 3)]

    backup.restore_clinic(clinic, desk.admin, taken.path)

    assert _receipt_numbers(clinic) == [first]
    nxt = _pay(clinic, desk, "k4")
    assert nxt == ledger_no(day, 4) and nxt not in after
    with clinic.read() as s:
        assert numbering.skipped_numbers(s) == {day: {2, 3}}  # for the check of the books: issued, then lost
        audit = s.execute(select(AuditEntry.action, AuditEntry.after).where(
            AuditEntry.action.in_(["backup.restore", "receipt.numbers.skipped"])).order_by(AuditEntry.id)).all()
    assert [a.action for a in audit] == ["backup.restore", "receipt.numbers.skipped"]
    assert f'"{day.isoformat()}": "2-3"' in (audit[1].after or "") and '"restore"' in (audit[1].after or "")
    report = run_check(clinic)  # the skipped numbers are accounted for, not missing
    assert report.ok, report.render()


def test_numbers_survive_a_database_replaced_by_hand(clinic: Clinic, desk: Desk, frozen: list[datetime],
                                                     tmp_path: Path) -> None:
    """The damaged database moved away and a backup put in its place (or copied over it): the mark kept
    beside the file still knows the numbers issued since."""
    day = frozen[0].date()
    _pay(clinic, desk, "k1")
    taken = backup.make_backup(db(clinic), tmp_path / "elsewhere", kind="daily")
    _pay(clinic, desk, "k2")
    assert numbering.read_mark(db(clinic)) == {day: 2}
    clinic.dispose()
    backup.restore(taken.path, db(clinic), tmp_path / "elsewhere")  # no program around it: a copy by hand
    after_upgrade(clinic)  # the next start
    assert _pay(clinic, desk, "k3") == ledger_no(day, 3)
    with clinic.read() as s:
        assert numbering.skipped_numbers(s) == {day: {2}}
    after_upgrade(clinic)  # nothing more on the start after
    with clinic.read() as s:
        assert numbering.skipped_numbers(s) == {day: {2}}
    assert run_check(clinic).ok, run_check(clinic).render()


def test_the_restore_confirmation_lists_what_will_be_lost(clinic: Clinic, desk: Desk, frozen: list[datetime]) -> None:
    chief = make_user(clinic, desk.admin, "chief", grants={right_code(r) for r in Right})
    _pay(clinic, desk, "k1")
    taken = backup.manual_backup(clinic, desk.admin)
    assert backup.restore_losses(clinic, desk.admin, taken.path).nothing
    frozen[0] += timedelta(hours=1)
    _pay(clinic, desk, "k2")
    _pay(clinic, desk, "k3")
    customers.register_customer(clinic, chief, name="备份之后", mobile="13877778888")
    dayclose.close_day(clinic, chief, counted_cash_fen=dayclose.day_report(clinic, chief).expected_cash_fen)
    with pytest.raises(PermissionDenied):
        backup.restore_losses(clinic, chief, taken.path)  # the restore is the administrator's

    losses = backup.restore_losses(clinic, desk.admin, taken.path)

    day = frozen[0].date()
    assert (losses.receipts, losses.receipts_fen, losses.first_receipt, losses.last_receipt) == (
        2, 100_000, ledger_no(day, 2), ledger_no(day, 3))
    assert (losses.customers, losses.visits, losses.day_closes) == (1, 0, (day,))
    assert losses.lines() == [
        f"收据 2 张（{ledger_no(day, 2)} 至 {ledger_no(day, 3)}，金额合计 ￥1,000.00）；这些收据号以后不会再用",
        "新登记的顾客 1 位", f"日结 {day:%Y-%m-%d}"]


def ledger_no(day: date, serial: int) -> str:
    return f"R{day:%Y%m%d}-{serial:04d}"
