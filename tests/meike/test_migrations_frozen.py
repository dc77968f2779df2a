"""Shipped migrations are frozen: a checksum per revision, and the repair of the two that were edited."""

from __future__ import annotations

import hashlib
from pathlib import Path

from alembic import command
from sqlalchemy import inspect, text

from meike.db import Clinic, sqlite_url
from meike.db.migrate import alembic_config, current_revision, head_revision

VERSIONS = Path(__file__).resolve().parents[2] / "migrations" / "versions"

# sha256 of each shipped revision's text (line endings as LF). A new revision adds its line here when it
# ships; an existing line never changes: a shipped migration is never edited, a new revision repairs.
SHIPPED = {
    "0001_foundation.py": "12c40cfa9e69182a41f4d7703775b756cbe7769ff6149d29b5d5bf728b700e55",
    "0002_cashier.py": "4385b068883f041fd6104f9d7a2ec8b4ec1cc8c8788ce5f0b88a26bbf41f3744",
    "0003_front_desk.py": "938bee889488002f626e1e02cd6851d8498a1b69ef2b30020613a62e9d8599c5",
    "0004_cashier_depth.py": "153d2ad8b06999c9ceb042dc18c7ede4d296303f2f2f5a1096b41f4dbd0609b3",
    "0005_phone.py": "920800b53524f01893497994e7d716d2834f1171c6b6a2d0111ae21068137e07",
    "0006_promotions_and_performance_shares.py": "3f1b100a1a9ee6eda6542c48628c812e57068a411b089702634f06ac6d09300b",
    "0007_sms.py": "09053ed7d90d4145dfae901800d1470439e8d344d1f1b74d5d1e8fe1116bfb2e",
    "0008_audit_chain_and_record_versions.py": "6d8e6ecff14ffdb9650dbea4a8372a0389bcc87a642cc07df4b079d907a8bceb",
    "0009_adjustment_kind_length.py": "b1dec75d628ad39e91389c168baa1034f0b7f218997f88b0d4ba6e0db4d7cf73",
    "0010_reminder_scope_and_call_outcome.py": "8051bfd0a1e54c70b052860e1042dd6fede5faf5eb3a6f3d3f94bf04c46cbd87",
    "0011_initials_scope_index.py": "20c8f42629fb82f8a870676b3dc5a8559b16ce84da9a3b479028a1bd3ac56c51",
    "0012_reminder_tallies.py": "9eca0dda044075c30b6e02c7f090f6d0d1736eac89ecf31276d917d969aaa5c8",
    "0013_typed_numbers_ascii.py": "9e1195ae7809acd984f1072bece4398bd448b932731c268a115e16cd2dabbd09",
    "0014_login_throttles.py": "a5ea26aaccb6c8bb5ad018e4396dda126734b6b85875e0952a74231fec62fdb5",
    "0015_audit_head_guards.py": "a51fabc16146701917b3628cb6b74d8640628850c0e9a4743a195a07171045c1",
    "0016_account_versions.py": "39aabec0dbec98dac80fab00f0aeeaa0102a52a6525201a69d943625a88ffecb",
    "0017_money_bigint.py": "c63ebfd6ef75c01a7010a47205707b0e7d1f46e37ff4fc730498ab1714ddb1b0",
    "0018_repair_edited_indexes.py": "3ed2489580c7933650186bfd4277ac328fdb0fdac219ef1a6d87db2689bc303b",
}


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes().replace(b"\r\n", b"\n")).hexdigest()


def test_no_shipped_revision_was_edited() -> None:
    files = {p.name: _digest(p) for p in VERSIONS.glob("[0-9]*.py")}
    edited = sorted(name for name, digest in SHIPPED.items() if files.get(name) != digest)
    assert edited == [], f"shipped migrations changed or removed: {edited}; add a new revision instead"
    unlisted = sorted(set(files) - set(SHIPPED))
    assert unlisted == [], f"new revisions must be listed in SHIPPED when they ship: {unlisted}"


def _run(clinic: Clinic, fn, target: str) -> None:  # type: ignore[no-untyped-def]
    cfg = alembic_config()
    with clinic.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        fn(cfg, target)


def _indexes(clinic: Clinic, table: str) -> dict[str, list[str]]:
    return {ix["name"]: list(ix["column_names"]) for ix in inspect(clinic.engine).get_indexes(table)}


def test_a_database_upgraded_before_the_edits_gets_the_indexes(tmp_path: Path) -> None:
    """The indexes as the first builds of 0003/0004 made them (or never made them) are repaired by 0018."""
    clinic = Clinic.open(sqlite_url(tmp_path / "old.sqlite3"))
    _run(clinic, command.upgrade, "0017")
    with clinic.engine.begin() as conn:  # what a database upgraded by the older builds holds
        for sql in ("DROP INDEX ix_reminders_open_due",
                    "CREATE INDEX ix_reminders_open_due ON reminders (status, due_date, kind)",
                    "DROP INDEX ix_performance_entries_business_date",
                    "CREATE INDEX ix_performance_entries_business_date ON performance_entries (business_date, role)",
                    "DROP INDEX ix_payments_business_date",
                    "CREATE INDEX ix_payments_business_date ON payments (business_date)",
                    "DROP INDEX ix_orders_status_settled"):
            conn.execute(text(sql))
    assert "ix_orders_status_settled" not in _indexes(clinic, "orders")
    _run(clinic, command.upgrade, "head")
    assert current_revision(clinic) == head_revision()
    assert _indexes(clinic, "reminders")["ix_reminders_open_due"] == ["status", "kind", "due_date"]
    assert _indexes(clinic, "performance_entries")["ix_performance_entries_business_date"] == [
        "business_date", "role", "department_id", "amount_fen"]
    assert _indexes(clinic, "payments")["ix_payments_business_date"] == [
        "business_date", "payment_method_id", "account", "amount_fen", "received_by_id"]
    assert _indexes(clinic, "orders")["ix_orders_status_settled"] == ["status", "settled_at"]
    clinic.dispose()


def test_a_current_database_passes_through_untouched(tmp_path: Path) -> None:
    clinic = Clinic.open(sqlite_url(tmp_path / "new.sqlite3"))
    _run(clinic, command.upgrade, "0017")
    before = {t: _indexes(clinic, t) for t in ("reminders", "performance_entries", "payments", "orders")}
    _run(clinic, command.upgrade, "head")
    assert {t: _indexes(clinic, t) for t in before} == before
    clinic.dispose()
