"""The crash harness (``bench.crashtest``): a short run finds nothing wrong, and its audit does catch damage."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from bench import crashtest
from bench.crash_worker import log_path

KILLS = 8


@pytest.fixture(scope="module")
def crashed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    """One run of 8 kills (about 10 s): the database folder and the figures it wrote."""
    folder = tmp_path_factory.mktemp("crashtest")
    out = folder / "reliability.json"
    code = crashtest.main(["--kills", str(KILLS), "--seed", "7", "--max-ms", "250", "--db", str(folder / "db"),
                          "--out", str(out)])
    figures = json.loads(out.read_text())
    assert code == (1 if any(figures[f] for f in crashtest.FAILURES) else 0)
    return folder / "db" / crashtest.DB_NAME, figures


def copy_of(db: Path, folder: Path) -> Path:
    """The database (checkpointed) and its acknowledgement log in another folder, to damage."""
    folder.mkdir()
    target = folder / db.name
    con = sqlite3.connect(db)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    shutil.copy(db, target)
    shutil.copy(log_path(db), log_path(target))
    return target


def acknowledged(db: Path, op: str) -> list[dict[str, object]]:
    return [r for line in log_path(db).read_text().splitlines()
            if (r := json.loads(line))["t"] == "ack" and r["op"] == op]


def test_a_short_run_loses_nothing(crashed: tuple[Path, dict[str, object]]) -> None:
    db, figures = crashed
    assert figures["kills"] == KILLS
    assert {f: figures[f] for f in crashtest.FAILURES} == dict.fromkeys(crashtest.FAILURES, 0), figures["problems"]
    assert figures["operations_acknowledged"] > 0
    assert str(figures["database_engine"]).startswith("SQLite")
    # The audit from scratch (the whole log, every closed day) agrees.
    again = crashtest.Audit(db).full().figures()
    assert {f: again[f] for f in crashtest.FAILURES} == dict.fromkeys(crashtest.FAILURES, 0)


def test_a_lost_payment_is_found(crashed: tuple[Path, dict[str, object]], tmp_path: Path) -> None:
    db = copy_of(crashed[0], tmp_path / "lost")
    paid = [a for a in acknowledged(db, "pay") if a["amount_fen"]]
    assert paid, "the run acknowledged no payment"
    con = sqlite3.connect(db)
    with con:
        con.execute("DELETE FROM payments WHERE id = (SELECT MAX(p.id) FROM payments p JOIN receipts r "
                    "ON r.id = p.receipt_id WHERE r.receipt_no = ?)", (paid[-1]["receipt_no"],))
    con.close()
    figures = crashtest.Audit(db).full().figures()
    assert figures["lost_acknowledged"] >= 1
    assert figures["half_written"] >= 1  # the receipt no longer adds up to its tenders


def test_a_broken_account_entry_is_found(crashed: tuple[Path, dict[str, object]], tmp_path: Path) -> None:
    db = copy_of(crashed[0], tmp_path / "broken")
    con = sqlite3.connect(db)
    with con:
        changed = con.execute("UPDATE account_entries SET amount_fen = amount_fen + 100 "
                              "WHERE id = (SELECT MAX(id) FROM account_entries WHERE NOT is_grant)").rowcount
    con.close()
    assert changed == 1, "the run wrote no account entry"
    figures = crashtest.Audit(db).full().figures()
    assert figures["invariant_failures"] >= 1


def test_a_second_charge_for_one_request_is_found(crashed: tuple[Path, dict[str, object]], tmp_path: Path) -> None:
    """A retry that wrote a new receipt instead of returning the first one counts as a duplicate charge."""
    db = copy_of(crashed[0], tmp_path / "twice")
    audit = crashtest.Audit(db)
    audit.replayed({"op": "pay", "key": "k", "before": "R20260302-0001", "receipt_no": "R20260302-0002",
                    "replayed": False})
    assert audit.findings.figures()["duplicate_charges"] == 1
