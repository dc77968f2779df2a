"""What `pip install .` and the frozen build take: every package, the migrations and the icon inside them."""

from __future__ import annotations

import tomllib
from importlib.resources import files
from pathlib import Path

import meike
from meike.db.migrate import MIGRATIONS_DIR, head_revision

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_every_package_folder_is_listed_for_installation() -> None:
    setuptools = PYPROJECT["tool"]["setuptools"]
    mapped = setuptools["package-dir"]
    found = {".".join(p.parent.relative_to(ROOT).parts) for top in ("meike", "ui", "devices")
             for p in (ROOT / top).rglob("__init__.py") if "__pycache__" not in p.parts}
    found |= set(mapped)  # migrations/ → meike.migrations, resources/ → ui.resources
    found.add("meike.migrations.versions")
    assert set(setuptools["packages"]) == found
    assert mapped == {"meike.migrations": "migrations", "ui.resources": "resources"}


def test_the_migrations_and_the_icon_are_found_as_packages() -> None:
    assert MIGRATIONS_DIR == Path(str(files("meike.migrations")))
    assert (MIGRATIONS_DIR / "env.py").is_file() and head_revision()
    assert (Path(str(files("ui.resources"))) / "meike.png").is_file()
    assert (Path(str(files("ui.resources"))) / "meike.ico").is_file()


def test_the_version_is_written_in_one_place() -> None:
    assert meike.__version__ == PYPROJECT["project"]["version"]
    assert PYPROJECT["project"]["gui-scripts"] == {"meike": "ui.launcher:main"}
    assert PYPROJECT["project"]["scripts"] == {"meike-check": "ui.launcher:check_program"}
    nsis = (ROOT / "installer.nsi").read_text(encoding="utf-8-sig")
    assert "!ifndef VERSION" in nsis and '!define VERSION "' not in nsis  # told the version when it is built
