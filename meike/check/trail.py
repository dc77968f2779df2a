"""The books against the audit log: receipts and closes against the rows written with them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from meike.check.common import show
from meike.check.report import CheckReport
from meike.models import (
    AuditEntry,
    DayClose,
    Receipt,
)
from meike.money import yuan
from meike.services import audit, receipt_seal

# --- the books against the audit log ---------------------------------------------------------------

_MONEY_ACTIONS = receipt_seal.MONEY_ACTIONS


def _audited_amount(action: str, after: dict[str, Any]) -> int | None:
    tenders = after.get("tenders")
    if isinstance(tenders, list):  # the receipt's own tender rows, signed
        return sum(int(t.get("amount_fen", 0)) for t in tenders if isinstance(t, dict))
    key = _MONEY_ACTIONS[action]
    value = after.get(key.lstrip("-"))
    if not isinstance(value, int):
        return None
    return -value if key.startswith("-") else value


@dataclass
class _Audited:
    entry_id: int
    action: str
    at: datetime
    user_id: int | None
    amount: int | None
    seal: str | None = None  # receipt_seal: everything the receipt moved, as written (rows since issue 14)


def audit_cross_check(s: Session, report: CheckReport) -> None:
    """Receipts and closed days against the audit rows written in the same transactions."""
    receipts: dict[str, _Audited] = {}
    voided: set[str] = set()
    closes: dict[str, tuple[int, dict[str, Any]]] = {}
    rows = s.execute(select(AuditEntry.id, AuditEntry.action, AuditEntry.at, AuditEntry.user_id, AuditEntry.after)
                     .where(AuditEntry.action.in_([*_MONEY_ACTIONS, "day.close"]))
                     .order_by(AuditEntry.id).execution_options(yield_per=5_000))
    for entry_id, action, at, user_id, text in rows:
        try:
            after = json.loads(text or "{}")
        except ValueError:
            continue  # an edited row: the chain check reports it
        if not isinstance(after, dict):
            continue
        if action == "day.close":
            closes[str(after.get("business_date"))] = (entry_id, after)
            continue
        number = after.get("receipt_no")
        if isinstance(number, str):
            seal = after.get("seal")
            receipts[number] = _Audited(entry_id, action, at, user_id, _audited_amount(action, after),
                                        seal if isinstance(seal, str) else None)
        if action == "order.void" and isinstance(after.get("voided_receipts"), list):
            voided.update(str(n) for n in after["voided_receipts"])
    details: list[str] = []
    sealed = {number: seen.seal for number, seen in receipts.items() if seen.seal is not None}
    if sealed:
        for number, now in receipt_seal.all_seals(s):
            kept = sealed.pop(number, None)
            if kept is not None and kept != now:
                seen = receipts[number]
                details.append(f"收据 {number}：顾客、收款方式、账户、金额或业绩与操作日志第 {seen.entry_id} 条"
                               f"（{audit.action_label(seen.action)}，{seen.at:%Y-%m-%d %H:%M}）记下的不符（写入后被改动）")
    for number, amount, cashier_id, status, kind in s.execute(
            select(Receipt.receipt_no, Receipt.amount_fen, Receipt.cashier_id, Receipt.status, Receipt.kind)
            .order_by(Receipt.business_date, Receipt.receipt_no).execution_options(yield_per=20_000)):
        found = receipts.pop(number, None)
        if found is None:
            details.append(f"收据 {number}（{kind}，{yuan(amount)}）：操作日志中没有写入它的记录（不是收费程序写入的？）")
            continue
        seen = found
        if seen.user_id != cashier_id:
            details.append(f"收据 {number}：收款人与操作日志第 {seen.entry_id} 条不符")
        if seen.amount is not None and seen.amount != amount:
            details.append(f"收据 {number}：金额 {yuan(amount)}，操作日志第 {seen.entry_id} 条记为 {yuan(seen.amount)}")
        if (status == "voided") != (number in voided):
            details.append(f"收据 {number}：{'已作废' if status == 'voided' else '有效'}，与操作日志的退单记录不符")
    for number, seen in sorted(receipts.items(), key=lambda kv: kv[1].entry_id):
        details.append(f"收据 {number}：操作日志第 {seen.entry_id} 条（{audit.action_label(seen.action)}，"
                       f"{seen.at:%Y-%m-%d %H:%M}）写入了它，但收据不存在（被删除？）")
    report.add("receipt_audit", details)

    details = []
    for close in s.scalars(select(DayClose).order_by(DayClose.business_date)):
        day = close.business_date.isoformat()
        logged = closes.pop(day, None)
        if logged is None:
            details.append(f"{day}：日结记录在操作日志中没有对应的日结操作（不是收费程序写入的？）")
            continue
        entry_id, after = logged
        stored = {"expected_cash_fen": close.expected_cash_fen, "counted_cash_fen": close.counted_cash_fen}
        wrong = [k for k, v in stored.items() if after.get(k) != v]
        if wrong:
            details.append(f"{day}：日结记录的应有 / 清点现金与操作日志第 {entry_id} 条不符")
    for day, (entry_id, after) in sorted(closes.items()):
        details.append(f"{day}：操作日志第 {entry_id} 条记录了这天的日结（应有现金 {show(yuan, after.get('expected_cash_fen'))}），"
                       "但日结记录不存在（被删除？），这一天现在又能收款")
    report.add("day_close_audit", details)
