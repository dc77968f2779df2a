"""Login throttling: failures counted per typed name and per workstation (``login_throttles``), each past the
free attempts doubling the wait before the next one (``meike.services.accounts`` tells the whole story)."""

from __future__ import annotations

import hashlib
import socket
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from meike.models import LoginThrottle
from meike.services import system

MAX_TYPED_NAME = 64  # a typed user name is cut to this before it is looked up, stored or logged
FIRST_WAIT = timedelta(seconds=30)
WORKSTATION_FREE_FACTOR = 3
FORGET_AFTER = timedelta(days=1)


def typed_name(username: str) -> str:
    """The user name as typed, fit to look up and log: no control or format characters (a right-to-left
    override would turn the name round in the audit log), trimmed, at most 64."""
    kept = "".join(ch for ch in username if unicodedata.category(ch) not in ("Cc", "Cs", "Cf"))
    return kept.strip()[:MAX_TYPED_NAME].strip()


def workstation_id() -> str:
    """This PC, as the workstation throttle counts it."""
    return socket.gethostname() or "localhost"


def throttle_key(kind: str, value: str) -> str:
    return hashlib.sha256(f"{kind}:{value.casefold()}".encode()).hexdigest()


def wait_after(failures: int, free: int, cap: timedelta) -> timedelta | None:
    """How long the next attempt waits after ``failures`` in a row; None within the free attempts."""
    if failures < free:
        return None
    return min(FIRST_WAIT * (1 << min(failures - free, 20)), cap)


def wait_text(wait: timedelta) -> str:
    seconds = max(1, int(wait.total_seconds() + 0.999))
    return f"{seconds} 秒" if seconds < 60 else f"{(seconds + 59) // 60} 分钟"


@dataclass
class Throttles:
    """The name's and the workstation's counters of one attempt, loaded in its transaction."""

    keys: list[tuple[str, int]]  # (key, free attempts): the name's first, then the workstation's
    rows: dict[str, LoginThrottle]
    cap: timedelta

    @classmethod
    def load(cls, s: Session, name: str, workstation: str, now: datetime) -> Throttles:
        free = system.get_in(s, "login.max_failures")
        keys = [(throttle_key("name", name), free), (throttle_key("workstation", workstation), free * WORKSTATION_FREE_FACTOR)]
        rows = {}
        for key, _ in keys:
            row = s.get(LoginThrottle, key, with_for_update=True)
            if row is not None and row.last_failure_at < now - FORGET_AFTER:
                row.failures, row.blocked_until = 0, None
            if row is not None:
                rows[key] = row
        return cls(keys, rows, timedelta(minutes=system.get_in(s, "login.lock_minutes")))

    def waiting(self, now: datetime) -> timedelta | None:
        """How long this attempt must still wait (None: it may go ahead)."""
        until = max((r.blocked_until for r in self.rows.values() if r.blocked_until is not None), default=None)
        return until - now if until is not None and until > now else None

    def failed(self, s: Session, now: datetime) -> timedelta | None:
        """Count a failure for the name and the workstation; returns the wait it starts, if any."""
        s.execute(delete(LoginThrottle).where(LoginThrottle.last_failure_at < now - FORGET_AFTER))
        longest: timedelta | None = None
        for key, free in self.keys:
            row = self.rows.get(key) or _new_row(s, key, now)
            self.rows[key] = row
            row.failures += 1
            row.last_failure_at = now
            wait = wait_after(row.failures, free, self.cap)
            row.blocked_until = now + wait if wait is not None else None
            if wait is not None and (longest is None or wait > longest):
                longest = wait
        return longest

    @property
    def name_row(self) -> LoginThrottle | None:
        return self.rows.get(self.keys[0][0])

    def succeeded(self) -> None:
        """A good login forgets the name's failures (the workstation's stay until a quiet day)."""
        if self.name_row is not None:
            self.name_row.failures, self.name_row.blocked_until = 0, None


def _new_row(s: Session, key: str, now: datetime) -> LoginThrottle:
    """A counter row, or the one another workstation inserted a moment ago (PostgreSQL)."""
    try:
        with s.begin_nested():
            row = LoginThrottle(key=key, failures=0, last_failure_at=now)
            s.add(row)
    except IntegrityError:
        found = s.get(LoginThrottle, key, with_for_update=True, populate_existing=True)
        assert found is not None
        return found
    return row
