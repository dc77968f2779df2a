"""Receipt numbers never repeat, not even when an older backup is restored.

A receipt number (R20261123-0009) goes to a customer on paper, so a restore must not hand it out again.
Two records carry the numbers issued forward past a restore:

* the receipt counters of the database a restore replaces (``issued``, read just before it is replaced);
* a high-water mark outside the database, ``<database stem>.numbers.json`` beside it (0600): raised after
  every commit that took a receipt number (``track``, installed by ``meike.clinic_setup.wire``), read again on
  start (``apply_mark``). It carries the numbers over when the database was damaged and replaced by the
  restore steps (the damaged file moved away, a temporary clinic made, a backup restored into it) or a
  backup was copied back by hand.

``carry_forward`` raises the counters to those numbers. The numbers it skips were issued in data that
is gone; they are recorded (``receipts.skipped`` in ``system_settings``, with the reason and when) and
audited, and ``skipped_numbers`` gives them to a check of the books, which counts them as accounted for
rather than missing.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session, SessionTransaction, object_session

from meike import changes, clock, paths
from meike.db import Clinic
from meike.models import ReceiptCounter, SystemSetting
from meike.services import audit

log = logging.getLogger(__name__)

SKIPPED_KEY = "receipts.skipped"
MARK_SUFFIX = ".numbers.json"
KEEP_DAYS = 400  # the mark forgets business days this much older than its newest
REASON_LABELS = {"restore": "恢复备份", "mark": "数据库被替换（本机记录的已开收据号）"}
_PENDING = "meike_receipt_numbers"  # Session.info: numbers taken in the open transaction, per database file
_lock = threading.Lock()
_tracking: list[bool] = []


# --- what was issued -------------------------------------------------------------------------------


def issued(s: Session) -> dict[date, int]:
    """The last receipt number taken on each business day, from the counters."""
    return {day: int(last) for day, last in s.execute(select(ReceiptCounter.business_date, ReceiptCounter.last_no))
            if last}


def mark_path(db_path: Path) -> Path:
    return Path(db_path).with_name(Path(db_path).stem + MARK_SUFFIX)


def read_mark(db_path: Path) -> dict[date, int]:
    """The high-water mark kept beside ``db_path`` ({} when there is none or it cannot be read)."""
    path = mark_path(db_path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return {date.fromisoformat(k): int(v) for k, v in dict(raw.get("receipts", {})).items() if int(v) > 0}
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, TypeError, AttributeError):
        log.warning("the receipt-number mark %s cannot be read; it starts again", path.name)
        return {}


def raise_mark(db_path: Path, numbers: Mapping[date, int]) -> None:
    """Raise the mark beside ``db_path`` to ``numbers`` (never lowers it). Never raises: logged."""
    if not numbers:
        return
    with _lock:
        try:
            mark = read_mark(db_path)
            if all(mark.get(day, 0) >= top for day, top in numbers.items()):
                return
            for day, top in numbers.items():
                mark[day] = max(mark.get(day, 0), top)
            newest = max(mark)
            kept = {d: n for d, n in mark.items() if d >= newest - timedelta(days=KEEP_DAYS)}
            text = json.dumps({"receipts": {d.isoformat(): n for d, n in sorted(kept.items())}})
            paths.write_private(mark_path(db_path), text.encode("utf-8"), sync=False)
        except OSError:
            log.warning("the receipt-number mark beside %s could not be written", Path(db_path).name, exc_info=True)


# --- the mark follows every commit ------------------------------------------------------------------


def _sqlite_file(connection: Any) -> Path | None:
    url = connection.engine.url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


def _seen(_mapper: Any, connection: Any, target: ReceiptCounter) -> None:
    path = _sqlite_file(connection)
    session = object_session(target)
    if path is None or session is None or not target.last_no:
        return
    # (savepoint or None, file, day, number): a savepoint rolled back forgets its own numbers only
    pending: list[tuple[Any, Path, date, int]] = session.info.setdefault(_PENDING, [])
    pending.append((session.get_nested_transaction(), path, target.business_date, int(target.last_no)))


def _committed(session: Session) -> None:
    by_file: dict[Path, dict[date, int]] = {}
    for _savepoint, path, day, number in session.info.pop(_PENDING, []):
        days = by_file.setdefault(path, {})
        days[day] = max(days.get(day, 0), number)
    for path, days in by_file.items():
        raise_mark(path, days)


def _rolled_back(session: Session, previous_transaction: SessionTransaction) -> None:
    pending = session.info.get(_PENDING)
    if not pending:
        return
    savepoint = changes.rolled_back_to(previous_transaction)
    if savepoint is None:
        session.info.pop(_PENDING, None)
        return
    session.info[_PENDING] = [p for p in pending if not changes.within(p[0], savepoint)]


def track() -> None:
    """Raise the mark after every commit that took a receipt number (SQLite files; once per process)."""
    with _lock:
        if _tracking:
            return
        event.listen(ReceiptCounter, "after_insert", _seen)
        event.listen(ReceiptCounter, "after_update", _seen)
        event.listen(Session, "after_commit", _committed)
        event.listen(Session, "after_soft_rollback", _rolled_back)
        _tracking.append(True)


# --- carrying the numbers forward ------------------------------------------------------------------


def skipped_numbers(s: Session) -> dict[date, set[int]]:
    """Receipt numbers that were issued in data a restore replaced (never to be used again), by day."""
    row = s.get(SystemSetting, SKIPPED_KEY)
    out: dict[date, set[int]] = {}
    for entry in _entries(row.value if row is not None else ""):
        out.setdefault(date.fromisoformat(entry["day"]), set()).update(range(entry["first"], entry["last"] + 1))
    return out


def _entries(text: str) -> list[dict[str, Any]]:
    try:
        entries = json.loads(text) if text else []
    except ValueError:
        log.warning("%s cannot be read", SKIPPED_KEY)
        return []
    return [e for e in entries if isinstance(e, dict) and {"day", "first", "last"} <= e.keys()]


def carry_forward(s: Session, floor: Mapping[date, int], *, reason: str) -> dict[date, tuple[int, int]]:
    """Raise each day's receipt counter to at least ``floor[day]`` inside the caller's transaction; record
    and audit the numbers skipped so. Returns {day: (first skipped, last skipped)}."""
    if not floor:
        return {}
    rows = {r.business_date: r for r in s.scalars(select(ReceiptCounter)
                                                  .where(ReceiptCounter.business_date.in_(list(floor))))}
    skipped: dict[date, tuple[int, int]] = {}
    for day, top in sorted(floor.items()):
        row = rows.get(day)
        have = row.last_no if row is not None else 0
        if top <= have:
            continue
        if row is None:
            s.add(ReceiptCounter(business_date=day, last_no=top))
        else:
            row.last_no = top
        skipped[day] = (have + 1, top)
    if not skipped:
        return {}
    setting = s.get(SystemSetting, SKIPPED_KEY)
    entries = _entries(setting.value if setting is not None else "")
    at = clock.now().replace(microsecond=0).isoformat(sep=" ")
    entries += [{"day": d.isoformat(), "first": a, "last": b, "reason": reason, "at": at}
                for d, (a, b) in skipped.items()]
    if setting is None:
        s.add(SystemSetting(key=SKIPPED_KEY, value=json.dumps(entries)))
    else:
        setting.value = json.dumps(entries)
    s.flush()
    audit.record(s, None, "receipt.numbers.skipped", "receipt_counter", None, after={
        "reason": reason, "days": {d.isoformat(): f"{a}-{b}" for d, (a, b) in skipped.items()}})
    log.info("receipt counters carried forward (%s) on %d day(s)", reason, len(skipped))
    return skipped


def apply_mark(clinic: Clinic) -> dict[date, tuple[int, int]]:
    """On start: counters below the mark beside the database (it was replaced since) are raised past it."""
    path = clinic.path
    if path is None:
        return {}
    mark = read_mark(path)
    if not mark:
        return {}
    with clinic.read() as s:
        have = issued(s)
    if all(have.get(day, 0) >= top for day, top in mark.items()):
        return {}
    with clinic.write() as s:
        return carry_forward(s, mark, reason="mark")
