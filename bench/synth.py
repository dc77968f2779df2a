"""A large synthetic clinic, generated once and cached under bench/cache/."""

from __future__ import annotations

import random
import sqlite3
import time
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from meike import demo
from meike.clinic_setup import upgrade, wire
from meike.db import Clinic, sqlite_url
from meike.models import Customer, Reminder, Visit
from meike.rules.pinyin import initials

CACHE = Path(__file__).resolve().parent / "cache"
BATCH = 50_000


def _initials_of(chars: str) -> dict[str, str]:
    return {ch: initials(ch) for ch in set(chars)}


def migrate_cache(clinic: Clinic) -> None:
    """Bring a cached database to the newest schema in place (no backup copy: it is generated data), wired
    as the program wires a clinic it opens (``clinic_setup.wire``: the receipt-number mark, the backups)."""
    from meike.db import migrate

    wire()
    migrate.upgrade_schema(clinic)


VERSION = 2  # bump when the generated data changes shape


def build(customers: int, *, seed: int = 7) -> Path:
    """The cached database: ``customers`` customers, 3 visits and 2 reminders per customer on average."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"clinic-v{VERSION}-{customers}.sqlite3"
    if path.exists():
        return path
    tmp = path.with_suffix(".partial")
    for leftover in CACHE.glob(tmp.name + "*"):
        leftover.unlink()
    started = time.perf_counter()
    clinic = Clinic.open(sqlite_url(tmp))
    upgrade(clinic)
    demo.build(clinic, customers=0)
    with clinic.read() as s:
        from sqlalchemy import select

        from meike.models import Channel, Department, Staff, StaffRole, User

        users = [(u.id, u.department_id) for u in s.scalars(select(User).where(User.is_admin.is_(False)))]
        staff = list(s.scalars(select(Staff.id).join(StaffRole).where(StaffRole.role == "onsite_consultant")))
        channels = list(s.scalars(select(Channel.id)))
        departments = list(s.scalars(select(Department.id)))
    key = _initials_of(demo.SURNAMES + demo.GIVEN)
    rng = random.Random(seed)
    start = datetime(2020, 1, 1)
    used: set[str] = set()
    written = 0
    while written < customers:
        rows = []
        for i in range(written, min(customers, written + BATCH)):
            name = demo.random_name(rng)
            mobile = demo.random_mobile(rng)
            while mobile in used:
                mobile = demo.random_mobile(rng)
            used.add(mobile)
            created = start + timedelta(minutes=i * 3)
            user_id, _ = rng.choice(users)
            rows.append({
                "card_no": f"C{i:08d}", "name": name, "name_initials": "".join(key[c] for c in name),
                "gender": "F", "mobile": mobile, "mobile_last4": mobile[-4:],
                "department_id": rng.choice(departments), "registered_by_id": user_id,
                "cs_staff_id": rng.choice(staff), "consultant_id": rng.choice(staff),
                "channel_id": rng.choice(channels), "info_source_id": None, "member_level_id": None,
                "notes": "", "created_at": created,
            })
        with clinic.write() as s:
            s.execute(insert(Customer), rows)
            _visits_and_reminders(s, rng, written + 1, written + len(rows), staff, users, start)
        written += len(rows)
    clinic.dispose()
    con = sqlite3.connect(tmp)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.execute("ANALYZE")
    con.close()
    for suffix in ("-wal", "-shm"):
        Path(str(tmp) + suffix).unlink(missing_ok=True)
    tmp.rename(path)
    print(f"generated {customers:,} customers in {time.perf_counter() - started:.0f} s → {path}")
    return path


def _visits_and_reminders(s: object, rng: random.Random, first_id: int, last_id: int, consultants: list[int],
                          users: list[tuple[int, int | None]], start: datetime) -> None:
    """3 visits and 2 reminders per customer on average, spread over the years up to today."""
    from meike import clock

    today = clock.now()
    span = (today - start).days
    visits, reminders = [], []
    for cid in range(first_id, last_id + 1):
        for _ in range(rng.choice((1, 2, 3, 4, 5))):
            day = start + timedelta(days=rng.randrange(span + 1), hours=9 + rng.randrange(9))
            visits.append({"customer_id": cid, "appointment_id": None, "arrived_at": day,
                           "business_date": day.date(), "visit_type": rng.choice(("first", "revisit", "repeat")),
                           "consultant_id": rng.choice(consultants), "status": "active",
                           "is_deal": rng.random() < 0.4, "reject_reason": "", "created_by_id": None})
        for _ in range(rng.choice((0, 1, 2, 3, 4))):
            due = (today - timedelta(days=rng.randrange(-30, 700))).date()
            done = due < today.date() - timedelta(days=3) and rng.random() < 0.9
            reminders.append({"customer_id": cid, "kind": rng.choice(("chase", "postop")), "due_date": due,
                              "assignee_id": rng.choice(users)[0], "note": "", "consultation_id": None,
                              "treatment_id": None, "status": "done" if done else "open", "result": "",
                              "done_at": None, "done_by_id": None, "created_by_id": None, "created_at": start})
    s.execute(insert(Visit), visits)  # type: ignore[attr-defined]
    s.execute(insert(Reminder), reminders)  # type: ignore[attr-defined]
