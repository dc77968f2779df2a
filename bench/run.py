"""Measure customer search through the service layer on a large synthetic clinic.

``python -m bench.run [--customers N]`` (default 1,000,000; the data is generated once and cached).
Figures are p95 milliseconds over repeated queries, written to bench/results.json.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from bench import synth
from meike.db import Clinic, sqlite_url
from meike.services import accounts, customers

RESULTS = Path(__file__).resolve().parent / "results.json"
REPEAT = 200


def p95(samples: list[float]) -> float:
    return round(statistics.quantiles(samples, n=20)[-1], 3)


def timed(fn: Callable[[], object], repeat: int = REPEAT) -> float:
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return p95(samples)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    path = synth.build(args.customers)
    clinic = Clinic.open(sqlite_url(path))
    raw = sqlite3.connect(path)
    rng = random.Random(1)
    sample = raw.execute(
        "SELECT mobile, name, name_initials, card_no FROM customers WHERE id % 997 = 0 LIMIT 500"
    ).fetchall()
    gl = accounts.authenticate(clinic, "gl", "123")  # all customers
    wl = accounts.authenticate(clinic, "wl", "123")  # own department

    def query(actor, pick: Callable[[tuple], str]) -> Callable[[], object]:  # type: ignore[no-untyped-def]
        return lambda: customers.search_customers(clinic, actor, text=pick(rng.choice(sample)), limit=50)

    results: dict[str, object] = {"customers": args.customers}
    for label, actor in (("", gl), ("_department", wl)):
        results[f"search_mobile_full{label}_p95_ms"] = timed(query(actor, lambda r: r[0]))
        results[f"search_mobile_last4{label}_p95_ms"] = timed(query(actor, lambda r: r[0][-4:]))
        results[f"search_name{label}_p95_ms"] = timed(query(actor, lambda r: r[1]))
        results[f"search_pinyin_initials{label}_p95_ms"] = timed(query(actor, lambda r: r[2]))
        results[f"search_card_no{label}_p95_ms"] = timed(query(actor, lambda r: r[3]))
    results["search_raw_sqlite_p95_ms"] = timed(
        lambda: raw.execute("SELECT id, name FROM customers WHERE mobile = ?", (rng.choice(sample)[0],)).fetchall()
    )
    existing = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    existing.update(results)
    RESULTS.write_text(json.dumps(existing, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(results, indent=2, ensure_ascii=False))
    raw.close()
    clinic.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
