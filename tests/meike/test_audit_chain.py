"""The audit log is append-only and hash-chained: the database refuses edits, and the verifier finds an
edited, deleted, inserted or cut-off row even when someone drops the triggers and edits the file."""

from __future__ import annotations

import threading
from datetime import date, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from meike.db import Clinic
from meike.errors import PermissionDenied
from meike.permissions import Actor
from meike.services import accounts, audit, audit_guard
from meike.services.audit import AuditFilter
from tests.conftest import make_user


def _history(clinic: Clinic, admin: Actor) -> None:
    """Logins, a failed login, account changes: a dozen real audit rows."""
    for n in range(3):
        make_user(clinic, admin, f"user{n}", password="pass-word-1")
        accounts.authenticate(clinic, f"user{n}", "pass-word-1")
    with pytest.raises(Exception):  # noqa: B017 (any login failure)
        accounts.authenticate(clinic, "user0", "wrong-password")


def _raw(clinic: Clinic, sql: str) -> None:
    with clinic.engine.begin() as conn:
        conn.exec_driver_sql(sql)


def _unguarded(clinic: Clinic) -> None:
    """What someone with the database file (or the database owner's password) can do: drop the triggers."""
    if clinic.engine.dialect.name == "postgresql":
        _raw(clinic, "ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
        return
    _raw(clinic, "DROP TRIGGER audit_log_no_update")
    _raw(clinic, "DROP TRIGGER audit_log_no_delete")


def test_a_clean_log_verifies_and_the_database_refuses_edits(clinic: Clinic, admin: Actor) -> None:
    _history(clinic, admin)
    report = audit.verify_chain(clinic, admin)
    assert report.ok and report.checked == audit.count_matching(clinic, admin, AuditFilter()) > 8
    for sql in ("UPDATE audit_log SET username = 'x' WHERE id = 2", "DELETE FROM audit_log WHERE id = 3"):
        with pytest.raises(DatabaseError, match="审计日志只能追加"):
            _raw(clinic, sql)
    assert audit.verify_chain(clinic, admin).ok
    with pytest.raises(PermissionDenied):
        audit.verify_chain(clinic, make_user(clinic, admin, "clerk"))


def test_an_edited_row_is_found(clinic: Clinic, admin: Actor) -> None:
    _history(clinic, admin)
    _unguarded(clinic)
    _raw(clinic, "UPDATE audit_log SET after = '{\"username\": \"someone\"}' WHERE id = 4")
    report = audit.verify_chain(clinic, admin)
    assert not report.ok and any("第 4 条记录" in p and "被改动过" in p for p in report.problems)


def test_a_row_edited_with_a_recomputed_hash_breaks_the_next_link(clinic: Clinic, admin: Actor) -> None:
    _history(clinic, admin)
    _unguarded(clinic)
    with clinic.engine.begin() as conn:
        row = conn.execute(text("SELECT * FROM audit_log WHERE id = 4")).mappings().one()
        forged = audit.chain_hash(row["prev_hash"], 4, datetime.fromisoformat(str(row["at"])), row["user_id"],
                                  "intruder", row["action"], row["entity"], row["entity_id"], row["before"],
                                  row["after"])
        conn.execute(text("UPDATE audit_log SET username = 'intruder', row_hash = :h WHERE id = 4"), {"h": forged})
    report = audit.verify_chain(clinic, admin)
    assert any("第 5 条记录与上一条接不上" in p for p in report.problems), report.problems


def test_deleted_inserted_and_cut_off_rows_are_found(clinic: Clinic, admin: Actor) -> None:
    _history(clinic, admin)
    _unguarded(clinic)
    _raw(clinic, "DELETE FROM audit_log WHERE id = 3")
    assert any("第 3–3 条记录缺失" in p for p in audit.verify_chain(clinic, admin).problems)
    _raw(clinic, "INSERT INTO audit_log (id, at, user_id, username, action, entity, entity_id, prev_hash, row_hash)"
                 " VALUES (3, '2026-01-01 00:00:00', NULL, 'ghost', 'login.ok', 'user', 1, '', '')")
    assert any("第 3 条记录" in p for p in audit.verify_chain(clinic, admin).problems)
    _raw(clinic, "DELETE FROM audit_log WHERE id = 3")
    last = audit.search(clinic, admin, AuditFilter(), limit=1)[0].id
    _raw(clinic, f"DELETE FROM audit_log WHERE id >= {last - 1}")
    assert any("日志末尾被截断" in p for p in audit.verify_chain(clinic, admin).problems)


def test_appends_from_many_threads_keep_one_chain(clinic: Clinic, admin: Actor) -> None:
    def work(n: int) -> None:
        for i in range(10):
            with clinic.write() as s:
                audit.record(s, admin, "setting.change", "setting", None, after={"thread": n, "i": i})

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    report = audit.verify_chain(clinic, admin)
    assert report.ok and report.checked >= 40


def test_viewer_filters_and_export_is_logged(clinic: Clinic, admin: Actor, tmp_path: Path) -> None:
    _history(clinic, admin)
    failed = audit.search(clinic, admin, AuditFilter(category="login"))
    assert {line.label for line in failed} == {"登录", "登录失败"}
    mine = audit.search(clinic, admin, AuditFilter(username="user1"))
    assert mine and {line.username for line in mine} == {"user1"}
    assert audit.search(clinic, admin, AuditFilter(start=date(2000, 1, 1), end=date(2000, 1, 2))) == []
    created = audit.search(clinic, admin, AuditFilter(text="user2"))
    assert created and all("user2" in line.detail for line in created)
    path = tmp_path / "审计" / "log.xlsx"
    written = audit.export_xlsx(clinic, admin, AuditFilter(category="login"), path)
    sheet = load_workbook(path).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("编号", "时间", "操作人", "操作", "对象", "内容") and len(rows) == written + 1
    assert {r[3] for r in rows[1:]} == {"登录", "登录失败"}
    newest = audit.search(clinic, admin, AuditFilter(), limit=1)[0]
    assert newest.action == "audit.export" and f'"rows": {written}' in newest.detail
    assert audit.verify_chain(clinic, admin).ok


# --- issue 14/16: what the chain alone missed -------------------------------------------------------------


def _guards_off(clinic: Clinic) -> None:
    """Everything that protects the log and its end switched off, as a database owner could."""
    if clinic.engine.dialect.name == "postgresql":
        _raw(clinic, "ALTER TABLE audit_log DISABLE TRIGGER USER")
        _raw(clinic, "ALTER TABLE audit_head DISABLE TRIGGER USER")
        return
    for name in audit_guard.SQLITE_TRIGGERS:
        _raw(clinic, f"DROP TRIGGER IF EXISTS {name}")


def _rehash_from(clinic: Clinic, first: int) -> None:
    """Recompute every hash from row ``first`` on and move the head: a chain that verifies on its own."""
    with clinic.engine.begin() as conn:
        rows = conn.execute(text("SELECT * FROM audit_log WHERE id >= :f ORDER BY id"), {"f": first}).mappings().all()
        prev = conn.execute(text("SELECT row_hash FROM audit_log WHERE id = :i"), {"i": first - 1}).scalar() \
            or audit.GENESIS
        for row in rows:
            at = row["at"] if isinstance(row["at"], datetime) else datetime.fromisoformat(str(row["at"]))
            digest = audit.chain_hash(prev, row["id"], at, row["user_id"], row["username"], row["action"],
                                      row["entity"], row["entity_id"], row["before"], row["after"])
            conn.execute(text("UPDATE audit_log SET prev_hash = :p, row_hash = :h WHERE id = :i"),
                         {"p": prev, "h": digest, "i": row["id"]})
            prev = digest
        last = conn.execute(text("SELECT max(id) FROM audit_log")).scalar() or 0
        conn.execute(text("UPDATE audit_head SET last_id = :l, last_hash = :h WHERE id = 1"),
                     {"l": last, "h": prev if last else audit.GENESIS})


def _anchored(clinic: Clinic, admin: Actor) -> int:
    """A worked log, checked on start (this PC's anchor follows it from then on): the last row's number."""
    _history(clinic, admin)
    assert audit_guard.check_on_start(clinic) == []
    _history_more(clinic, admin)
    report = audit.verify_chain(clinic, admin)
    assert report.ok, report.problems
    kept = audit_guard.kept_anchor(clinic)
    assert kept is not None and kept.last_id == report.checked  # the anchor followed every commit
    return kept.last_id


def _history_more(clinic: Clinic, admin: Actor) -> None:
    for n in range(3):
        accounts.authenticate(clinic, f"user{n}", "pass-word-1")


def _problems(clinic: Clinic, admin: Actor) -> str:
    report = audit.verify_chain(clinic, admin)
    assert not report.ok
    return "；".join(report.problems)


def test_a_tail_cut_off_with_its_head_moved_back_is_found_by_this_pcs_anchor(clinic: Clinic, admin: Actor) -> None:
    last = _anchored(clinic, admin)
    _guards_off(clinic)
    _raw(clinic, f"DELETE FROM audit_log WHERE id > {last - 3}")
    _rehash_from(clinic, last - 3)  # moves the head to the new last row: the chain itself verifies
    problems = _problems(clinic, admin)
    assert f"审计日志比本机记录的少：本机记录到第 {last} 条" in problems
    assert f"数据库最后一条是第 {last - 3} 条" in problems


def test_every_row_and_the_head_deleted_is_found(clinic: Clinic, admin: Actor) -> None:
    last = _anchored(clinic, admin)
    _guards_off(clinic)
    _raw(clinic, "DELETE FROM audit_log")
    _raw(clinic, "DELETE FROM audit_head")
    problems = _problems(clinic, admin)
    assert "审计日志的链尾记录丢失" in problems
    assert f"审计日志被清空：本机记录到第 {last} 条" in problems


def test_a_row_edited_and_rehashed_onward_is_found_up_to_the_anchor(clinic: Clinic, admin: Actor) -> None:
    last = _anchored(clinic, admin)
    _guards_off(clinic)
    _raw(clinic, "UPDATE audit_log SET username = 'intruder' WHERE id = 4")
    _rehash_from(clinic, 4)
    problems = _problems(clinic, admin)
    assert f"审计日志第 {last} 条与本机记录的不同" in problems
    assert "被改写过" in problems


def test_a_forged_row_slipped_in_with_its_hash_and_head_is_found(clinic: Clinic, admin: Actor) -> None:
    """A row added before the anchor moves every later number and hash; one added after the newest anchor
    is the limit of a hash chain (README: what it cannot prove) — the books' cross-checks still find a
    forged money row (tests/meike/test_check.py)."""
    last = _anchored(clinic, admin)
    _guards_off(clinic)
    _raw(clinic, "UPDATE audit_log SET id = id + 1000 WHERE id >= 5")  # make room, keep the order
    _raw(clinic, "UPDATE audit_log SET id = id - 999 WHERE id >= 1005")
    _raw(clinic, "INSERT INTO audit_log (id, at, user_id, username, action, entity, entity_id, before, after,"
                 " prev_hash, row_hash) VALUES (5, '2026-01-01 00:00:00', NULL, 'boss', 'user.permissions',"
                 " 'user', 1, NULL, NULL, '', '')")
    _rehash_from(clinic, 5)
    problems = _problems(clinic, admin)
    assert f"审计日志第 {last} 条与本机记录的不同" in problems


def test_dropped_disabled_or_altered_triggers_are_found(clinic: Clinic, admin: Actor) -> None:
    _history(clinic, admin)
    assert audit.verify_chain(clinic, admin).ok
    if clinic.engine.dialect.name == "postgresql":
        _raw(clinic, "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_truncate")
        _raw(clinic, "DROP TRIGGER audit_head_no_truncate ON audit_head")
        _raw(clinic, "CREATE OR REPLACE FUNCTION audit_head_forward_only() RETURNS trigger LANGUAGE plpgsql"
                     " AS $$ BEGIN RETURN NEW; END $$")
        problems = _problems(clinic, admin)
        assert "触发器 audit_log_no_truncate 被停用" in problems
        assert "触发器 audit_head_no_truncate 不见了" in problems
        assert "触发器 audit_head_forward_only 被改动过" in problems
        return
    with clinic.engine.begin() as conn:
        conn.exec_driver_sql("DROP TRIGGER audit_log_no_delete")
        conn.exec_driver_sql("DROP TRIGGER audit_head_forward_only")
        conn.exec_driver_sql("CREATE TRIGGER audit_head_forward_only BEFORE UPDATE ON audit_head WHEN 0 "
                             "BEGIN SELECT 1; END")
    problems = _problems(clinic, admin)
    assert "触发器 audit_log_no_delete 不见了" in problems
    assert "触发器 audit_head_forward_only 被改动过" in problems
    assert audit_guard.check_on_start(clinic)  # found before the login too


def test_the_head_only_moves_forward_and_truncate_is_refused(clinic: Clinic, admin: Actor) -> None:
    _history(clinic, admin)
    refused = ["UPDATE audit_head SET last_id = last_id - 1", "UPDATE audit_head SET last_hash = 'x'",
               "DELETE FROM audit_head", "INSERT INTO audit_head (id, last_id, last_hash) VALUES (2, 0, '')"]
    if clinic.engine.dialect.name == "postgresql":
        refused += ["TRUNCATE audit_log", "TRUNCATE audit_head", "TRUNCATE audit_log, audit_head"]
    for sql in refused:
        with pytest.raises(DatabaseError, match="审计日志"):
            _raw(clinic, sql)
    assert audit.verify_chain(clinic, admin).ok


def test_a_mismatch_on_start_is_logged_and_kept_until_the_administrator_accepts(clinic: Clinic, admin: Actor) -> None:
    last = _anchored(clinic, admin)
    _guards_off(clinic)
    _raw(clinic, f"DELETE FROM audit_log WHERE id > {last - 2}")
    _rehash_from(clinic, last - 2)
    _restore_guards(clinic)
    problems = audit_guard.check_on_start(clinic)
    assert problems and "末尾被截断" in problems[0]
    logged = audit.search(clinic, admin, AuditFilter(), limit=1)[0]
    assert logged.action == "audit.anchor_mismatch" and "末尾被截断" in logged.detail
    accounts.authenticate(clinic, "user0", "pass-word-1")
    assert audit_guard.kept_anchor(clinic).last_id == last  # not moved on while it does not match
    assert audit_guard.check_on_start(clinic)  # still there at the next start
    with pytest.raises(PermissionDenied):
        audit_guard.accept(clinic, make_user(clinic, admin, "clerk"))
    audit_guard.accept(clinic, admin)
    accepted = audit.search(clinic, admin, AuditFilter(), limit=1)[0]
    assert accepted.action == "audit.anchor_accept" and f'"last_id": {last}' in accepted.detail
    assert audit_guard.check_on_start(clinic) == []
    assert audit.verify_chain(clinic, admin).ok


def _restore_guards(clinic: Clinic) -> None:
    if clinic.engine.dialect.name == "postgresql":
        _raw(clinic, "ALTER TABLE audit_log ENABLE TRIGGER USER")
        _raw(clinic, "ALTER TABLE audit_head ENABLE TRIGGER USER")
        return
    with clinic.engine.begin() as conn:
        for name, sql in audit_guard.SQLITE_TRIGGERS.items():
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")
            conn.exec_driver_sql(sql)


@pytest.mark.sqlite_only
def test_a_backup_anchors_the_log_and_a_restore_in_the_program_moves_the_anchor(
        clinic: Clinic, admin: Actor, tmp_path: Path) -> None:
    from meike import backup, workstation

    _history(clinic, admin)
    assert clinic.path is not None
    folder = backup.load_settings(clinic).folder_for(clinic.path)
    taken = backup.make_backup(clinic.path, folder, kind="manual")
    kept = audit_guard.backup_anchor(taken.path)
    assert kept is not None and kept.last_id > 5
    _history_more(clinic, admin)
    # Someone rewrites the log and also this PC's settings: the backup still holds the old end.
    _guards_off(clinic)
    _raw(clinic, "UPDATE audit_log SET username = 'intruder' WHERE id = 3")
    _rehash_from(clinic, 3)
    _restore_guards(clinic)
    workstation.save_audit_anchor(audit_guard.database_key(clinic.engine.url), {})
    problems = _problems(clinic, admin)
    assert f"审计日志第 {kept.last_id} 条与备份 {taken.path.name} 记录的不同" in problems
    assert audit_guard.check_on_start(clinic)  # the newest backup is compared before the login too
    # The administrator restores that backup in the program: the restored log is the anchor from now on,
    # and the backup taken just before the restore (of the replaced log) is not reported.
    backup.restore_clinic(clinic, admin, taken.path)
    assert audit.verify_chain(clinic, admin).ok, audit.verify_chain(clinic, admin).problems
    assert audit_guard.check_on_start(clinic) == []


GRANTS = (  # README, Several workstations: what the owner grants the program's role (the same statements)
    "GRANT USAGE ON SCHEMA public TO {app}",
    "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {app}",
    "GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {app}",
    "ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {app}",
    "ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {app}",
    "REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM {app}",
)


def test_on_postgresql_the_programs_role_owns_nothing_it_could_truncate_or_unguard(_pg, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Tables owned by an owner role that only migrates; the program logs in as a role that may read and write
    rows but not TRUNCATE, drop or disable a trigger, or touch the log's rows."""
    if _pg is None:
        pytest.skip("PostgreSQL: MEIKE_TEST_DATABASE_URL")
    from sqlalchemy.exc import ProgrammingError

    from meike.clinic_setup import upgrade

    suffix = f"{_pg.prefix}_roles".lower()
    owner, app, name = f"{suffix}_owner", f"{suffix}_app", f"{suffix}_db"
    with _pg.admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        for role in (app, owner):
            conn.exec_driver_sql(f'DROP ROLE IF EXISTS "{role}"')
        conn.exec_driver_sql(f'CREATE ROLE "{owner}" LOGIN')
        conn.exec_driver_sql(f'CREATE ROLE "{app}" LOGIN')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}" OWNER "{owner}"')
    url = _pg.base.set(database=name)
    as_owner = Clinic.open(url.set(username=owner).render_as_string(hide_password=False))
    as_app = Clinic.open(url.set(username=app).render_as_string(hide_password=False))
    try:
        upgrade(as_owner)
        with as_owner.engine.begin() as conn:
            conn.exec_driver_sql("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
            for grant in GRANTS:
                conn.exec_driver_sql(grant.format(app=f'"{app}"', owner=f'"{owner}"'))
        assert upgrade(as_app) is None  # at the head: the program starts as its role
        admin = accounts.initialise_clinic(as_app, clinic_name="角色测试", admin_password="admin-pass",
                                           confirm="admin-pass")
        make_user(as_app, admin, "clerk", password="pass-word-1")
        accounts.authenticate(as_app, "clerk", "pass-word-1")
        assert audit.verify_chain(as_app, admin).ok
        for sql in ("TRUNCATE audit_log", "TRUNCATE audit_head", "DELETE FROM audit_log",
                    "UPDATE audit_log SET username = 'x'", "ALTER TABLE audit_log DISABLE TRIGGER USER",
                    "DROP TRIGGER audit_log_append_only ON audit_log", "DROP TABLE audit_log",
                    "CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql "
                    "AS $$ BEGIN RETURN OLD; END $$"):
            with pytest.raises(ProgrammingError, match="permission denied|must be owner"):
                _raw(as_app, sql)
        with pytest.raises(DatabaseError, match="审计日志的链尾只能前进"):
            _raw(as_app, "UPDATE audit_head SET last_id = 1")
        with pytest.raises(DatabaseError, match="审计日志只能追加"):
            _raw(as_owner, "TRUNCATE audit_log")  # even the owner meets the statement trigger
        assert audit.verify_chain(as_app, admin).ok
    finally:
        as_owner.dispose()
        as_app.dispose()
        with _pg.admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            for role in (app, owner):
                conn.exec_driver_sql(f'DROP ROLE IF EXISTS "{role}"')


def test_another_pcs_commit_during_the_check_is_not_a_cut_off_log(demo_clinic: Clinic) -> None:
    """Found by the crash harness on PostgreSQL: the start-up check and 校验 read the chain's end row, then
    the last row; another workstation's commit in between looked like a log cut off by hand (a false
    "审计日志被改动" and an anchor that stopped moving). Each now reads one moment of the database."""
    from sqlalchemy import event

    other = Clinic.open(demo_clinic.engine.url.render_as_string(hide_password=False))
    try:
        for check in (lambda: audit_guard.check_on_start(demo_clinic), lambda: audit.verify_chain(demo_clinic).problems):
            fired: list[int] = []

            def after(_conn, _cursor, statement, *_args, fired: list[int] = fired) -> None:  # type: ignore[no-untyped-def]
                if "FROM audit_head" in statement and not fired:
                    fired.append(1)
                    with other.write() as s:  # the other PC commits an audited change right then
                        audit.record(s, None, "login.failed", "user", None, who="someone")

            event.listen(demo_clinic.engine, "after_cursor_execute", after)
            try:
                assert check() == []
            finally:
                event.remove(demo_clinic.engine, "after_cursor_execute", after)
            assert fired == [1]
        assert audit.verify_chain(demo_clinic).problems == []
    finally:
        other.dispose()
