"""Writing and reading the audit log (append-only).

Personal fields (``meike.privacy``) are masked twice: when a row is written (its before / after never
hold a customer's name, numbers, address or notes) and when rows are shown or exported (rows written
by an older version are never rewritten — the log is append-only and hash-chained — but are masked
on the way out, and the text filter matches only what is shown).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from meike import clock, excel
from meike.db import Clinic
from meike.errors import ValidationError
from meike.models import AuditEntry, AuditHead
from meike.permissions import Actor
from meike.privacy import MASK, mask_details
from meike.rules.text import search_text
from meike.services import audit_anchor, receipt_seal


def _dump(value: dict[str, Any] | None) -> str | None:
    if value is None:
        return None
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


GENESIS = "0" * 64


def chain_hash(prev_hash: str, entry_id: int, at: datetime, user_id: int | None, username: str, action: str,
               entity: str, entity_id: int | None, before: str | None, after: str | None) -> str:
    """SHA-256 over the previous row's hash and every field of this row (the chain's one definition)."""
    fields = [prev_hash, entry_id, at.isoformat(), user_id, username, action, entity, entity_id, before, after]
    return hashlib.sha256(json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode()).hexdigest()


def _head(session: Session) -> AuditHead:
    """The chain's end, locked for this transaction (SQLite: the write lock is already held)."""
    head = session.scalars(select(AuditHead).where(AuditHead.id == 1).with_for_update()).first()
    if head is None:
        head = AuditHead(id=1, last_id=0, last_hash=GENESIS)
        session.add(head)
    return head


def record(
    session: Session,
    actor: Actor | None,
    action: str,
    entity: str,
    entity_id: int | None,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    who: str | None = None,
) -> None:
    """Add an audit row inside the caller's transaction: it commits or rolls back with the change.

    The row takes the next id of the chain and hashes the previous row's hash with its own fields.
    ``who`` names the person when there is no actor (a failed login: the user name that was typed).
    Personal fields of ``before`` / ``after`` are masked here (``meike.privacy``): the log keeps ids
    and which fields changed, never a customer's name, numbers, address or notes.
    """
    if after is not None and action in receipt_seal.SEALED_ACTIONS and isinstance(after.get("receipt_no"), str):
        # the receipt's rows are flushed by the query: the seal is of what this transaction wrote
        after = {**after, "seal": receipt_seal.seal(session, after["receipt_no"])}
    before, after = mask_details(before, entity), mask_details(after, entity)
    head = _head(session)
    username = actor.username if actor else (who or "system")[:40]
    entry = AuditEntry(id=head.last_id + 1, at=clock.now(), user_id=actor.user_id if actor else None,
                       username=username, action=action, entity=entity,
                       entity_id=entity_id, before=_dump(before), after=_dump(after), prev_hash=head.last_hash)
    entry.row_hash = chain_hash(entry.prev_hash, entry.id, entry.at, entry.user_id, entry.username, entry.action,
                                entry.entity, entry.entity_id, entry.before, entry.after)
    session.add(entry)
    head.last_id, head.last_hash = entry.id, entry.row_hash
    audit_anchor.note_head(session, entry.id, entry.row_hash, action)  # this PC's anchor follows after the commit


@dataclass(frozen=True)
class ChainReport:
    """What the verifier found: ``problems`` (Chinese, with the row id) is empty when nothing was touched."""

    checked: int
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_chain(clinic: Clinic, actor: Actor | None = None, *, batch: int = 5_000) -> ChainReport:
    """Walk the whole log: a changed row, a deleted row, an inserted row or a cut-off end breaks it. Then
    the end against the anchors kept outside the database (this PC, every backup) and the triggers that
    guard the log (``audit_guard``): a tail cut off with its end moved, everything deleted, rows edited and
    re-hashed onward up to an anchor, a dropped or disabled trigger."""
    if actor is not None:
        actor.require_admin()
    problems: list[str] = []
    checked, expected_id, prev = 0, 1, GENESIS
    kept = audit_anchor.kept_anchor(clinic)  # before the moment read below: this PC may write meanwhile
    with clinic.read() as s:
        audit_anchor.one_moment(s)
        problems += audit_anchor.trigger_problems(s)
        head = s.get(AuditHead, 1)
        last = 0
        while len(problems) < 20:
            rows = s.execute(select(AuditEntry.id, AuditEntry.at, AuditEntry.user_id, AuditEntry.username,
                                    AuditEntry.action, AuditEntry.entity, AuditEntry.entity_id, AuditEntry.before,
                                    AuditEntry.after, AuditEntry.prev_hash, AuditEntry.row_hash)
                             .where(AuditEntry.id > last).order_by(AuditEntry.id).limit(batch)).all()
            if not rows:
                break
            for (entry_id, at, user_id, username, action, entity, entity_id, before, after, prev_hash,
                 row_hash) in rows:
                checked += 1
                last = entry_id
                if entry_id != expected_id:
                    problems.append(f"第 {expected_id}–{entry_id - 1} 条记录缺失（被删除）" if entry_id > expected_id
                                    else f"第 {entry_id} 条记录编号异常")
                if prev_hash != prev:
                    problems.append(f"第 {entry_id} 条记录与上一条接不上（前面的记录被改动、删除或插入）")
                if chain_hash(prev_hash, entry_id, at, user_id, username, action, entity, entity_id, before,
                              after) != row_hash:
                    problems.append(f"第 {entry_id} 条记录（{action}）的内容被改动过")
                prev, expected_id = row_hash, entry_id + 1
        if head is not None and (head.last_id != last or head.last_hash != prev) and len(problems) < 20:
            problems.append(f"日志末尾被截断：应有 {head.last_id} 条，实际最后一条是第 {last} 条")
        elif head is None:  # made with the log (migration 0008) and never removed
            problems.append("审计日志的链尾记录丢失")
        problems += audit_anchor.outside_problems(clinic, s, all_backups=True, kept=kept)
    return ChainReport(checked, problems)


def _shown(text: str | None, entity: str) -> Any:
    """A stored before / after as the administrator may see it: personal fields masked (also in rows
    written before they were masked on writing)."""
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return MASK
    return mask_details(value, entity)


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
                _shown(e.before, e.entity),
                _shown(e.after, e.entity),
            )
            for e in s.scalars(q)
        ]


def count(session: Session, *, action: str | None = None) -> int:
    q = select(func.count()).select_from(AuditEntry)
    if action:
        q = q.where(AuditEntry.action == action)
    return session.scalar(q) or 0


# --- the administrator's viewer: labels, filters, export ----------------------------------------

ACTION_LABELS = {
    "user.create": "新建账号", "user.update": "修改账号", "user.permissions": "修改权限",
    "user.disable": "停用账号", "user.enable": "启用账号", "user.password_reset": "重置密码",
    "user.password_change": "修改密码", "user.delete": "删除账号", "user.unlock": "解除锁定",
    "login.locked": "登录锁定", "login.failed": "登录失败", "login.ok": "登录", "clinic.initialise": "初始化诊所",
    "setting.change": "修改系统参数", "customer.create": "新建顾客", "customer.update": "修改顾客资料",
    "privacy.reveal": "查看完整号码", "privacy.search_limited": "号码查询过于频繁（已拦截）",
    "customer.duplicate_mobile": "登记了无权查看的顾客的手机号",
    "appointment.create": "预约", "appointment.update": "改约",
    "appointment.cancel": "取消预约", "order.create": "开单", "order.price_approved": "低于最低价审批",
    "order.settle": "结单收款", "order.collect": "收欠款", "order.cancel": "消单", "order.void": "退单",
    "order.refund": "项目退款", "order.package_refund": "疗程退款", "order.reprice": "改价（多退少补）",
    "order.invoice": "登记发票", "order.merge": "合并收费", "order.shares": "业绩分配",
    "promotion.create": "设置促销", "promotion.stop": "停止促销", "receipt.print": "打印收据",
    "receipt.reprint": "重印收据", "label.print": "打印到店条码", "day.close": "日结", "day.business_date": "修改营业日期",
    "account.deposit": "收定金", "account.prepaid": "预存", "account.inpatient": "住院押金",
    "account.coupon": "售券", "account.refund": "余额退款", "account.discharge": "出院退款",
    "session.lock": "自动锁屏", "session.unlock": "解锁", "audit.export": "导出操作日志", "audit.verify": "校验操作日志", "backup.manual": "手动备份",
    "backup.restore": "恢复备份", "backup.failed": "备份失败", "sms.batch": "群发短信",
    "audit.anchor_mismatch": "日志与本机或备份的记录不符", "audit.anchor_accept": "接受当前日志为基准",
}

# Categories of the viewer's filter: action prefixes (an exact action or "prefix.").
CATEGORIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "login": ("登录", ("login.",)),
    "permission": ("账号与权限", ("user.", "clinic.initialise")),
    "price": ("价格", ("order.price_approved", "order.reprice", "promotion.", "item.")),
    "refund": ("退款", ("order.refund", "order.package_refund", "account.refund", "account.discharge")),
    "void": ("退单", ("order.void",)),
    "print": ("打印与重印", ("receipt.", "label.")),
    "export": ("导出", ("audit.export", "sms.batch", "customer.export")),
    "dayclose": ("日结与营业日期", ("day.",)),
    "reveal": ("查看完整号码与号码查询", ("privacy.", "customer.duplicate_mobile")),
}


def action_label(action: str) -> str:
    if action in ACTION_LABELS:
        return ACTION_LABELS[action]
    kind, _, verb = action.rpartition(".")
    return {"create": f"新建{kind}", "update": f"修改{kind}", "delete": f"删除{kind}"}.get(verb, action)


@dataclass(frozen=True)
class AuditFilter:
    start: date | None = None
    end: date | None = None  # included
    username: str = ""
    category: str = ""  # a key of CATEGORIES, "" = all
    text: str = ""  # in the values before / after

    def where(self) -> list[ColumnElement[bool]]:
        clauses: list[ColumnElement[bool]] = []
        if self.start is not None:
            clauses.append(AuditEntry.at >= datetime.combine(self.start, time.min))
        if self.end is not None:
            clauses.append(AuditEntry.at < datetime.combine(self.end + timedelta(days=1), time.min))
        if self.username.strip():
            clauses.append(AuditEntry.username == search_text(self.username, field="username", limit=64))
        if self.category:
            if self.category not in CATEGORIES:
                raise ValidationError.single("category", "请选择操作类别")
            prefixes = CATEGORIES[self.category][1]
            clauses.append(or_(*[AuditEntry.action.startswith(p, autoescape=True) if p.endswith(".")
                                 else AuditEntry.action == p for p in prefixes]))
        if self.text.strip():
            needle = search_text(self.text, field="text")
            clauses.append(or_(AuditEntry.before.contains(needle, autoescape=True),
                               AuditEntry.after.contains(needle, autoescape=True)))
        return clauses


@dataclass(frozen=True)
class AuditLine:
    id: int
    at: datetime
    username: str
    action: str
    label: str
    target: str
    detail: str


def _line(e: AuditEntry) -> AuditLine:
    """A row as shown and exported: its details with the personal fields masked."""
    before, after = _dump(_shown(e.before, e.entity)), _dump(_shown(e.after, e.entity))
    detail = f"{before or ''} → {after or ''}" if before else (after or "")
    target = f"{e.entity} #{e.entity_id}" if e.entity_id else e.entity
    return AuditLine(e.id, e.at, e.username, e.action, action_label(e.action), target, detail)


def _lines(s: Session, flt: AuditFilter, *, newest_first: bool) -> Iterator[AuditLine]:
    """Every matching row. The text filter runs on the stored text in the database (a quick first cut)
    and then on the masked details: a word found only in a masked field does not match."""
    order = AuditEntry.id.desc() if newest_first else AuditEntry.id
    q = select(AuditEntry).where(*flt.where()).order_by(order).execution_options(yield_per=2_000)
    needle = flt.text.strip()
    for e in s.scalars(q):
        line = _line(e)
        if not needle or needle in line.detail:
            yield line


def search(clinic: Clinic, actor: Actor, flt: AuditFilter, *, offset: int = 0, limit: int = 500) -> list[AuditLine]:
    """The administrator's viewer: newest first, filtered."""
    actor.require_admin()
    with clinic.read() as s:
        if not flt.text.strip():
            q = select(AuditEntry).where(*flt.where()).order_by(AuditEntry.id.desc()).offset(offset).limit(limit)
            return [_line(e) for e in s.scalars(q)]
        lines: list[AuditLine] = []
        for n, line in enumerate(_lines(s, flt, newest_first=True)):
            if n >= offset + limit:
                break
            if n >= offset:
                lines.append(line)
        return lines


def count_matching(clinic: Clinic, actor: Actor, flt: AuditFilter) -> int:
    actor.require_admin()
    with clinic.read() as s:
        if not flt.text.strip():
            return s.scalar(select(func.count()).select_from(AuditEntry).where(*flt.where())) or 0
        return sum(1 for _line in _lines(s, flt, newest_first=True))


def export_xlsx(clinic: Clinic, actor: Actor, flt: AuditFilter, path: Path) -> int:
    """Write the filtered log to an Excel file (the export itself is logged). Returns the rows written.
    The details are masked as on screen; every text is written as text (``meike.excel``)."""
    from openpyxl import Workbook

    actor.require_admin()
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("操作日志")
    excel.append_row(sheet, ["编号", "时间", "操作人", "操作", "对象", "内容"])
    written = 0
    with clinic.read() as s:
        for line in _lines(s, flt, newest_first=False):  # personal fields masked, typed text kept as text
            excel.append_row(sheet, [line.id, line.at, line.username, line.label, line.target, line.detail])
            written += 1
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    workbook.save(partial)
    partial.replace(path)
    with clinic.write() as s:
        record(s, actor, "audit.export", "audit_log", None, after={
            "rows": written, "file": path.name, "start": flt.start, "end": flt.end, "username": flt.username,
            "category": flt.category, "text": flt.text})
    return written
