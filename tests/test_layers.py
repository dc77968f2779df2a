"""DESIGN.md, Layers: ``meike/`` imports neither ``devices/`` nor ``ui/`` (ports in meike, adapters in
devices, plugged in at the composition root); ``devices/`` imports no ``ui/`` and, of meike, only its ports."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _imports(package: str) -> list[tuple[str, int, str]]:
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [f"{node.module}.{a.name}" for a in node.names]  # "from meike import ports": meike.ports
            else:
                names = []
            found += [(str(path.relative_to(ROOT)), node.lineno, name) for name in names]
    return found


def test_meike_imports_neither_devices_nor_ui() -> None:
    wrong = [f"{f}:{line} {name}" for f, line, name in _imports("meike") if name.split(".")[0] in ("devices", "ui")]
    assert wrong == []


def test_devices_import_of_meike_only_its_ports() -> None:
    wrong = [f"{f}:{line} {name}" for f, line, name in _imports("devices")
             if name.split(".")[0] == "ui" or (name.split(".")[0] == "meike" and not name.startswith("meike.ports"))]
    assert wrong == []
