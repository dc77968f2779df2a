"""DESIGN.md, Layers: ``meike/`` imports neither ``devices/`` nor ``ui/`` (ports in meike, adapters in
devices, plugged in at the composition root); ``devices/`` imports no ``ui/`` and, of meike, only its ports;
and no import circles in ``meike/``, ``devices/`` or ``ui/`` (an import inside a function counts: it only
hides the circle; imports under ``if TYPE_CHECKING:`` do not, they never run)."""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("meike", "devices", "ui")


def _imports(package: str) -> list[tuple[str, int, str]]:
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [f"{node.module}.{a.name}" for a in node.names]  # "from meike import ports": meike.ports
            else:
                continue
            found += [(str(path.relative_to(ROOT)), node.lineno, name) for name in names]
    return found


def test_meike_imports_neither_devices_nor_ui() -> None:
    wrong = [f"{f}:{line} {name}" for f, line, name in _imports("meike") if name.split(".")[0] in ("devices", "ui")]
    assert wrong == []


def test_devices_import_of_meike_only_its_ports() -> None:
    wrong = [f"{f}:{line} {name}" for f, line, name in _imports("devices")
             if name.split(".")[0] == "ui" or (name.split(".")[0] == "meike" and not name.startswith("meike.ports"))]
    assert wrong == []


# --- no import circles ------------------------------------------------------------------------------


def _module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _import_nodes(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement, at any depth (functions, methods, try blocks), but none under
    ``if TYPE_CHECKING:`` (its ``else:`` does run)."""
    todo: list[ast.AST] = [tree]
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            todo += node.orelse
            continue
        todo += ast.iter_child_nodes(node)


def import_graph(root: Path, packages: Iterable[str]) -> dict[str, set[str]]:
    """module → the modules of ``packages`` it imports (``from a import b`` is ``a.b`` when that is a
    module, else ``a``); modules outside ``packages`` are left out. Importing ``a.b`` also runs
    ``a/__init__``; that edge is left out, or a package that re-exports its modules' names would be a
    circle with each of them."""
    files = {_module_name(root, p): p for package in packages if (root / package).is_dir()
             for p in sorted((root / package).rglob("*.py"))}
    graph: dict[str, set[str]] = {name: set() for name in files}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in _import_nodes(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")
                    anchor = anchor[:len(anchor) - (node.level - 1)]
                    base = ".".join(anchor + ([base] if base else []))
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in files else base for a in node.names]
            for target in targets:
                while target and target not in files:  # "import a.b.c" where c is a name: a.b
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph.get(nxt, ())))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def _described(graph: dict[str, set[str]], component: list[str]) -> str:
    """One circle through the component, as ``a → b → a``."""
    members = set(component)
    path = [component[0]]
    seen = {component[0]: 0}
    while True:
        nxt = sorted(graph[path[-1]] & members)
        step = next((m for m in nxt if m == component[0]), None) or next((m for m in nxt if m not in seen), nxt[0])
        if step in seen:
            return " → ".join(path[seen[step]:] + [step]) + f"  (component: {', '.join(component)})"
        seen[step] = len(path)
        path.append(step)


def test_no_import_circles() -> None:
    graph = import_graph(ROOT, PACKAGES)
    assert [_described(graph, c) for c in circles(graph)] == []


def test_the_circle_check_finds_a_planted_circle(tmp_path: Path) -> None:
    pkg = tmp_path / "meike"
    (pkg / "db").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "db" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from meike.db import b\n")
    (pkg / "db" / "b.py").write_text("def f():\n    from .. import c\n")  # a lazy, relative import counts
    (pkg / "c.py").write_text("import meike.a\n")
    (pkg / "d.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from meike import a\n")
    (pkg / "e.py").write_text("from meike import d\n")
    graph = import_graph(tmp_path, ["meike"])
    assert graph["meike.d"] == set()  # TYPE_CHECKING imports never run
    assert circles(graph) == [["meike.a", "meike.c", "meike.db.b"]]
    assert _described(graph, circles(graph)[0]).startswith("meike.a → meike.db.b → meike.c → meike.a")
    (pkg / "c.py").write_text("import os\n")
    assert circles(import_graph(tmp_path, ["meike"])) == []


MAX_LINES = 500


def test_no_module_a_newcomer_cannot_hold_in_their_head() -> None:
    """No file of meike/, ui/ or devices/ over 500 lines (issue 15): split it along a real seam."""
    long = {str(p.relative_to(ROOT)): n for top in ("meike", "ui", "devices") for p in (ROOT / top).rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, f"over {MAX_LINES} lines: {long}"
