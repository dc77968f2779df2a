"""The licences: every package the build ships is named in THIRD-PARTY-NOTICES.txt with its licence."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD_ONLY = {"pyinstaller-hooks-contrib", "altgraph", "packaging", "pefile", "pywin32-ctypes", "argcomplete",
              "pywin32"}  # pywin32 ships on Windows only: its notice is written by the Windows build


def _key(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_shipped_package_is_in_the_notices() -> None:
    pins = [line.split("==")[0].strip() for line in (ROOT / "packaging" / "requirements-build.txt").read_text(
        encoding="utf-8").splitlines() if "==" in line and not line.startswith("#")]
    notices = (ROOT / "THIRD-PARTY-NOTICES.txt").read_text(encoding="utf-8")
    named = {_key(m.group(1)): m.group(2) for m in re.finditer(r"^(\S+) (\S+)\n    许可证 Licence: .+$", notices, re.M)}
    shipped = {_key(p) for p in pins} - BUILD_ONLY
    assert shipped <= set(named), sorted(shipped - set(named))
    assert "GNU Lesser General Public License v3" in notices
    assert (ROOT / "packaging" / "licenses" / "LGPL-3.0.txt").read_text(encoding="utf-8").startswith(
        "                   GNU LESSER GENERAL PUBLIC LICENSE")
    assert "All rights reserved" in (ROOT / "LICENSE").read_text(encoding="utf-8")
