"""Several workstations at once: 5 processes take payments, top-ups and refunds for the same few customers
on one database (SQLite WAL on a local disk, or PostgreSQL with MEIKE_TEST_DATABASE_URL).

Afterwards: receipt numbers are unique and gapless, every acknowledged receipt is there with its
amount, each prepaid balance is exactly what the acknowledged calls add up to (no lost update), and no
worker ever saw "database is locked", a deadlock or any error other than a refusal it was meant to get.
"""

from __future__ import annotations

import json
import multiprocessing
import random
from pathlib import Path

from sqlalchemy import select

from meike.db import Clinic
from meike.models import Receipt
from meike.services import ledger
from tests.meike.conftest_money import build_desk

WORKERS = 5
ROUNDS = 24


def _work(url: str, worker: int, rounds: int, desk: dict[str, object], out: str) -> None:
    """One workstation (a separate process): acknowledged calls and errors go to ``out`` as JSON."""
    from meike.db import Clinic
    from meike.errors import ValidationError
    from meike.services import accounts, cashier, ledger
    from meike.services.cashier import LineSpec
    from meike.services.ledger import Tender

    clinic = Clinic.open(url)
    actor = accounts.authenticate(clinic, "sy", "secret-1")
    rng = random.Random(worker)
    customers: list[int] = desk["customers"]  # type: ignore[assignment]
    cash, prepaid, item = desk["cash"], desk["prepaid"], desk["item"]
    acks: list[dict[str, object]] = []
    errors: list[str] = []
    for n in range(rounds):
        customer = rng.choice(customers)
        key = f"w{worker}-{n}"
        what = rng.choice(("top_up", "top_up", "pay", "refund"))
        try:
            if what == "top_up":
                amount = rng.randint(1, 50) * 1_000
                r = ledger.top_up(clinic, actor, customer, account="prepaid", tenders=[Tender(cash, amount)],
                                  idempotency_key=key)
                acks.append({"receipt_no": r.receipt_no, "amount": r.amount_fen, "customer": customer, "prepaid": amount})
            elif what == "pay":  # ￥500 item: ￥200 from the prepaid balance, ￥300 cash
                order = cashier.open_order(clinic, actor, customer_id=customer, lines=[LineSpec(item, 1, 50_000)])
                r = cashier.pay(clinic, actor, order, [Tender(prepaid, 20_000), Tender(cash, 30_000)],
                                idempotency_key=key)
                acks.append({"receipt_no": r.receipt_no, "amount": 50_000, "customer": customer, "prepaid": -20_000})
            else:  # 退余额 of everything the window shows: two PCs doing it at once must not both pay out
                amount = ledger.customer_accounts(clinic, actor, customer).balances.get("prepaid", 0)
                if amount <= 0:
                    continue
                boss = accounts.verify_supervisor(clinic, "boss", "boss-pass", ledger.Right.REFUND)
                r = ledger.refund_balance(clinic, actor, customer, account="prepaid", tenders=[Tender(cash, amount)],
                                          idempotency_key=key, supervisor=boss, reason="退余额")
                acks.append({"receipt_no": r.receipt_no, "amount": -amount, "customer": customer, "prepaid": -amount})
        except ValidationError as e:  # a balance too small: the refusal a cashier would see
            if "余额" not in e.message and "不能退" not in e.message:
                errors.append(f"{what}: {e.message}")
        except Exception as e:  # noqa: BLE001 (anything else reaching the user is a failure)
            errors.append(f"{what}: {type(e).__name__}: {e}")
    clinic.dispose()
    Path(out).write_text(json.dumps({"acks": acks, "errors": errors}, ensure_ascii=False))


def test_five_workstations_taking_money_at_once(clinic: Clinic, tmp_path: Path) -> None:
    desk = build_desk(clinic)
    shared = {"customers": [desk.member, desk.plain, desk.vip], "cash": desk.methods["现金"],
              "prepaid": desk.methods["预存"], "item": desk.items["脱毛"]}
    # Some balance to start with, so payments and refunds have something to spend.
    for n, customer in enumerate(shared["customers"]):  # type: ignore[arg-type]
        ledger.top_up(clinic, desk.cashier, customer, account="prepaid",
                      tenders=[ledger.Tender(desk.methods["现金"], 100_000)], idempotency_key=f"seed-{n}")
    url = clinic.engine.url.render_as_string(hide_password=False)
    context = multiprocessing.get_context("spawn")
    outs = [tmp_path / f"w{n}.json" for n in range(WORKERS)]
    processes = [context.Process(target=_work, args=(url, n, ROUNDS, shared, str(out)))
                 for n, out in enumerate(outs)]
    for p in processes:
        p.start()
    for p in processes:
        p.join(timeout=240)
        assert p.exitcode == 0, f"a workstation crashed (exit {p.exitcode})"
    results = [json.loads(out.read_text()) for out in outs]
    errors = [e for r in results for e in r["errors"]]
    assert errors == [], errors
    acks = [a for r in results for a in r["acks"]]
    assert len(acks) > WORKERS * ROUNDS // 2  # most calls went through

    with clinic.read() as s:
        receipts = {r.receipt_no: r for r in s.scalars(select(Receipt))}
        days: dict[str, list[int]] = {}
        for number in receipts:
            day, serial = number.split("-")
            days.setdefault(day, []).append(int(serial))
        for serials in days.values():
            assert sorted(serials) == list(range(1, len(serials) + 1)), "receipt numbers must be gapless"
        for ack in acks:
            assert ack["receipt_no"] in receipts, f"acknowledged {ack['receipt_no']} is missing"
            assert receipts[ack["receipt_no"]].amount_fen == ack["amount"]  # type: ignore[index]
        assert len(receipts) == len(acks) + 3  # the three opening top-ups; nothing else was written
        for customer in shared["customers"]:  # type: ignore[attr-defined]
            expected = 100_000 + sum(int(a["prepaid"]) for a in acks if a["customer"] == customer)  # type: ignore[arg-type]
            assert ledger.balance(s, customer, "prepaid") == expected >= 0
