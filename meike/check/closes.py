"""Closed days 日结: each stored report against the report recomputed from the rows."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from meike.check.common import show
from meike.check.report import CheckReport
from meike.models import (
    DayClose,
    Department,
    PaymentMethod,
    User,
)
from meike.money import yuan
from meike.services.dayclose import DayReport, report_in

# Figures of a day's report that are numbers and numbers of receipts: report key → label, how shown.
_SCALARS: dict[str, tuple[str, Callable[[Any], str]]] = {
    "receipts": ("收据张数", str),
    "first_receipt_no": ("首张收据", str),
    "last_receipt_no": ("末张收据", str),
    "expected_cash_fen": ("应有现金", yuan),
    "received_fen": ("实收", yuan),
}
# The figures by name (stored) and by id (stored since issue 14/15): id kind → report key, label.
_GROUPS = {"method": ("by_method", "支付方式"), "cashier": ("by_cashier", "收银员"), "department": ("by_department", "科室")}


def _amounts(value: object) -> dict[str, int]:
    """A stored ``{name: amount}`` (a report of the close), read defensively."""
    if not isinstance(value, dict):
        raise ValueError("not an object")
    return {str(k): int(v) for k, v in value.items()}


def _names(s: Session) -> dict[str, dict[str, str]]:
    """The current names of payment methods, cashiers and departments, by id (as the reports key them)."""
    return {
        "method": {str(i): n for i, n in s.execute(select(PaymentMethod.id, PaymentMethod.name))},
        "cashier": {str(i): d or u for i, d, u in s.execute(select(User.id, User.display_name, User.username))},
        "department": {"": "未分科室", **{str(i): n for i, n in s.execute(select(Department.id, Department.name))}},
    }


def _by_name(label: str, stored: dict[str, int], now: dict[str, int], current: set[str]) -> list[str]:
    """A close stored before the ids were kept: each name compared, except names that are no longer in use
    (renamed since): the money of those is compared together with the names that have appeared since."""
    changed = []
    before_pool = after_pool = 0
    for name in sorted(set(stored) | set(now)):
        if name in stored and name not in current:
            before_pool += stored[name]
            after_pool += now.get(name, 0)
        elif name not in stored:
            after_pool += now[name]
        elif stored[name] != now.get(name, 0):
            changed.append(f"{label} {name} 日结时 {yuan(stored[name])}，现在 {yuan(now.get(name, 0))}")
    if before_pool != after_pool:
        changed.append(f"{label}（改过名或新出现的）日结时 {yuan(before_pool)}，现在 {yuan(after_pool)}")
    return changed


def _compare_day(stored: dict[str, Any], now: DayReport, names: dict[str, dict[str, str]]) -> list[str]:
    """Every figure of a stored day report against the same report recomputed now."""
    changed = []
    for key, (label, how) in _SCALARS.items():
        if key in stored and stored[key] != getattr(now, key):
            changed.append(f"{label} 日结时 {show(how, stored[key])}，现在 {how(getattr(now, key))}")
    accounts = _amounts(stored.get("by_account", {}))
    for name in sorted(set(accounts) | set(now.by_account)):
        if accounts.get(name, 0) != now.by_account.get(name, 0):
            changed.append(f"账户 {name} 日结时 {yuan(accounts.get(name, 0))}，现在 {yuan(now.by_account.get(name, 0))}")
    by_id = stored.get("by_id")
    for kind, (key, label) in _GROUPS.items():
        if isinstance(by_id, dict) and kind in by_id:
            before, after = _amounts(by_id[kind]), now.by_id.get(kind, {})
            for k in sorted(set(before) | set(after)):
                if before.get(k, 0) != after.get(k, 0):
                    name = names[kind].get(k, f"#{k}")
                    changed.append(f"{label} {name} 日结时 {yuan(before.get(k, 0))}，现在 {yuan(after.get(k, 0))}")
        elif key in stored:
            current = set(names[kind].values())
            changed += _by_name(label, _amounts(stored[key]), getattr(now, key), current)
    return changed


def day_closes(s: Session, report: CheckReport) -> None:
    details = []
    names = _names(s)
    for close in s.scalars(select(DayClose).order_by(DayClose.business_date)):
        day = close.business_date
        try:
            stored = json.loads(close.summary)
            if not isinstance(stored, dict):
                raise ValueError("not an object")
            now = report_in(s, day)
            kept = stored.get("expected_cash_fen")
            if close.expected_cash_fen != kept:
                details.append(f"{day:%Y-%m-%d}：应有现金记为 {yuan(close.expected_cash_fen)}，"
                               f"日结报表为 {show(yuan, kept)}")
            changed = _compare_day(stored, now, names)
        except (ValueError, TypeError, AttributeError) as e:
            details.append(f"{day:%Y-%m-%d}：保存的日结报表无法读取（{e}）")
            continue
        if changed:
            details.append(f"{day:%Y-%m-%d}：" + "；".join(changed))
    report.add("day_close", details)
