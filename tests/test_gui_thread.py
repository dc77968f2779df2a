"""No service call on the GUI thread: every call into the clinic's data from ``ui/`` goes through
``ui/operations`` (the task manager), so the window never waits on the database or a printer.

A "service call" is a call of a function of ``meike`` whose first parameter is the clinic (every use
case, every settings read), or a session opened on the clinic (``clinic.read()``, ``clinic.write()``). This test reads
the source of every module of ``ui/`` (it does not run it), resolves what each called name was imported
as, and fails on such a call outside ``ui/operations/``.

Outside the rule, on purpose: the command-line modes that run before or instead of the event loop
(``--selftest``, ``--screenshot``, the launcher) and the crash reporter.
"""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
BEFORE_THE_LOOP = {"ui/launcher.py", "ui/selftest.py", "ui/screenshots.py", "ui/crash.py"}
# Files not yet moved to ui/operations carry this line; issue 15 ends when none is left.
NOT_YET = "# gui-thread: not yet moved to ui/operations"


def _imports(tree: ast.AST) -> dict[str, object]:
    """Name → the meike module or object it was imported as, from every import in the module."""
    bound: dict[str, object] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "meike":
            for alias in node.names:
                try:
                    module = importlib.import_module(node.module)
                    sub = f"{node.module}.{alias.name}"
                    try:
                        value: object = importlib.import_module(sub)
                    except ModuleNotFoundError:
                        value = getattr(module, alias.name)
                except (ImportError, AttributeError):
                    continue
                bound[alias.asname or alias.name] = value
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "meike" and alias.asname:
                    bound[alias.asname] = importlib.import_module(alias.name)
    return bound


def _takes_clinic(fn: object) -> bool:
    if not inspect.isfunction(fn):
        return False
    params = list(inspect.signature(fn).parameters.values())
    return bool(params) and (params[0].name == "clinic" or "Clinic" in str(params[0].annotation))


def _callee(node: ast.Call, bound: dict[str, object]) -> object | None:
    func = node.func
    if isinstance(func, ast.Name):
        return bound.get(func.id)
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        owner = bound.get(func.value.id)
        if isinstance(owner, ModuleType):
            return getattr(owner, func.attr, None)
    return None


def _opens_session(node: ast.Call) -> bool:
    func = node.func
    if not (isinstance(func, ast.Attribute) and func.attr in {"read", "write", "session", "engine"}):
        return False
    target = func.value
    name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
    return name == "clinic"


def service_calls(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    bound = _imports(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and (_takes_clinic(_callee(node, bound)) or _opens_session(node)):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node.func)}(…)")
    return found


def _ui_modules() -> list[Path]:
    return sorted(p for p in (ROOT / "ui").rglob("*.py") if "operations" not in p.relative_to(ROOT).parts)


@pytest.mark.parametrize("path", _ui_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_service_call_outside_the_operations(path: Path) -> None:
    rel = str(path.relative_to(ROOT))
    if rel in BEFORE_THE_LOOP:
        return
    calls = service_calls(path)
    if NOT_YET in path.read_text(encoding="utf-8"):
        assert calls, f"{rel} has no service call left: remove the '{NOT_YET}' line"
        return
    assert not calls, "service calls on the GUI thread; move them to ui/operations:\n" + "\n".join(calls)


def test_the_rule_finds_a_service_call(tmp_path: Path) -> None:
    """The checker itself: a page that pays on the GUI thread is caught, one that asks an operation is not."""
    page = ROOT / "ui" / "_probe_page.py"
    page.write_text("from meike.services import cashier\n\ndef pay(self):\n"
                    "    cashier.pay(self.clinic, self.actor, 1, [], key='k')\n"
                    "    with self.clinic.write() as s:\n        pass\n", encoding="utf-8")
    try:
        assert len(service_calls(page)) == 2
    finally:
        page.unlink()


def test_operations_call_the_services() -> None:
    """The operations are where the calls went (the rule is not met by calling nothing)."""
    total = sum(len(service_calls(p)) for p in (ROOT / "ui" / "operations").rglob("*.py"))
    assert total > 0
