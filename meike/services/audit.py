"""Writing and reading the audit log (append-only)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from meike import clock
from meike.db import Clinic
from meike.models import AuditEntry
from meike.permissions import Actor


def _dump(value: dict[str, Any] | None) -> str | None:
    if value is None:
        return None
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def record(
    session: Session,
    actor: Actor | None,
    action: str,
    entity: str,
    entity_id: int | None,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Add an audit row inside the caller's transaction: it commits or rolls back with the change."""
    session.add(
        AuditEntry(
            at=clock.now(),
            user_id=actor.user_id if actor else None,
            username=actor.username if actor else "system",
            action=action,
            entity=entity,
            entity_id=entity_id,
            before=_dump(before),
            after=_dump(after),
        )
    )


@dataclass(frozen=True)
class AuditRow:
    at: datetime
    username: str
    action: str
    entity: str
    entity_id: int | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None


def recent(clinic: Clinic, actor: Actor, *, entity: str | None = None, limit: int = 200) -> list[AuditRow]:
    """The newest audit rows; the administrator reads them in the account manager."""
    actor.require_admin()
    with clinic.read() as s:
        q = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
        if entity:
            q = q.where(AuditEntry.entity == entity)
        return [
            AuditRow(
                e.at,
                e.username,
                e.action,
                e.entity,
                e.entity_id,
                json.loads(e.before) if e.before else None,
                json.loads(e.after) if e.after else None,
            )
            for e in s.scalars(q)
        ]


def count(session: Session, *, action: str | None = None) -> int:
    q = select(func.count()).select_from(AuditEntry)
    if action:
        q = q.where(AuditEntry.action == action)
    return session.scalar(q) or 0
