"""Where the clinic's files live (platformdirs): database, backups, settings of this workstation."""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import PlatformDirs

_dirs = PlatformDirs(appname="Meike", appauthor="Meike")


def data_dir() -> Path:
    override = os.environ.get("MEIKE_DATA_DIR")
    path = Path(override) if override else Path(_dirs.user_data_dir)
    path.mkdir(parents=True, exist_ok=True)
    return path


def config_dir() -> Path:
    override = os.environ.get("MEIKE_CONFIG_DIR")
    path = Path(override) if override else Path(_dirs.user_config_dir)
    path.mkdir(parents=True, exist_ok=True)
    return path


def clinic_database() -> Path:
    return data_dir() / "meike.sqlite3"


def demo_database() -> Path:
    return data_dir() / "meike-demo.sqlite3"
