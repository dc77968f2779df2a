"""Speed on a large synthetic clinic, measured through the service layer (``make bench``).

``python -m bench.run [--customers N]`` (default 1,000,000 customers with ~3M visits and ~2M
reminders; generated once and cached in bench/cache/). Figures go to bench/results.json: p95
milliseconds over repeated calls unless the name says otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

from bench import synth
from meike import clock
from meike.db import Clinic, sqlite_url
from meike.db.prefix import upper_bound
from meike.permissions import Actor
from meike.scheduler import ReminderCounter
from meike.services import accounts, customers, followups, records, triage
from meike.services.customers import CustomerQuery

RESULTS = Path(__file__).resolve().parent / "results.json"
ROOT = Path(__file__).resolve().parents[1]
REPEAT = 200


def p95(samples: list[float]) -> float:
    return round(statistics.quantiles(samples, n=20)[-1], 3)


def timed(fn: Callable[[], object], repeat: int = REPEAT) -> float:
    fn()  # warm the statement caches once
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return p95(samples)


# The same lookups straight through sqlite3, written by hand with the best index: the grid's row
# (the customer with the names of customer service, consultant, channel and department), the search
# box's meaning (a mobile or a card number; four digits: the mobile's end or a card; a name or pinyin
# prefix or a card), newest first, one page of 50, the page's ids picked first.
_ROW = ("SELECT c.id, c.card_no, c.name, c.gender, c.mobile, c.created_at, c.purchase_occasions, cs.name, "
        "co.name, ch.name, d.name FROM customers c LEFT JOIN staff cs ON cs.id = c.cs_staff_id "
        "LEFT JOIN staff co ON co.id = c.consultant_id LEFT JOIN channels ch ON ch.id = c.channel_id "
        "LEFT JOIN departments d ON d.id = c.department_id WHERE c.id IN (SELECT id FROM customers WHERE {} "
        "ORDER BY id DESC LIMIT 50) ORDER BY c.id DESC")
RAW_SEARCH: dict[str, tuple[str, Callable[[str], tuple]]] = {
    "mobile_full": (_ROW.format("mobile = ? OR card_no = ?"), lambda t: (t, t)),
    "mobile_last4": (_ROW.format("mobile_last4 = ? OR card_no = ?"), lambda t: (t, t)),
    "name": (_ROW.format("name >= ? AND name < ? OR card_no = ?"), lambda t: (t, upper_bound(t), t)),
    "pinyin_initials": (_ROW.format("name_initials >= ? AND name_initials < ? OR card_no = ?"),
                        lambda t: (t, upper_bound(t), t.upper())),
    "card_no": (_ROW.format("card_no = ? OR mobile >= ? AND mobile < ?"), lambda t: (t, t, upper_bound(t))),
}
# The bare lookup of the customer row alone (no names, no second meaning): the floor under any search.
RAW_BARE = {
    "mobile_full": "SELECT * FROM customers WHERE mobile = ? ORDER BY id DESC LIMIT 50",
    "mobile_last4": "SELECT * FROM customers WHERE mobile_last4 = ? ORDER BY id DESC LIMIT 50",
    "name": "SELECT * FROM customers WHERE name >= ? AND name < ? || char(65535) ORDER BY id DESC LIMIT 50",
    "pinyin_initials": "SELECT * FROM customers WHERE id IN (SELECT id FROM customers WHERE name_initials >= ? "
                       "AND name_initials < ? || char(65535) ORDER BY id DESC LIMIT 50)",
    "card_no": "SELECT * FROM customers WHERE card_no = ?",
}


def search_figures(clinic: Clinic, raw: sqlite3.Connection, gl: Actor, wl: Actor, repeat: int = REPEAT) -> dict[str, float]:
    """Each lookup through the service (all-scope and own-department user) and straight through
    sqlite3, measured in turn on the same texts (each read once before, untimed) so that all of
    them find the same pages in the cache and see the same noise."""
    rng = random.Random(1)
    sample = raw.execute("SELECT mobile, name, name_initials, card_no FROM customers WHERE id % 997 = 0 "
                         "LIMIT 500").fetchall()
    picks: dict[str, Callable[[tuple], str]] = {
        "mobile_full": lambda r: r[0], "mobile_last4": lambda r: r[0][-4:], "name": lambda r: r[1],
        "pinyin_initials": lambda r: r[2], "card_no": lambda r: r[3],
    }
    out: dict[str, float] = {}
    raw_worst = worst_ratio = 0.0
    for key, pick in picks.items():
        sql, args = RAW_SEARCH[key]
        bare = RAW_BARE[key]
        bare_args = (lambda t: (t, t)) if bare.count("?") == 2 else (lambda t: (t,))
        runs: dict[str, Callable[[str], object]] = {
            f"search_{key}_p95_ms": lambda t: customers.search_customers(clinic, gl, text=t, limit=50),
            f"search_{key}_department_p95_ms": lambda t: customers.search_customers(clinic, wl, text=t, limit=50),
            f"search_{key}_raw_sqlite_p95_ms": lambda t, s=sql, a=args: raw.execute(s, a(t)).fetchall(),
            f"search_{key}_raw_bare_p95_ms": lambda t, s=bare, a=bare_args: raw.execute(s, a(t)).fetchall(),
        }
        texts = [pick(rng.choice(sample)) for _ in range(repeat)]
        samples: dict[str, list[float]] = {name: [] for name in runs}
        for run in runs.values():  # warm the statement caches once
            run(texts[0])
        for text in texts:
            # The department user's numbers are mostly other departments' customers: misses, which a
            # person may make only PROBE_LIMIT of in a row. Each lookup here is timed as a first one.
            customers.forget_probes()
            # The pages into both connections' caches (the service's pool and sqlite3 each have their
            # own): no runner pays the first read of a row for the others.
            runs[f"search_{key}_raw_bare_p95_ms"](text)
            runs[f"search_{key}_department_p95_ms"](text)
            for name, run in runs.items():
                t0 = time.perf_counter()
                run(text)
                samples[name].append((time.perf_counter() - t0) * 1000)
        out.update({name: p95(values) for name, values in samples.items()})
        out[f"search_{key}_overhead_x"] = round(out[f"search_{key}_p95_ms"] / out[f"search_{key}_raw_sqlite_p95_ms"], 2)
        raw_worst = max(raw_worst, out[f"search_{key}_raw_sqlite_p95_ms"])
        worst_ratio = max(worst_ratio, out[f"search_{key}_overhead_x"])
    out["search_raw_sqlite_p95_ms"] = raw_worst
    out["search_overhead_worst_x"] = worst_ratio
    return out


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def grid_scroll_rss(clinic: Clinic, gl: Actor) -> float:
    """RSS after the grid model has fetched 10,000 rows of the 1M customers, as scrolling does."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QModelIndex
    from PySide6.QtWidgets import QApplication

    from ui.front_desk.grid import CustomerTableModel
    from ui.taskman import manager

    _app = QApplication.instance() or QApplication([])
    model = CustomerTableModel(clinic, gl)
    model.set_query(CustomerQuery())
    manager().wait_idle(60)  # pages are read off the GUI thread
    while model.rowCount() < 10_000 and model.canFetchMore(QModelIndex()):
        model.fetchMore(QModelIndex())
        manager().wait_idle(60)
    for row in range(0, model.rowCount(), 97):
        model.data(model.index(row, 1))
    return rss_mb()


def cold_start_ms(path: Path, runs: int = 5) -> float:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", MEIKE_STARTUP_PROBE="1")
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        done = subprocess.run([sys.executable, str(ROOT / "main.py"), "--database", sqlite_url(path)],
                              env=env, capture_output=True, text=True, timeout=120)
        if "login-shown" not in done.stdout:
            raise RuntimeError(done.stderr[-2000:])
        samples.append((time.perf_counter() - t0) * 1000)
    return round(statistics.median(samples), 1)


def dashboard_figures(clinic: Clinic, raw: sqlite3.Connection, gl: Actor, wl: Actor, today: date) -> dict[str, float]:
    """The dashboard's job as it runs every minute (bring the reminder tallies up to today, then
    count), for both users; and what the tallies cost: tallying every open overdue reminder from
    scratch (the first run after the upgrade) and then one more day (each day's first run)."""
    out: dict[str, float] = {}
    raw.execute("DELETE FROM reminder_tallies")  # generated data: start the tallies from nothing
    raw.execute("UPDATE reminder_tally_state SET counted_before = '1900-01-01'")
    raw.commit()
    out["dashboard_counts_department_untallied_ms"] = timed(lambda: followups.dashboard_counts(clinic, wl), repeat=10)
    t0 = time.perf_counter()
    followups.catch_up_tallies(clinic, today - timedelta(days=1))
    out["reminder_tallies_first_catch_up_ms"] = round((time.perf_counter() - t0) * 1000, 1)
    t0 = time.perf_counter()
    followups.catch_up_tallies(clinic, today)
    out["reminder_tallies_daily_catch_up_ms"] = round((time.perf_counter() - t0) * 1000, 1)
    out["reminder_tallies_rows"] = raw.execute("SELECT count(*) FROM reminder_tallies").fetchone()[0]
    for label, actor in (("", gl), ("_department", wl)):
        counter = ReminderCounter(clinic, actor, today=lambda: today)
        out[f"dashboard_counts{label}_ms"] = timed(counter.compute, repeat=50)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    path = synth.build(args.customers)
    clinic = Clinic.open(sqlite_url(path))
    synth.migrate_cache(clinic)  # a cache built by an older version gets the new tables
    raw = sqlite3.connect(path)
    gl = accounts.authenticate(clinic, "gl", "123")  # all customers
    wl = accounts.authenticate(clinic, "wl", "123")  # own department
    rng = random.Random(2)
    ids = [r[0] for r in raw.execute("SELECT id FROM customers WHERE id % 991 = 0 LIMIT 300")]
    results: dict[str, object] = {
        "customers": raw.execute("SELECT count(*) FROM customers").fetchone()[0],
        "visits": raw.execute("SELECT count(*) FROM visits").fetchone()[0],
        "reminders": raw.execute("SELECT count(*) FROM reminders").fetchone()[0],
    }
    results.update(search_figures(clinic, raw, gl, wl))

    # The grid shows its first page at once; the exact total is counted in the background after.
    def first_page(actor: Actor, query: CustomerQuery) -> None:
        customers.search_customers(clinic, actor, query=query, limit=200)

    today = clock.now().date()
    arrived_today = CustomerQuery(tab="arrived", date_from=today, date_to=today)  # the tab's default
    for label, actor in (("", gl), ("_department", wl)):
        results[f"grid_first_page{label}_ms"] = timed(lambda a=actor: first_page(a, CustomerQuery()), repeat=30)
        results[f"grid_arrived_today{label}_ms"] = timed(lambda a=actor: first_page(a, arrived_today), repeat=30)
        results[f"grid_background_count{label}_ms"] = timed(
            lambda a=actor: customers.count_customers(clinic, a, query=CustomerQuery()), repeat=10)

    def open_detail() -> None:
        cid = rng.choice(ids)
        customers.get_customer(clinic, gl, cid)
        triage.list_visits(clinic, gl, cid)
        records.list_consultations(clinic, gl, cid)
        records.list_treatments(clinic, gl, cid)
        followups.list_for_customer(clinic, gl, cid)
        records.list_charges(clinic, gl, cid)

    results["detail_open_ms"] = timed(open_detail, repeat=100)
    results.update(dashboard_figures(clinic, raw, gl, wl, today))
    results["cold_start_to_login_ms"] = cold_start_ms(path)
    results["rss_mb_after_grid_scroll"] = grid_scroll_rss(clinic, gl)
    existing = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    existing = {k: v for k, v in existing.items() if not k.startswith(("search_", "grid_", "detail_", "dashboard_"))}
    existing.update(results)
    RESULTS.write_text(json.dumps(existing, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(results, indent=2, ensure_ascii=False))
    raw.close()
    clinic.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
