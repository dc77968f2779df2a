"""Rights that stay true while logged in (issue 14/10): an account that is disabled, or whose pages,
rights, data scope or password are changed by the administrator, is refused at its very next service
call (money, a reveal, the day close, a search, the dashboard's job), and nothing of the call happens.

Every change of an account bumps ``users.account_version``; every check a service makes compares the
version the login saw with the database's (one small SELECT). The desk: tests/meike/conftest_money.py.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from meike.db import Clinic
from meike.errors import PermissionDenied
from meike.models import AuditEntry, User
from meike.permissions import Actor, DataScope, Page, Right, page_code, right_code
from meike.scheduler import ReminderCounter
from meike.services import accounts, cashier, customers, dayclose, followups, ledger
from meike.services.cashier import LineSpec, Tender
from tests.conftest import make_user
from tests.meike.conftest_money import Desk, desk_fixture, frozen_fixture, snapshot  # noqa: F401 (fixtures)

CHANGED = "您的账号权限已变更，请重新登录"
DISABLED = "账号已停用，请联系管理员"
CLERK_GRANTS = {page_code(Page.CASHIER), page_code(Page.CUSTOMERS), right_code(Right.VIEW_PRIVATE),
                right_code(Right.CLOSE_DAY)}


def clerk_of(clinic: Clinic, desk: Desk) -> Actor:
    """A cashier who may reveal numbers and close the day: all customers, department 美容外科."""
    return make_user(clinic, desk.admin, "clerk", pages=[], department_id=desk.departments["美容外科"],
                     grants=CLERK_GRANTS)


def edit(clinic: Clinic, desk: Desk, user_id: int, **changes: object) -> None:
    """Save the account in the account manager with ``changes`` to what it holds."""
    view = accounts.get_account(clinic, desk.admin, user_id)
    fields: dict[str, object] = {"username": view.username, "display_name": view.display_name,
                                 "department_id": view.department_id, "staff_id": view.staff_id,
                                 "data_scope": view.data_scope.value, "grants": set(view.grants)}
    fields.update(changes)
    accounts.update_account(clinic, desk.admin, user_id, **fields)  # type: ignore[arg-type]


def cash(desk: Desk, amount: int) -> Tender:
    return Tender(desk.methods["现金"], amount)


CHANGES: dict[str, tuple[Callable[[Clinic, Desk, Actor], None], str]] = {
    "disabled": (lambda c, d, a: accounts.set_active(c, d.admin, a.user_id, False), DISABLED),
    "page removed": (lambda c, d, a: edit(c, d, a.user_id, grants=CLERK_GRANTS - {page_code(Page.CASHIER)}), CHANGED),
    "right removed": (lambda c, d, a: edit(c, d, a.user_id, grants=CLERK_GRANTS - {right_code(Right.VIEW_PRIVATE)}),
                      CHANGED),
    "scope narrowed": (lambda c, d, a: edit(c, d, a.user_id, data_scope=DataScope.DEPARTMENT.value), CHANGED),
    "password reset": (lambda c, d, a: accounts.reset_password(c, d.admin, a.user_id, password="new-pass-1"), CHANGED),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_a_changed_account_can_move_no_money_reveal_nothing_and_not_close_the_day(
        clinic: Clinic, desk: Desk, change: str) -> None:
    clerk = clerk_of(clinic, desk)
    ledger.top_up(clinic, clerk, desk.plain, account="prepaid", tenders=[cash(desk, 50_000)], idempotency_key="p")
    order_id = cashier.open_order(clinic, clerk, customer_id=desk.plain, lines=[LineSpec(desk.items["脱毛"], 1)])
    cashier.pay(clinic, clerk, order_id, [cash(desk, 50_000)], idempotency_key="pay")
    assert customers.reveal(clinic, clerk, desk.plain, "mobile") == "13900001111"  # it could, a moment ago
    make_change, message = CHANGES[change]
    make_change(clinic, desk, clerk)
    before = snapshot(clinic)

    calls: dict[str, Callable[[], object]] = {
        "top-up": lambda: ledger.top_up(clinic, clerk, desk.plain, account="prepaid", tenders=[cash(desk, 10_000)],
                                        idempotency_key="late"),
        "void": lambda: cashier.void(clinic, clerk, order_id, reason="顾客取消", supervisor=desk.boss,
                                     reverse_performance=True, idempotency_key="void"),
        "refund": lambda: ledger.refund_balance(clinic, clerk, desk.plain, account="prepaid",
                                                tenders=[cash(desk, 50_000)], idempotency_key="back",
                                                supervisor=desk.boss, reason="退余额"),
        "reveal": lambda: customers.reveal(clinic, clerk, desk.plain, "mobile"),
        "day close": lambda: dayclose.close_day(clinic, clerk, counted_cash_fen=100_000),
        "day report": lambda: dayclose.day_report(clinic, clerk),
    }
    for what, call in calls.items():
        with pytest.raises(PermissionDenied) as e:
            call()
        assert e.value.message == message, what
    assert snapshot(clinic) == before  # no money, no receipt number, no close, no reveal in the audit log


def test_the_refusal_is_an_account_change_and_the_window_of_that_login_hears_it(clinic: Clinic, desk: Desk) -> None:
    from meike.errors import AccountChanged

    clerk = clerk_of(clinic, desk)
    heard: list[str] = []
    unwatch = clerk.account.watch(heard.append)
    accounts.set_active(clinic, desk.admin, clerk.user_id, False)
    with pytest.raises(AccountChanged):
        dayclose.business_day(clinic, clerk)
    assert heard == [DISABLED]
    unwatch()
    with pytest.raises(AccountChanged):
        ledger.customer_accounts(clinic, clerk, desk.plain)
    assert heard == [DISABLED]
    accounts.set_active(clinic, desk.admin, clerk.user_id, True)
    with pytest.raises(AccountChanged, match=CHANGED):  # enabled again: still a change since that login
        dayclose.business_day(clinic, clerk)
    again = accounts.authenticate(clinic, "clerk", "secret-1")
    assert dayclose.business_day(clinic, again).business_date == datetime(2026, 3, 2).date()


def test_a_fresh_login_holds_what_the_account_holds_now(clinic: Clinic, desk: Desk) -> None:
    clerk = clerk_of(clinic, desk)
    edit(clinic, desk, clerk.user_id, grants=CLERK_GRANTS - {right_code(Right.VIEW_PRIVATE)})
    fresh = accounts.authenticate(clinic, "clerk", "secret-1")
    with pytest.raises(PermissionDenied, match="您没有查看完整手机号的权限"):
        customers.reveal(clinic, fresh, desk.plain, "mobile")
    assert ledger.customer_accounts(clinic, fresh, desk.plain).balances["prepaid"] == 0


def test_searches_and_the_dashboard_job_are_checked_too(clinic: Clinic, desk: Desk) -> None:
    """The search box keeps its statement per actor and the dashboard counts run on a timer: both find
    the change at their next run."""
    kf = make_user(clinic, desk.admin, "kf", pages=[Page.DASHBOARD, Page.CUSTOMERS])
    assert [r.id for r in customers.search_customers(clinic, kf, text="13900001111")] == [desk.plain]
    counter = ReminderCounter(clinic, kf)
    counter.compute()
    followups.dashboard_counts(clinic, kf)
    edit(clinic, desk, kf.user_id, grants={page_code(Page.DASHBOARD)})
    for call in (lambda: customers.search_customers(clinic, kf, text="13900001111"), counter.compute,
                 lambda: followups.dashboard_counts(clinic, kf), lambda: customers.dashboard_counts(clinic, kf)):
        with pytest.raises(PermissionDenied, match=CHANGED):
            call()


@pytest.mark.sqlite_only  # Meike's own backups are SQLite's
def test_a_backup_right_taken_away_is_gone_at_once(clinic: Clinic, desk: Desk) -> None:
    from meike import backup

    it = make_user(clinic, desk.admin, "it", pages=[Page.SETTINGS], grants={right_code(Right.BACKUP)})
    assert backup.manual_backup(clinic, it).path.exists()
    edit(clinic, desk, it.user_id, grants={page_code(Page.SETTINGS)})
    with pytest.raises(PermissionDenied, match=CHANGED):
        backup.manual_backup(clinic, it)


def test_a_supervisors_confirmation_is_checked_against_their_account_too(clinic: Clinic, desk: Desk) -> None:
    ledger.top_up(clinic, desk.cashier, desk.plain, account="prepaid", tenders=[cash(desk, 50_000)],
                  idempotency_key="p")
    boss = accounts.verify_supervisor(clinic, "boss", "boss-pass", Right.REFUND)
    edit(clinic, desk, boss.user_id, grants={page_code(Page.DASHBOARD), right_code(Right.VOID)})
    before = snapshot(clinic)
    with pytest.raises(PermissionDenied) as e:
        ledger.refund_balance(clinic, desk.cashier, desk.plain, account="prepaid", tenders=[cash(desk, 50_000)],
                              idempotency_key="back", supervisor=boss, reason="退余额")
    assert e.value.message == "主管“boss”的账号已停用或权限已变更，请重新输入主管密码"
    assert snapshot(clinic) == before
    dayclose.business_day(clinic, desk.cashier)  # the cashier is not logged out by the supervisor's change
    with pytest.raises(PermissionDenied, match="该账号没有此项审批权限"):
        accounts.verify_supervisor(clinic, "boss", "boss-pass", Right.REFUND)


def _version(clinic: Clinic, user_id: int) -> int:
    with clinic.read() as s:
        return int(s.scalar(select(User.account_version).where(User.id == user_id)) or 0)


def test_every_change_of_an_account_bumps_its_version_and_logins_do_not(clinic: Clinic, desk: Desk) -> None:
    clerk = clerk_of(clinic, desk)
    seen = [_version(clinic, clerk.user_id)]
    assert clerk.version == seen[0]

    def bumped() -> bool:
        seen.append(_version(clinic, clerk.user_id))
        return seen[-1] > seen[-2]

    for _ in range(2):
        with pytest.raises(Exception):  # noqa: B017,PT011 (a wrong password: counted, not a change)
            accounts.authenticate(clinic, "clerk", "wrong")
    accounts.authenticate(clinic, "clerk", "secret-1")
    accounts.unlock(clinic, desk.admin, clerk.user_id)
    accounts.change_own_password(clinic, clerk, old="secret-1", new="secret-2", confirm="secret-2")
    assert not bumped()
    edit(clinic, desk, clerk.user_id, display_name="收银员")
    assert bumped()
    edit(clinic, desk, clerk.user_id, department_id=desk.departments["皮肤科"])
    assert bumped()
    edit(clinic, desk, clerk.user_id, staff_id=desk.staff["王咨询"])
    assert bumped()
    edit(clinic, desk, clerk.user_id, grants=CLERK_GRANTS | {right_code(Right.VOID)})
    assert bumped()
    edit(clinic, desk, clerk.user_id, data_scope=DataScope.OWN.value)
    assert bumped()
    edit(clinic, desk, clerk.user_id)  # saved unchanged
    assert not bumped()
    accounts.reset_password(clinic, desk.admin, clerk.user_id, password="secret-3")
    assert bumped()
    accounts.set_active(clinic, desk.admin, clerk.user_id, False)
    assert bumped()
    accounts.set_active(clinic, desk.admin, clerk.user_id, True)
    assert bumped()
    assert accounts.authenticate(clinic, "clerk", "secret-3").version == seen[-1]
    with clinic.read() as s:  # every change is in the audit log as before
        assert s.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.entity_id == clerk.user_id, AuditEntry.action.in_(
                ("user.update", "user.permissions", "user.password_reset", "user.disable", "user.enable")))) == 8


# --- no service can forget the check ----------------------------------------------------------------

# Modules whose functions take the user without being a service: they hand it to the services they wrap.
NOT_SERVICES = {"meike.journal": "the local journal of pending money calls: it writes down who, then calls "
                                 "the service, which checks",
                "meike.services.ledger.idempotent": "money_op, the money services' skeleton: no window calls it; "
                                                    "each service that does checks first (and is scanned here)"}
# The Actor's checks: each compares the account with the database (Actor.check_live) first.
ACTOR_CHECKS = {"require_page", "require_any_page", "require_right", "require_admin", "check_live"}

Function = tuple[str, str]  # (module, name)


def _module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _scan() -> tuple[dict[Function, ast.FunctionDef], dict[Function, set[Function | str]]]:
    """Every function of meike/ and what it calls, resolved: a function of its own module, one imported
    from meike (``from meike.services import scope`` … ``scope.customer_clause``), or ``"check"`` for an
    Actor's check method. Other calls (a session's, a widget's) are nobody's check."""
    root = Path(__file__).resolve().parents[2]
    defs: dict[Function, ast.FunctionDef] = {}
    trees = {}
    for path in sorted((root / "meike").rglob("*.py")):
        if "migrations" not in path.parts:
            trees[_module_name(path, root)] = ast.parse(path.read_text(encoding="utf-8"))
    for module, tree in trees.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef):
                defs.setdefault((module, node.name), node)
    calls: dict[Function, set[Function | str]] = {}
    for module, tree in trees.items():
        names: dict[str, Function] = {}  # imported function → its definition
        modules: dict[str, str] = {}  # alias → imported meike module
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("meike"):
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    if full in trees:
                        modules[alias.asname or alias.name] = full
                    else:
                        names[alias.asname or alias.name] = (node.module or "", alias.name)
        for (mod, name), node in defs.items():
            if mod != module:
                continue
            found: set[Function | str] = set()
            for call in ast.walk(node):
                if not isinstance(call, ast.Call):
                    continue
                f = call.func
                if isinstance(f, ast.Name):
                    found.add((module, f.id) if (module, f.id) in defs else names.get(f.id, ("", f.id)))
                elif isinstance(f, ast.Attribute):
                    if f.attr in ACTOR_CHECKS:
                        found.add("check")
                    elif isinstance(f.value, ast.Name) and f.value.id in modules:
                        found.add((modules[f.value.id], f.attr))
            calls[(mod, name)] = found
    return defs, calls


def test_every_service_that_takes_a_user_checks_the_account() -> None:
    """Every function of meike/ that takes the clinic and the acting user (a service a window calls)
    reaches one of the Actor's checks, which compare the account with the database, itself or through
    the functions it calls (``can_open`` / ``has_right`` / ``scope.in_scope`` answer from the login and
    are no check)."""
    defs, calls = _scan()

    def checks(fn: Function | str, seen: set[Function]) -> bool:
        if fn == "check":
            return True
        if isinstance(fn, str) or fn in seen or fn not in calls:
            return False
        seen.add(fn)
        return any(checks(c, seen) for c in calls[fn])

    assert checks(("meike.services.scope", "customer_clause"), set())  # the scan sees through modules
    assert not checks(("meike.services.scope", "in_scope"), set())
    missing = []
    for (module, name), node in defs.items():
        params = [a.arg for a in node.args.args + node.args.kwonlyargs]
        if name.startswith("_") or "clinic" not in params or "actor" not in params or module in NOT_SERVICES:
            continue
        if not checks((module, name), set()):
            missing.append(f"{module}.{name}")
    assert missing == []
