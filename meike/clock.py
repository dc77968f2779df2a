"""The clinic's clock: local wall time of the clinic's time zone, injectable in tests."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

CLINIC_TZ = ZoneInfo("Asia/Shanghai")


def now() -> datetime:
    """Current local time of the clinic, naive (stored as is; the clinic lives in one zone)."""
    return datetime.now(CLINIC_TZ).replace(tzinfo=None, microsecond=0)
