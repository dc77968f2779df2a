"""Opening a clinic for the program: choose the database, migrate it, build the demo if asked."""

from __future__ import annotations

import os
from pathlib import Path

from meike import demo, paths
from meike.db import Clinic, sqlite_url
from meike.db.location import check_url
from meike.db.migrate import upgrade
from meike.services import system


def database_url(cli_url: str | None, *, demo_mode: bool) -> str:
    """``--database`` wins, then ``MEIKE_DATABASE_URL``, then the file in the user data directory."""
    if cli_url:
        return cli_url
    if demo_mode:
        return sqlite_url(paths.demo_database())
    return os.environ.get("MEIKE_DATABASE_URL") or sqlite_url(paths.clinic_database())


def open_clinic(url: str, *, demo_mode: bool = False, backup_dir: Path | None = None) -> Clinic:
    """Open (creating if needed) and migrate the database; fill the demo clinic when it is new."""
    check_url(url)  # SQLite on a network share: refused with a message that points to PostgreSQL
    clinic = Clinic.open(url)
    if clinic.path is not None:
        clinic.path.parent.mkdir(parents=True, exist_ok=True)
    upgrade(clinic, backup_dir=backup_dir)
    if demo_mode and not system.is_initialised(clinic):
        demo.build(clinic)
    elif demo_mode:
        demo.grant_new_pages(clinic)  # a demo built before a page existed (电话管理) still shows it
    return clinic
