"""What a restore would lose (said before it is done)."""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from meike.backup.files import BUSY_TIMEOUT_S, BackupError, _ro_uri
from meike.db import Clinic
from meike.money import yuan
from meike.permissions import Actor

log = logging.getLogger(__name__)

# --- what a restore loses --------------------------------------------------------------------------


@dataclass(frozen=True)
class RestoreLosses:
    """What the current data holds and the backup does not: gone after the restore."""

    receipts: int = 0
    receipts_fen: int = 0  # what those receipts moved (signed: refunds count negative)
    first_receipt: str | None = None
    last_receipt: str | None = None
    customers: int = 0
    visits: int = 0
    day_closes: tuple[date, ...] = ()

    @property
    def nothing(self) -> bool:
        return not (self.receipts or self.customers or self.visits or self.day_closes)

    def lines(self) -> list[str]:
        """One Chinese line per kind of loss, for the confirmation."""
        out: list[str] = []
        if self.receipts:
            span = (self.first_receipt if self.receipts == 1 or self.first_receipt == self.last_receipt
                    else f"{self.first_receipt} 至 {self.last_receipt}")
            out.append(f"收据 {self.receipts} 张（{span}，金额合计 {yuan(self.receipts_fen)}）；"
                       "这些收据号以后不会再用")
        if self.customers:
            out.append(f"新登记的顾客 {self.customers} 位")
        if self.visits:
            out.append(f"到诊记录 {self.visits} 条")
        if self.day_closes:
            days = "、".join(f"{d:%Y-%m-%d}" for d in self.day_closes[:5])
            more = f" 等 {len(self.day_closes)} 天" if len(self.day_closes) > 5 else ""
            out.append(f"日结 {days}{more}")
        return out


def restore_losses(clinic: Clinic, actor: Actor, backup_path: Path) -> RestoreLosses:
    """Compare the current database with a backup (both read-only): the receipts, customers, visits and
    day closes that only the current data has (the administrator's restore confirmation lists them)."""
    actor.require_admin()
    path = clinic.path
    if path is None or not path.exists():
        return RestoreLosses()
    try:
        conn = sqlite3.connect(_ro_uri(path), uri=True, timeout=BUSY_TIMEOUT_S)
    except sqlite3.Error as e:
        raise BackupError(f"无法读取当前的数据库：{e}") from e
    try:
        conn.execute("ATTACH DATABASE ? AS b", (_ro_uri(Path(backup_path)),))
        mine = {r[0] for r in conn.execute("SELECT name FROM main.sqlite_master WHERE type = 'table'")}
        theirs = {r[0] for r in conn.execute("SELECT name FROM b.sqlite_master WHERE type = 'table'")}

        def only_here(table: str, column: str) -> str:
            kept = f"SELECT {column} FROM b.{table}" if table in theirs else "SELECT NULL WHERE 0"
            return f"FROM main.{table} WHERE {column} NOT IN ({kept})"

        receipts = (conn.execute("SELECT count(*), coalesce(sum(amount_fen), 0), min(receipt_no), max(receipt_no) "
                                 + only_here("receipts", "receipt_no")).fetchone()
                    if "receipts" in mine else (0, 0, None, None))
        customers = conn.execute("SELECT count(*) " + only_here("customers", "id")).fetchone()[0] \
            if "customers" in mine else 0
        visits = conn.execute("SELECT count(*) " + only_here("visits", "id")).fetchone()[0] if "visits" in mine else 0
        closes = [date.fromisoformat(str(r[0])[:10]) for r in conn.execute(
            "SELECT business_date " + only_here("day_closes", "business_date") + " ORDER BY business_date")] \
            if "day_closes" in mine else []
    except sqlite3.Error as e:
        raise BackupError(f"无法比较当前数据和备份：{e}") from e
    finally:
        conn.close()
    return RestoreLosses(int(receipts[0]), int(receipts[1]), receipts[2], receipts[3], int(customers), int(visits),
                         tuple(closes))
