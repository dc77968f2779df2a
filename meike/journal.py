"""Money calls in flight on this PC: written down before the call, cleared after, offered again after a crash.

A payment's idempotency key lives in its open dialog: a crash (a power cut, a killed program) between the
cashier's click and the answer loses it, and a new dialog would take the money again under a new key. So
before each money call this PC writes the operation down — its key, what it is, the customer and order
ids, the amounts and payment method ids, never a name, number or note — in ``pending-money/`` of the data
folder (fsynced; the file is the owner's only), and removes it once the call has answered: done, or
refused (nothing was written). A call that ended any other way (the program died, the connection broke
during the commit) stays. At the next login of a user with the cashier page the pending ones are offered
(``ui/cashier/pending.py``, "上次收款未确认"): 重试 sends the same call with the same key, so a
payment that had gone through returns its first receipt and moves nothing more; 放弃 forgets it.

Refunds, voids and price changes need a supervisor's password and a reason (personal text, not kept
here): for those 重试 only finds out whether the first call went through (its receipt) — if it did not,
nothing was paid out and the cashier does it again.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

from meike import clock, paths
from meike.db import Clinic
from meike.errors import MeikeError, NotFound, PermissionDenied, StorageError
from meike.permissions import Actor, Page
from meike.services.ledger import ReceiptResult, Tender

log = logging.getLogger(__name__)

FOLDER = "pending-money"
VERSION = 1
T = TypeVar("T")

LABELS = {
    "pay": "收款", "top_up": "账户收款", "sell_coupon": "购券", "refund_balance": "余额退款",
    "void": "退单", "refund_line": "项目退款", "refund_package": "疗程退款", "reprice_line": "改价",
}
ACCOUNT_TITLES = {"deposit": "交定金", "prepaid": "预存", "inpatient": "住院押金"}
RETRIED = ("pay", "top_up", "sell_coupon")  # sent again as they were; the others are looked up only


class JournalError(MeikeError):
    """This PC could not write down the money call: it was not sent."""


@dataclass(frozen=True)
class Pending:
    """One money call written down before it was sent."""

    key: str
    op: str  # a key of LABELS
    database: str
    user_id: int
    at: str  # clinic time, ISO
    customer_id: int | None = None
    order_id: int | None = None
    amount_fen: int = 0
    params: dict[str, Any] = field(default_factory=dict)  # ids and amounts only

    @property
    def label(self) -> str:
        if self.op == "top_up":
            return ACCOUNT_TITLES.get(str(self.params.get("account")), LABELS["top_up"])
        return LABELS.get(self.op, self.op)

    @property
    def retried(self) -> bool:
        return self.op in RETRIED


def folder() -> Path:
    path = paths.data_dir() / FOLDER
    if not path.is_dir():
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def database_of(clinic: Clinic) -> str:
    from meike.services.audit_guard import database_key

    return database_key(clinic.engine.url)


def _file(entry_key: str) -> Path:
    safe = re.sub(r"[^0-9A-Za-z_-]", "_", entry_key)[:80]
    return folder() / f"{safe}.json"


def _fsync_dir(path: Path) -> None:
    if os.name != "posix":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write(entry: Pending) -> None:
    """Write ``entry`` down, durably (file and folder fsynced) before the call is sent."""
    target = _file(entry.key)
    data = json.dumps({"version": VERSION, **asdict(entry)}, ensure_ascii=False).encode("utf-8")
    fd, tmp = tempfile.mkstemp(prefix=".pending-", suffix=".tmp", dir=target.parent)  # 0600
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(target.parent)


def clear(key: str) -> None:
    """Forget a call that has answered (or that the cashier gave up). Never raises: logged."""
    try:
        _file(key).unlink(missing_ok=True)
        _fsync_dir(folder())
    except OSError:
        log.warning("could not remove a finished money call from this PC's journal", exc_info=True)


def pending(clinic: Clinic) -> list[Pending]:
    """The calls written down on this PC for this database and not cleared, oldest first."""
    database = database_of(clinic)
    out = []
    for path in sorted(folder().glob("*.json")):
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            raw.pop("version", None)
            entry = Pending(**raw)
        except (OSError, ValueError, TypeError):
            log.warning("an unreadable entry in this PC's money journal was skipped (%s)", path.name)
            continue
        if entry.database == database:
            out.append(entry)
    return sorted(out, key=lambda e: e.at)


def run(clinic: Clinic, entry: Pending, call: Callable[[], T], *, keep_refused: bool = False) -> T:
    """Write ``entry`` down, send ``call``, clear the entry once the call has answered.

    A refusal (a message for the cashier) wrote nothing, so the entry goes too — the cashier sees it in
    the dialog that is still open — except for a retry after a crash (``keep_refused``): there the money
    may be in the drawer with no dialog left, so a refusal (another cashier's scope, a changed account, a
    supervisor needed) keeps it until a cashier who can completes it or 放弃 it. Anything else — a lost
    connection, a full disk, the program dying — leaves it for the next login (the same dialog may also
    send it again with the same key, which rewrites it)."""
    try:
        write(entry)
    except OSError as e:
        raise JournalError(f"无法在本机记录这笔收款（{e.strerror or e}），收款没有办理。请检查数据文件夹 "
                           f"{folder()} 是否可写、磁盘是否已满") from e
    try:
        result = call()
    except MeikeError as e:
        if not keep_refused and not isinstance(e, StorageError):
            clear(entry.key)
        raise
    clear(entry.key)
    return result


def _tenders(tenders: Sequence[Tender]) -> list[list[int | None]]:
    return [[t.payment_method_id, t.amount_fen, t.coupon_id] for t in tenders]


def _back(raw: object) -> list[Tender]:
    return [Tender(m, a, c) for m, a, c in raw] if isinstance(raw, list) else []  # type: ignore[misc]


def _sum(tenders: Sequence[Tender]) -> int:
    return sum(t.amount_fen for t in tenders if isinstance(t.amount_fen, int))


def entry(clinic: Clinic, actor: Actor, op: str, key: str, *, customer_id: int | None = None,
          order_id: int | None = None, amount_fen: int = 0, **params: Any) -> Pending:
    return Pending(key, op, database_of(clinic), actor.user_id, clock.now().isoformat(timespec="seconds"),
                   customer_id, order_id, amount_fen, params)


# --- the money calls, written down ------------------------------------------------------------------------


def pay(clinic: Clinic, actor: Actor, order_id: int, tenders: Sequence[Tender], *, idempotency_key: str,
        allow_arrears: bool = False, expected_version: int | None = None, customer_id: int | None = None) -> Any:
    from meike.services import cashier

    e = entry(clinic, actor, "pay", idempotency_key, customer_id=customer_id, order_id=order_id,
              amount_fen=_sum(tenders), tenders=_tenders(tenders), allow_arrears=allow_arrears,
              expected_version=expected_version)
    return run(clinic, e, lambda: cashier.pay(clinic, actor, order_id, tenders, idempotency_key=idempotency_key,
                                              allow_arrears=allow_arrears, expected_version=expected_version))


def top_up(clinic: Clinic, actor: Actor, customer_id: int | None, *, account: str, tenders: Sequence[Tender],
           idempotency_key: str, **more: Any) -> ReceiptResult:
    from meike.services import ledger

    kept = {k: more.get(k) for k in ("staff_id", "department_id", "inpatient_no")}
    e = entry(clinic, actor, "top_up", idempotency_key, customer_id=customer_id, amount_fen=_sum(tenders),
              account=account, tenders=_tenders(tenders), **kept)
    return run(clinic, e, lambda: ledger.top_up(clinic, actor, customer_id, account=account, tenders=tenders,
                                                idempotency_key=idempotency_key, **more))


def sell_coupon(clinic: Clinic, actor: Actor, customer_id: int | None, *, name: str, face_value_fen: int,
                valid_until: date, tenders: Sequence[Tender], idempotency_key: str, **more: Any) -> ReceiptResult:
    from meike.services import ledger

    e = entry(clinic, actor, "sell_coupon", idempotency_key, customer_id=customer_id, amount_fen=_sum(tenders),
              name=name, face_value_fen=face_value_fen, valid_until=valid_until.isoformat(),
              tenders=_tenders(tenders))
    return run(clinic, e, lambda: ledger.sell_coupon(
        clinic, actor, customer_id, name=name, face_value_fen=face_value_fen, valid_until=valid_until,
        tenders=tenders, idempotency_key=idempotency_key, **more))


def guarded(clinic: Clinic, actor: Actor, op: str, idempotency_key: str, call: Callable[[], T], *,
            customer_id: int | None = None, order_id: int | None = None, tenders: Sequence[Tender] = (),
            **ids: Any) -> T:
    """A supervisor's money call (refund, void, price change): written down the same way (its reason is
    not); after a crash it is looked up, never sent again."""
    e = entry(clinic, actor, op, idempotency_key, customer_id=customer_id, order_id=order_id,
              amount_fen=_sum(tenders), tenders=_tenders(tenders), **ids)
    return run(clinic, e, call)


# --- after a crash -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    receipt_no: str | None  # None: the call had not gone through (and was not sent again)
    receipt_id: int | None = None
    amount_fen: int = 0
    sent_again: bool = False  # the retry did it now (it had not gone through before)


def retry(clinic: Clinic, actor: Actor, entry: Pending) -> Outcome:
    """重试: the same call with the same key (payments, top-ups, coupon sales) — its first receipt if it had
    gone through, else done now; a supervisor's call is only looked up. Cleared when done or found; a
    refusal keeps it (``run``'s ``keep_refused``)."""
    from meike.services import cashier, ledger

    actor.require_page(Page.CASHIER)
    before = ledger.receipt_for_key(clinic, actor, entry.key)
    if before is not None or not entry.retried:
        clear(entry.key)
        if before is None:
            return Outcome(None)
        return Outcome(before.receipt_no, before.receipt_id, before.amount_fen)
    p = entry.params
    if entry.op == "pay":
        assert entry.order_id is not None
        result: Any = run(clinic, entry, keep_refused=True, call=lambda: cashier.pay(
            clinic, actor, entry.order_id, _back(p.get("tenders")), idempotency_key=entry.key,  # type: ignore[arg-type]
            allow_arrears=bool(p.get("allow_arrears")), expected_version=p.get("expected_version")))
        return Outcome(result.receipt_no, result.receipt_id, result.paid_fen, not result.replayed)
    if entry.op == "top_up":
        result = run(clinic, entry, keep_refused=True, call=lambda: ledger.top_up(
            clinic, actor, entry.customer_id, account=str(p.get("account")), tenders=_back(p.get("tenders")),
            idempotency_key=entry.key, staff_id=p.get("staff_id"), department_id=p.get("department_id"),
            inpatient_no=str(p.get("inpatient_no") or "")))
    else:
        result = run(clinic, entry, keep_refused=True, call=lambda: ledger.sell_coupon(
            clinic, actor, entry.customer_id, name=str(p.get("name")), face_value_fen=int(p.get("face_value_fen", 0)),
            valid_until=date.fromisoformat(str(p.get("valid_until"))), tenders=_back(p.get("tenders")),
            idempotency_key=entry.key))
    return Outcome(result.receipt_no, result.receipt_id, result.amount_fen, not result.replayed)


def describe(clinic: Clinic, actor: Actor, entry: Pending) -> str:
    """What the call was, for the cashier: when, who, what, for whom, how much and through what."""
    from sqlalchemy import select

    from meike.models import Order, PaymentMethod, User
    from meike.money import yuan
    from meike.services.customers import load_in_scope

    with clinic.read() as s:
        who = s.scalar(select(User.username).where(User.id == entry.user_id)) or f"#{entry.user_id}"
        customer_id = entry.customer_id
        order_no = ""
        if entry.order_id is not None:
            order = s.get(Order, entry.order_id)
            if order is not None:
                customer_id = customer_id or order.customer_id
                order_no = order.receipt_no or f"#{order.id}"
        person = ""
        if customer_id is not None:
            try:
                customer = load_in_scope(s, actor, customer_id)
                person = f"{customer.name}（卡号 {customer.card_no}）"
            except (NotFound, PermissionDenied):
                person = "（不在您的查看范围内的顾客）"
        names = dict(s.execute(select(PaymentMethod.id, PaymentMethod.name)).tuples().all())
    parts = [f"{entry.at.replace('T', ' ')[:16]}", f"收银员 {who}", entry.label]
    if entry.op == "sell_coupon":
        parts.append(f"“{entry.params.get('name', '')}”面值 {yuan(int(entry.params.get('face_value_fen', 0)))}")
    if order_no:
        parts.append(f"单据 {order_no}")
    if person:
        parts.append(person)
    tenders = _back(entry.params.get("tenders"))
    money = "、".join(f"{names.get(t.payment_method_id or 0, '?')} {yuan(t.amount_fen)}" for t in tenders)
    parts.append(f"{yuan(entry.amount_fen)}" + (f"：{money}" if money else ""))
    return "　".join(parts)
