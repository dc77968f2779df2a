"""A large synthetic clinic, generated once and cached under bench/cache/."""

from __future__ import annotations

import random
import sqlite3
import time
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from meike import demo
from meike.db import Clinic, sqlite_url
from meike.db.migrate import upgrade
from meike.models import Customer
from meike.rules.pinyin import initials

CACHE = Path(__file__).resolve().parent / "cache"
BATCH = 50_000


def _initials_of(chars: str) -> dict[str, str]:
    return {ch: initials(ch) for ch in set(chars)}


def build(customers: int, *, seed: int = 7) -> Path:
    """Return the cached database with ``customers`` customers (demo dictionaries and accounts)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"clinic-{customers}.sqlite3"
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

        from meike.models import Channel, Department, Staff, User

        users = [(u.id, u.department_id) for u in s.scalars(select(User).where(User.is_admin.is_(False)))]
        staff = list(s.scalars(select(Staff.id)))
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
