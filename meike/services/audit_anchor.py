"""The audit log's anchors outside the database, and the guards in it (``meike.services.audit_guard``
tells the whole story; this is the part ``meike.services.audit`` itself needs, so it imports neither)."""

from __future__ import annotations

import logging
import re
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, func, select, text
from sqlalchemy.orm import Session

from meike import clock
from meike.db import Clinic
from meike.models import AuditEntry, AuditHead

log = logging.getLogger(__name__)

HEAD_INFO = "meike_audit_head"  # Session.info: the chain's end after this transaction's audit rows

# --- the guards in the database ------------------------------------------------------------------

_LOG_MESSAGE = "审计日志只能追加，不能修改或删除"
_HEAD_MESSAGE = "审计日志的链尾只能前进，不能删除或回退"
SQLITE_TRIGGERS = {  # name → its CREATE statement (migrations 0008 and 0015)
    "audit_log_no_update": f"CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
                           f"BEGIN SELECT RAISE(ABORT, '{_LOG_MESSAGE}'); END",
    "audit_log_no_delete": f"CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
                           f"BEGIN SELECT RAISE(ABORT, '{_LOG_MESSAGE}'); END",
    "audit_head_no_delete": f"CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head "
                            f"BEGIN SELECT RAISE(ABORT, '{_HEAD_MESSAGE}'); END",
    "audit_head_forward_only": "CREATE TRIGGER audit_head_forward_only BEFORE UPDATE ON audit_head "
                               "WHEN NEW.id <> OLD.id OR NEW.last_id <= OLD.last_id "
                               f"BEGIN SELECT RAISE(ABORT, '{_HEAD_MESSAGE}'); END",
    "audit_head_one_row": "CREATE TRIGGER audit_head_one_row BEFORE INSERT ON audit_head "
                          "WHEN NEW.id <> 1 OR EXISTS (SELECT 1 FROM audit_head) "
                          f"BEGIN SELECT RAISE(ABORT, '{_HEAD_MESSAGE}'); END",
}
_APPEND_ONLY = f"BEGIN RAISE EXCEPTION '{_LOG_MESSAGE}'; END"
_FORWARD_ONLY = ("BEGIN IF TG_OP = 'UPDATE' AND NEW.id = OLD.id AND NEW.last_id > OLD.last_id THEN RETURN NEW; "
                 "END IF; IF TG_OP = 'INSERT' AND NEW.id = 1 AND NOT EXISTS (SELECT 1 FROM audit_head) THEN "
                 f"RETURN NEW; END IF; RAISE EXCEPTION '{_HEAD_MESSAGE}'; END")
POSTGRES_TRIGGERS = {  # name → (its definition as PostgreSQL prints it, without the schema; the function's body)
    "audit_log_append_only": ("CREATE TRIGGER audit_log_append_only BEFORE DELETE OR UPDATE ON audit_log "
                              "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()", _APPEND_ONLY),
    "audit_log_no_truncate": ("CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
                              "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()", _APPEND_ONLY),
    "audit_head_forward_only": ("CREATE TRIGGER audit_head_forward_only BEFORE INSERT OR DELETE OR UPDATE ON "
                                "audit_head FOR EACH ROW EXECUTE FUNCTION audit_head_forward_only()", _FORWARD_ONLY),
    "audit_head_no_truncate": ("CREATE TRIGGER audit_head_no_truncate BEFORE TRUNCATE ON audit_head "
                               "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()", _APPEND_ONLY),
}


def _plain(sql: str) -> str:
    return " ".join(sql.split())


def trigger_problems(s: Session) -> list[str]:
    """The triggers that refuse edits of the log and of its end: each must be there, unaltered and enabled."""
    problems = []
    if s.get_bind().dialect.name == "sqlite":
        found = {name: _plain(sql or "") for name, sql in s.execute(text(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN ('audit_log', 'audit_head')"))}
        for name, sql in SQLITE_TRIGGERS.items():
            if name not in found:
                problems.append(f"保护审计日志的触发器 {name} 不见了（被删除）")
            elif found[name] != _plain(sql):
                problems.append(f"保护审计日志的触发器 {name} 被改动过")
        return problems
    if s.get_bind().dialect.name != "postgresql":
        return problems
    rows = s.execute(text(
        "SELECT t.tgname, t.tgenabled, pg_get_triggerdef(t.oid), p.prosrc FROM pg_trigger t "
        "JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_proc p ON p.oid = t.tgfoid "
        "WHERE NOT t.tgisinternal AND c.relname IN ('audit_log', 'audit_head') "
        "AND c.relnamespace = to_regnamespace(current_schema())")).all()
    defined = {name: (enabled, re.sub(r" ON [\w\"]+\.", " ON ", _plain(definition)), _plain(body))
               for name, enabled, definition, body in rows}
    for name, (definition, body) in POSTGRES_TRIGGERS.items():
        if name not in defined:
            problems.append(f"保护审计日志的触发器 {name} 不见了（被删除）")
            continue
        enabled, got_definition, got_body = defined[name]
        if str(enabled) == "D":
            problems.append(f"保护审计日志的触发器 {name} 被停用（DISABLE TRIGGER）")
        if got_definition != definition or got_body != body:
            problems.append(f"保护审计日志的触发器 {name} 被改动过")
    return problems


# --- anchors -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Anchor:
    """The chain's end at one moment: its last row (number and hash) and the hash of row 1 (which chain)."""

    last_id: int
    last_hash: str
    first_hash: str
    taken: str = ""  # when (ISO date and time, clinic time), for the report

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: object) -> Anchor | None:
        if not isinstance(raw, dict):
            return None
        try:
            return cls(int(raw["last_id"]), str(raw["last_hash"]), str(raw.get("first_hash", "")),
                       str(raw.get("taken", "")))
        except (KeyError, TypeError, ValueError):
            return None


def _row_hash(s: Session, entry_id: int) -> str | None:
    return s.scalar(select(AuditEntry.row_hash).where(AuditEntry.id == entry_id))


def anchor_in(s: Session) -> Anchor:
    """The chain's end as the database has it now (its ``audit_head`` and row 1)."""
    head = s.get(AuditHead, 1)
    last_id, last_hash = (head.last_id, head.last_hash) if head is not None else (0, "")
    return Anchor(last_id, last_hash, _row_hash(s, 1) or "", f"{clock.now():%Y-%m-%d %H:%M:%S}")


def anchor(clinic: Clinic) -> Anchor:
    """The anchor to keep outside the database now (a backup's metadata may store ``anchor(c).as_dict()``)."""
    with clinic.read() as s:
        return anchor_in(s)


def anchor_problems(s: Session, kept: Anchor, where: str) -> list[str]:
    """Whether the database's chain still holds ``kept`` (taken from it earlier, kept ``where``)."""
    if kept.last_id <= 0:
        return []
    when = f"（{kept.taken}）" if kept.taken else ""
    first = _row_hash(s, 1)
    if first is None:
        return [f"审计日志被清空：{where}记录到第 {kept.last_id} 条{when}，数据库中一条也没有"]
    if kept.first_hash and first != kept.first_hash:
        return [f"审计日志与{where}记录的不是同一份（第 1 条就不同）：日志被整体改写，或数据库被换成了另一个"]
    found = _row_hash(s, kept.last_id)
    if found is None:
        last = s.scalar(select(func.max(AuditEntry.id))) or 0
        return [f"审计日志比{where}记录的少：{where}记录到第 {kept.last_id} 条{when}，数据库最后一条是第 {last} 条"
                "（末尾被截断）"]
    if found != kept.last_hash:
        return [f"审计日志第 {kept.last_id} 条与{where}记录的不同：这一条或它之前的记录被改写过{when}"]
    return []


def head_problems(s: Session) -> list[str]:
    """The end row of the chain is there and is the last row (cheap: two lookups)."""
    head = s.get(AuditHead, 1)
    if head is None:
        return ["审计日志的链尾记录（audit_head）被删除"]
    last = s.scalar(select(func.max(AuditEntry.id))) or 0
    if last != head.last_id or (last and _row_hash(s, last) != head.last_hash):
        return [f"审计日志的链尾记录与日志不符：链尾记到第 {head.last_id} 条，日志最后一条是第 {last} 条"]
    return []


# --- kept on this PC -----------------------------------------------------------------------------------


def database_key(url: object) -> str:
    """Which database an anchor belongs to: the SQLite file, or the PostgreSQL server and database (not the
    user: the owner and the program's role see the same log)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)  # type: ignore[arg-type]
    if parsed.get_backend_name() == "sqlite":
        name = parsed.database or ""
        return "sqlite:" + (str(Path(name).resolve()) if name and name != ":memory:" else name)
    return f"{parsed.get_backend_name()}://{parsed.host or ''}:{parsed.port or ''}/{parsed.database or ''}"


def _key(clinic: Clinic | Engine) -> str:
    engine = clinic.engine if isinstance(clinic, Clinic) else clinic
    return database_key(engine.url)


def kept_anchor(clinic: Clinic) -> Anchor | None:
    """This PC's anchor of the clinic's database (None: none yet)."""
    from meike import workstation

    return Anchor.from_dict(workstation.audit_anchors().get(_key(clinic), {}).get("anchor"))


def _keep(key: str, kept: Anchor, *, restored_at: int | None = None) -> None:
    """Keep ``kept`` as this PC's anchor. ``restored_at``: the log was replaced just now (a restore: the last
    row it kept; an accepted log: 0), so backups taken before on the replaced branch are not compared."""
    from meike import workstation

    entry = dict(workstation.audit_anchors().get(key, {}))
    entry["anchor"] = kept.as_dict()
    if restored_at is not None:
        entry["restores"] = [*entry.get("restores", []), {"restored_last_id": restored_at, "at": kept.taken}][-50:]
    workstation.save_audit_anchor(key, entry)


def _restores(key: str) -> list[tuple[int, str]]:
    from meike import workstation

    out = []
    for r in workstation.audit_anchors().get(key, {}).get("restores", []):
        try:
            out.append((int(r["restored_last_id"]), str(r["at"])))
        except (KeyError, TypeError, ValueError):
            continue
    return out


# Databases whose chain this process has checked against this PC's anchor: each commit that writes an
# audit row moves the anchor on.
_tracked: set[str] = set()


def note_head(session: Session, last_id: int, last_hash: str, action: str) -> None:
    """Called by ``audit.record``: the chain's end once this transaction commits."""
    pending = session.info.setdefault(HEAD_INFO, {"actions": []})
    pending.update(last_id=last_id, last_hash=last_hash)
    pending["actions"].append((last_id, action))
    if last_id == 1:
        pending["first_hash"] = last_hash


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    pending = session.info.pop(HEAD_INFO, None)
    if pending is None:
        return
    try:
        bind = session.get_bind()
        key = database_key(bind.engine.url)
        actions = dict(pending["actions"])
        new_chain = 1 in actions and "clinic.initialise" in actions.values()  # this program began the log
        restore = next((i for i, a in actions.items() if a == "backup.restore"), None)
        if key not in _tracked and not new_chain and restore is None:
            return
        first = pending.get("first_hash") or (kept.first_hash if (kept := _kept_by_key(key)) else "")
        if restore is not None or not first:
            first = _first_hash_of(bind)
        now = Anchor(pending["last_id"], pending["last_hash"], first, f"{clock.now():%Y-%m-%d %H:%M:%S}")
        _keep(key, now, restored_at=restore - 1 if restore is not None else None)
    except Exception:  # noqa: BLE001 (an anchor not moved on is an older anchor, still true: never fail a commit)
        log.warning("could not keep the audit log's anchor on this PC", exc_info=True)


def _kept_by_key(key: str) -> Anchor | None:
    from meike import workstation

    return Anchor.from_dict(workstation.audit_anchors().get(key, {}).get("anchor"))


def _first_hash_of(bind: Any) -> str:
    with bind.connect() as conn:
        return conn.execute(select(AuditEntry.row_hash).where(AuditEntry.id == 1)).scalar() or ""


# --- backups ---------------------------------------------------------------------------------------------


def backup_anchor(path: Path) -> Anchor | None:
    """The anchor a backup file carries: its own chain's end when it was taken (None: not readable)."""
    try:
        conn = sqlite3.connect(Path(path).resolve().as_uri() + "?mode=ro", uri=True, timeout=5)
        try:
            head = conn.execute("SELECT last_id, last_hash FROM audit_head WHERE id = 1").fetchone()
            first = conn.execute("SELECT row_hash FROM audit_log WHERE id = 1").fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return None
    if head is None:
        return None
    return Anchor(int(head[0]), str(head[1]), str(first[0]) if first else "")


# Where a clinic's backups are (file, taken at; newest first): ``meike.backup`` knows, and the composition
# root (``meike.clinic_setup.wire``) plugs it in here, below which this module cannot import.
BackupLister = Callable[[Clinic], Iterable[tuple[Path, datetime]]]
_backup_lister: list[BackupLister] = []


def list_backups_with(lister: BackupLister) -> None:
    """Plug in where a clinic's backups are (``meike.clinic_setup.wire``)."""
    _backup_lister[:] = [lister]


def _backups(clinic: Clinic, *, newest_only: bool) -> Iterable[tuple[str, datetime, Anchor]]:
    """The anchors of this database's backups (SQLite), newest first: (file name, taken at, anchor)."""
    if clinic.path is None:
        return []
    if not _backup_lister:
        log.warning("no backup lister plugged in (meike.clinic_setup.wire): the backups are not compared")
        return []
    try:
        infos = list(_backup_lister[0](clinic))
    except Exception:  # noqa: BLE001 (a folder that cannot be listed: the backups are not compared)
        log.warning("the backups could not be listed to compare the audit log", exc_info=True)
        return []
    out = []
    for path, taken_at in infos:
        kept = backup_anchor(path)
        if kept is not None and kept.last_id:
            out.append((path.name, taken_at, Anchor(kept.last_id, kept.last_hash, kept.first_hash,
                                                    f"{taken_at:%Y-%m-%d %H:%M:%S}")))
            if newest_only:
                break
    return out


def outside_problems(clinic: Clinic, s: Session, *, all_backups: bool, kept: Any = ...) -> list[str]:
    """The chain against this PC's anchor and the backups' (all of them, or the newest). ``kept``: this
    PC's anchor as read before ``s`` took its moment (``one_moment``), when this PC may write meanwhile."""
    problems = []
    key = _key(clinic)
    if kept is ...:
        kept = kept_anchor(clinic)
    if kept is not None:
        problems += anchor_problems(s, kept, "本机")
    restores = _restores(key)
    for name, taken, kept_there in _backups(clinic, newest_only=not all_backups):
        found = anchor_problems(s, kept_there, f"备份 {name} ")
        # Taken before a restore in this program, past the point restored to: a branch the restore replaced.
        abandoned = any(kept_there.last_id > restored and f"{taken:%Y-%m-%d %H:%M:%S}" <= at
                        for restored, at in restores)
        if found and not abandoned:
            problems += found
    return problems


def one_moment(s: Session) -> Session:
    """Every read of ``s`` sees the same moment. PostgreSQL's READ COMMITTED gives each statement its own:
    another workstation's commit between reading the end row and the last row would look like a cut-off
    log, so the session takes REPEATABLE READ (call it before the session's first statement). SQLite's
    read transaction is one snapshot already."""
    if s.get_bind().dialect.name == "postgresql":
        s.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    return s
