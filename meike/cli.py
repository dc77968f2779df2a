"""``python main.py --check``: the integrity check and the ledger invariants, printed, without a window.

Exit status 0 when everything holds, 1 when something was found, 2 when the database cannot be opened.
"""

from __future__ import annotations

import argparse

from meike.check import run_check
from meike.clinic_setup import database_url, wire
from meike.db import Clinic, sqlite_path
from meike.db.location import check_url
from meike.errors import MeikeError


def check_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="meike --check", description="检查数据库完整性与账目")
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--demo", action="store_true")
    parser.add_argument("--database", metavar="URL")
    args, _unknown = parser.parse_known_args(argv)
    url = database_url(args.database, demo_mode=args.demo)
    path = sqlite_path(url)
    if path is not None and not path.is_file():  # never leave an empty database behind a mistyped path
        print(f"数据库文件不存在：{path}")
        return 2
    try:
        check_url(url)
        wire()  # the check compares the clinic's backups with the audit log
        clinic = Clinic.open(url)
    except MeikeError as e:
        print(e.message)
        return 2
    try:
        report = run_check(clinic)
    finally:
        clinic.dispose()
    print(report.render())
    return 0 if report.ok else 1
