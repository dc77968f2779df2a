"""What keeps the audit log honest beyond its hash chain: anchors outside the database, and the guards in it.

The chain (``meike.services.audit``) shows a row edited, inserted or deleted in the middle. On its
own it cannot show a tail cut off together with its end row ``audit_head`` moved back, everything
deleted, or rows edited and re-hashed onward: anyone can recompute a SHA-256. So its end is also
kept *outside* the database, as an anchor (last row number, its hash, the hash of row 1):

* in this PC's settings (``meike.workstation``, per database), after the start-up check passed and
  then after every commit that wrote an audit row (``track`` below);
* in every backup: a backup is a copy of the database, so its own ``audit_head`` is the anchor of
  the moment it was taken (read straight from the file, ``backup_anchor``).

An anchor holds when the database still has its row with its hash (and the same row 1): everything
up to it is then unchanged, since each hash covers all rows before it. ``check_on_start`` (the
program, before the login) and ``verify_chain`` (``--check``, 校验日志完整性) compare them, and check
that the triggers refusing UPDATE / DELETE / TRUNCATE are still in place and unaltered.

A restore made in the program moves this PC's anchor to the restored chain (the restore is in the
log) and notes it, so that backups taken on the abandoned branch are not reported. An administrator
who finds the difference explained (the database really was replaced) accepts the current log as
the new anchor (``accept``; audited with the old anchor).

What this cannot prove: someone who can write the database can still append rows that look genuine,
and can rewrite the rows written after the newest anchor; someone who can also rewrite every
anchor (this PC's settings and all the backups) can rewrite everything (README, Data safety).

The guards and anchors themselves are ``meike.services.audit_anchor`` (what ``audit.record`` and
``verify_chain`` need; re-exported here); this module adds what writes to the log: ``check_on_start``
and ``accept``. The backups an anchor is compared with are listed by ``meike.backup``, plugged in by
``meike.clinic_setup.wire``.
"""

from __future__ import annotations

import logging

from meike.db import Clinic
from meike.permissions import Actor
from meike.services import audit
from meike.services.audit_anchor import (  # the guards and anchors, re-exported: audit_guard.<name> keeps working
    HEAD_INFO,
    POSTGRES_TRIGGERS,
    SQLITE_TRIGGERS,
    Anchor,
    BackupLister,
    _keep,
    _key,
    _tracked,
    anchor,
    anchor_in,
    anchor_problems,
    backup_anchor,
    database_key,
    head_problems,
    kept_anchor,
    list_backups_with,
    note_head,
    one_moment,
    outside_problems,
    trigger_problems,
)

__all__ = [
    "Anchor",
    "BackupLister",
    "HEAD_INFO",
    "POSTGRES_TRIGGERS",
    "SQLITE_TRIGGERS",
    "anchor",
    "anchor_in",
    "anchor_problems",
    "backup_anchor",
    "database_key",
    "head_problems",
    "kept_anchor",
    "list_backups_with",
    "note_head",
    "one_moment",
    "outside_problems",
    "trigger_problems",
    "accept",
    "check_on_start",
]

log = logging.getLogger(__name__)


# --- on start, and accepting the log as it is -------------------------------------------------------------


def check_on_start(clinic: Clinic) -> list[str]:
    """Before the login: the guards, the chain's end, this PC's anchor and the newest backup's. When all
    hold, this PC's anchor follows the log from now on; otherwise the problems are written to the log
    (the administrator sees them) and the anchor stays where it was until ``accept``."""
    with clinic.read() as s:
        one_moment(s)
        problems = trigger_problems(s) + head_problems(s) + outside_problems(clinic, s, all_backups=False)
        now = anchor_in(s)
    key = _key(clinic)
    if not problems:
        _keep(key, now)
        _tracked.add(key)
        return []
    _tracked.discard(key)  # the anchor stays where it was until the administrator accepts the log
    log.warning("the audit log does not match what was kept outside the database (%d problems)", len(problems))
    with clinic.write() as s:
        audit.record(s, None, "audit.anchor_mismatch", "audit_log", None, after={"problems": problems[:10]},
                     who="system")
    return problems


def accept(clinic: Clinic, actor: Actor) -> Anchor:
    """The administrator accepts the log as it is now as this PC's anchor (after finding out why it differs).
    Audited with the anchor it replaces and what differed."""
    actor.require_admin()
    key = _key(clinic)
    old = kept_anchor(clinic)
    with clinic.read() as s:
        problems = trigger_problems(s) + head_problems(s) + outside_problems(clinic, s, all_backups=True)
    with clinic.write() as s:
        audit.record(s, actor, "audit.anchor_accept", "audit_log", None, before=old.as_dict() if old else None,
                     after={"problems": problems[:10]})
    now = anchor(clinic)
    _keep(key, now, restored_at=0)
    _tracked.add(key)
    return now
