"""The crash harness (``bench.crashtest``): a short run finds nothing wrong, and its audit does catch damage."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from bench import crashtest
from bench.crash_worker import log_path
from meike.db import sqlite_url

KILLS = 8


@pytest.fixture(scope="module")
def crashed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    """One run of 8 kills on SQLite (4 with one worker, 4 with two at once; about 10 s): the one-worker
    phase's folder and the figures the run wrote."""
    folder = tmp_path_factory.mktemp("crashtest")
    out = folder / "reliability.json"
    # Each worker lives at least 300 ms after it is ready, so even on a loaded machine the run acknowledges
    # payments for the damage tests below to remove (with kills after 0-250 ms a slow machine had none).
    code = crashtest.main(["--kills", str(KILLS), "--seed", "7", "--min-ms", "300", "--max-ms", "600",
                           "--db", str(folder / "db"),
                           "--out", str(out), "--database", ""])
    figures = json.loads(out.read_text())
    assert code == (1 if any(figures[f] for f in crashtest.FAILURES) else 0)
    return folder / "db" / "sqlite", figures


def target_in(folder: Path) -> crashtest.SqliteTarget:
    target = crashtest.SqliteTarget(folder)
    target.url = sqlite_url(folder / crashtest.DB_NAME)
    return target


def copy_of(folder: Path, to: Path) -> Path:
    """The phase's database (checkpointed), its acknowledgement log and its workstation in another folder,
    to damage."""
    to.mkdir()
    db = folder / crashtest.DB_NAME
    con = sqlite3.connect(db)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    shutil.copy(db, to / crashtest.DB_NAME)
    shutil.copy(log_path(folder, 0), log_path(to, 0))
    if (folder / "pc-0").exists():
        shutil.copytree(folder / "pc-0", to / "pc-0")
    return to


def acknowledged(folder: Path, op: str) -> list[dict[str, object]]:
    return [r for line in log_path(folder, 0).read_text().splitlines()
            if (r := json.loads(line))["t"] == "ack" and r["op"] == op]


def test_a_short_run_loses_nothing(crashed: tuple[Path, dict[str, object]]) -> None:
    db, figures = crashed
    assert figures["kills"] == KILLS and figures["concurrent_runs"] > 0  # two workers at once, too
    assert {f: figures[f] for f in crashtest.FAILURES} == dict.fromkeys(crashtest.FAILURES, 0), figures["problems"]
    assert figures["operations_acknowledged"] > 0
    # The audit from scratch (the whole log, every closed day) agrees.
    again = crashtest.Audit(target_in(db), 1).full().figures()
    assert {f: again[f] for f in crashtest.FAILURES} == dict.fromkeys(crashtest.FAILURES, 0)


def test_a_lost_payment_is_found(crashed: tuple[Path, dict[str, object]], tmp_path: Path) -> None:
    folder = copy_of(crashed[0], tmp_path / "lost")
    paid = [a for a in acknowledged(folder, "pay") if a["amount_fen"]]
    assert paid, "the run acknowledged no payment"
    con = sqlite3.connect(folder / crashtest.DB_NAME)
    with con:
        con.execute("DELETE FROM payments WHERE id = (SELECT MAX(p.id) FROM payments p JOIN receipts r "
                    "ON r.id = p.receipt_id WHERE r.receipt_no = ?)", (paid[-1]["receipt_no"],))
    con.close()
    figures = crashtest.Audit(target_in(folder), 1).full().figures()
    assert figures["lost_acknowledged"] >= 1
    assert figures["half_written"] >= 1  # the receipt no longer adds up to its tenders


def test_a_broken_account_entry_is_found(crashed: tuple[Path, dict[str, object]], tmp_path: Path) -> None:
    folder = copy_of(crashed[0], tmp_path / "broken")
    con = sqlite3.connect(folder / crashtest.DB_NAME)
    with con:
        changed = con.execute("UPDATE account_entries SET amount_fen = amount_fen + 100 "
                              "WHERE id = (SELECT MAX(id) FROM account_entries WHERE NOT is_grant)").rowcount
    con.close()
    assert changed == 1, "the run wrote no account entry"
    figures = crashtest.Audit(target_in(folder), 1).full().figures()
    assert figures["invariant_failures"] >= 1


def test_a_second_charge_for_one_request_is_found(crashed: tuple[Path, dict[str, object]], tmp_path: Path) -> None:
    """A retry that wrote a new receipt instead of returning the first one counts as a duplicate charge."""
    folder = copy_of(crashed[0], tmp_path / "twice")
    audit = crashtest.Audit(target_in(folder), 1)
    audit.replayed({"id": "r1", "op": "pay", "key": "k", "before": "R20260302-0001", "receipt_no": "R20260302-0002",
                    "replayed": False})
    assert audit.findings.figures()["duplicate_charges"] == 1
