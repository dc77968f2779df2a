"""Number probes: typing the first digits of mobiles to find out whose they are is limited and logged."""

from __future__ import annotations

import re
import threading
from datetime import datetime, timedelta

from meike import clock
from meike.db import Clinic
from meike.errors import ValidationError
from meike.permissions import Actor
from meike.rules.validation import (
    mask_number,
)
from meike.services import audit
from meike.services.customers.query import _may_see_numbers, _search_kind

# --- number probes --------------------------------------------------------------------------------

PROBE_WINDOW = timedelta(minutes=10)
PROBE_LIMIT = 20
_MOBILE_START = re.compile(r"1[3-9][0-9]{3,8}\Z")  # 5–10 digits: the first digits of a mobile


class _Probes:
    """The number probes of each user (per database) in the last ``PROBE_WINDOW``, kept in memory.

    A probe is a search for the first digits of a mobile (5–10 digits starting 13–19, whether or not
    they may match mobiles for this user) or for a whole mobile that found no one: the searches that
    rebuild a masked number. A user makes ``PROBE_LIMIT`` different ones in the window; further new
    ones are refused until the oldest fall out of it (the same text again is free: the grid counts and
    pages the same search), and the first refusal of a window is written to the audit log with the
    masked text, never the digits typed. Time from ``meike.clock``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, int], dict[str, datetime]] = {}
        self._reported: dict[tuple[str, int], datetime] = {}

    def _window(self, key: tuple[str, int], now: datetime) -> dict[str, datetime]:
        seen = self._seen.setdefault(key, {})
        for text in [t for t, at in seen.items() if at <= now - PROBE_WINDOW]:
            del seen[text]
        return seen

    def admit(self, key: tuple[str, int], text: str, *, count: bool, now: datetime) -> tuple[bool, int, bool]:
        """(allowed, probes in the window, report this refusal). ``count``: an allowed ``text`` is a
        probe now (a prefix); else it becomes one only if it finds nobody (``miss``)."""
        with self._lock:
            seen = self._window(key, now)
            if text in seen:
                return True, len(seen), False
            if len(seen) >= PROBE_LIMIT:
                last = self._reported.get(key)
                report = last is None or last <= now - PROBE_WINDOW
                if report:
                    self._reported[key] = now
                return False, len(seen), report
            if count:
                seen[text] = now
            return True, len(seen), False

    def miss(self, key: tuple[str, int], text: str, now: datetime) -> None:
        with self._lock:
            seen = self._window(key, now)
            if text not in seen:
                seen[text] = now

    def forget(self) -> None:
        with self._lock:
            self._seen.clear()
            self._reported.clear()


_PROBES = _Probes()
TOO_MANY_PROBES = "号码查询过于频繁：10 分钟内最多查询 20 个不同的号码或号码开头，请稍后再试（已记入操作日志）"


def forget_probes() -> None:
    """Clear the memory of number probes (the benchmark's thousands of lookups in a row)."""
    _PROBES.forget()


def _probe_of(found: tuple[str, dict[str, str]] | None) -> tuple[str, bool] | None:
    """(the digits, counted at once) when the search is a number probe: a mobile's first digits count
    at once, a whole mobile only when it finds nobody."""
    if found is None:
        return None
    kind, values = found
    if kind in ("digits", "card") and _MOBILE_START.match(values["card"]):
        return values["card"], True
    if kind == "mobile":
        return values["mobile"], False
    return None


def _probe_key(clinic: Clinic, actor: Actor) -> tuple[str, int]:
    return clinic.engine.url.render_as_string(hide_password=True), actor.user_id


def guard_search(clinic: Clinic, actor: Actor, text: str, *, field: str = "text") -> None:
    """Refuse a new number probe beyond the limit (ValidationError on ``field``, logged once a window).
    Every service that matches customers by typed digits calls it first."""
    actor.check_live()
    found = _search_kind(text, prefixes=_may_see_numbers(actor))
    _guard(clinic, actor, found, field)


def _guard(clinic: Clinic, actor: Actor, found: tuple[str, dict[str, str]] | None, field: str = "text") -> None:
    probe = _probe_of(found)
    if probe is None:
        return
    digits, count = probe
    allowed, probes, report = _PROBES.admit(_probe_key(clinic, actor), digits, count=count, now=clock.now())
    if allowed:
        return
    if report:
        with clinic.write() as s:
            audit.record(s, actor, "privacy.search_limited", "customer", None, after={
                "probes": probes, "minutes": int(PROBE_WINDOW.total_seconds() // 60),
                "typed": mask_number(digits)})
    raise ValidationError.single(field, TOO_MANY_PROBES)


def guard_number(clinic: Clinic, actor: Actor, number: str, *, field: str = "number") -> None:
    """A whole number looked up outside the search box (the caller card) by a user who may not see
    numbers: within the same budget of probes (ValidationError beyond it, logged). Call
    ``number_missed`` when it found nobody."""
    actor.check_live()
    if number and not _may_see_numbers(actor):
        _guard(clinic, actor, ("mobile", {"mobile": number}), field)


def number_missed(clinic: Clinic, actor: Actor, number: str) -> None:
    """``guard_number``'s number found nobody: it counts as a probe."""
    actor.check_live()
    if number and not _may_see_numbers(actor):
        _missed(clinic, actor, ("mobile", {"mobile": number}), 0)


def _missed(clinic: Clinic, actor: Actor, found: tuple[str, dict[str, str]] | None, hits: int) -> None:
    probe = _probe_of(found)
    if probe is not None and not probe[1] and hits == 0:
        _PROBES.miss(_probe_key(clinic, actor), probe[0], clock.now())
