"""Accounts desk: login messages and lockout settings, the administrator's account manager, audit.

First run, argon2id hashes and the default five-tries lockout are in ``test_smoke_accounts.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from meike import clock
from meike.db import Clinic
from meike.errors import LoginFailed, NotFound, PermissionDenied, ValidationError
from meike.models import AuditEntry, LoginThrottle, User
from meike.permissions import Actor, DataScope, Page, Right, page_code, right_code
from meike.services import accounts, audit, customers, dictionaries, system
from meike.services.dictionaries import Kind
from tests.conftest import make_user


def _login_error(clinic: Clinic, username: str, password: str, **kw: Any) -> str:
    with pytest.raises(LoginFailed) as e:
        accounts.authenticate(clinic, username, password, **kw)
    return e.value.message


def _user_id(clinic: Clinic, username: str) -> int:
    with clinic.read() as s:
        user_id = s.scalar(select(User.id).where(User.username == username))
    assert user_id is not None
    return user_id


def _department(clinic: Clinic, user: Actor, name: str = "客服部") -> int:
    return dictionaries.add_entry(clinic, user, Kind.DEPARTMENT, {"name": name})


# --- login ---------------------------------------------------------------------------------------

WRONG = "用户名或密码不正确"


def test_wrong_password_keeps_counting_and_success_resets_the_count(clinic: Clinic, admin: Actor) -> None:
    make_user(clinic, admin, "nurse")
    uid = _user_id(clinic, "nurse")
    t0 = clock.now()
    assert _login_error(clinic, "nurse", "wrong", now=t0) == WRONG
    assert _login_error(clinic, "nurse", "wrong", now=t0) == WRONG
    assert accounts.get_account(clinic, admin, uid).locked_until is None
    assert accounts.authenticate(clinic, "nurse", "secret-1", now=t0).username == "nurse"
    # A good login starts the count again: four more failures still answer at once.
    for _ in range(4):
        assert _login_error(clinic, "nurse", "wrong", now=t0) == WRONG


def test_unknown_wrong_and_disabled_get_one_answer(clinic: Clinic, admin: Actor) -> None:
    make_user(clinic, admin, "nurse")
    make_user(clinic, admin, "gone")
    accounts.set_active(clinic, admin, _user_id(clinic, "gone"), False)
    answers = {_login_error(clinic, "nobody", "secret-1"), _login_error(clinic, "nurse", "wrong"),
               _login_error(clinic, "gone", "secret-1"), _login_error(clinic, "gone", "wrong")}
    assert answers == {WRONG}
    # The audit log (the administrator's) keeps the real reason.
    with clinic.read() as s:
        reasons = [str(a) for a in s.scalars(select(AuditEntry.after).where(AuditEntry.action == "login.failed"))]
    assert sum("无此用户" in d for d in reasons) == 1 and sum("已停用" in d for d in reasons) == 2


def test_disabled_account_is_refused_even_with_the_right_password(clinic: Clinic, admin: Actor) -> None:
    make_user(clinic, admin, "nurse")
    accounts.set_active(clinic, admin, _user_id(clinic, "nurse"), False)
    assert _login_error(clinic, "nurse", "secret-1") == WRONG
    accounts.set_active(clinic, admin, _user_id(clinic, "nurse"), True)
    assert accounts.authenticate(clinic, "nurse", "secret-1").username == "nurse"


class CountingHasher:
    """The real (cheap) hasher, counting its work: the same count means the same time, whatever the branch."""

    def __init__(self, real: Any) -> None:
        self.real, self.verifies, self.hashes = real, 0, 0

    def hash(self, password: str) -> str:
        self.hashes += 1
        return str(self.real.hash(password))

    def verify(self, password_hash: str, password: str) -> bool:
        self.verifies += 1
        return bool(self.real.verify(password_hash, password))

    def check_needs_rehash(self, password_hash: str) -> bool:
        return bool(self.real.check_needs_rehash(password_hash))


def test_every_answer_costs_one_password_check(clinic: Clinic, admin: Actor, monkeypatch: pytest.MonkeyPatch) -> None:
    """Unknown name, wrong password, disabled account, a waiting name, the right password: one verify each
    and no other hashing (it was 0 for an unknown or disabled name: 4 ms against 314 ms)."""
    make_user(clinic, admin, "nurse")
    make_user(clinic, admin, "gone")
    accounts.set_active(clinic, admin, _user_id(clinic, "gone"), False)
    counting = CountingHasher(accounts.hasher)
    monkeypatch.setattr(accounts, "hasher", counting)
    t0 = clock.now()
    _login_error(clinic, "nobody", "x", now=t0)  # the dummy hash is made once, on the first attempt
    for _ in range(5):
        _login_error(clinic, "waiting", "x", now=t0)
    branches: dict[str, Callable[[], object]] = {
        "unknown": lambda: _login_error(clinic, "nobody-else", "secret-1", now=t0),
        "wrong": lambda: _login_error(clinic, "nurse", "wrong", now=t0),
        "disabled": lambda: _login_error(clinic, "gone", "secret-1", now=t0),
        "waiting": lambda: _login_error(clinic, "waiting", "x", now=t0),
        "right": lambda: accounts.authenticate(clinic, "nurse", "secret-1", now=t0),
        "supervisor unknown": lambda: pytest.raises(PermissionDenied, accounts.verify_supervisor, clinic, "nobody",
                                                    "x", Right.VOID, now=t0),
        "supervisor disabled": lambda: pytest.raises(PermissionDenied, accounts.verify_supervisor, clinic, "gone",
                                                     "secret-1", Right.VOID, now=t0),
    }
    work = {}
    for branch, call in branches.items():
        counting.verifies = counting.hashes = 0
        call()
        work[branch] = (counting.verifies, counting.hashes)
    assert work == dict.fromkeys(branches, (1, 0))


def _fail(clinic: Clinic, username: str, now: datetime, times: int = 1, **kw: Any) -> list[str]:
    return [_login_error(clinic, username, "wrong", now=now, **kw) for _ in range(times)]


def test_failures_past_the_free_ones_wait_twice_as_long_each_time_up_to_the_cap(
        clinic: Clinic, admin: Actor) -> None:
    make_user(clinic, admin, "nurse")
    t = clock.now()
    assert _fail(clinic, "nurse", t, 4) == [WRONG] * 4
    waits = []
    for _ in range(8):
        message = _login_error(clinic, "nurse", "wrong", now=t)
        waits.append(message.removeprefix(f"{WRONG}。尝试次数过多，请 ").removesuffix("后再试"))
        # While it waits even the right password is refused, with the time left.
        assert _login_error(clinic, "nurse", "secret-1", now=t + timedelta(seconds=1)).startswith("尝试次数过多，请 ")
        t += timedelta(minutes=16)  # past the longest wait
    assert waits == ["30 秒", "1 分钟", "2 分钟", "4 分钟", "8 分钟", "15 分钟", "15 分钟", "15 分钟"]
    assert accounts.authenticate(clinic, "nurse", "secret-1", now=t).username == "nurse"


def test_an_unknown_name_waits_exactly_like_a_real_one(clinic: Clinic, admin: Actor) -> None:
    make_user(clinic, admin, "nurse")
    t0 = clock.now()
    real = _fail(clinic, "nurse", t0, 6, workstation="pc-1") + [_login_error(clinic, "nurse", "x", now=t0,
                                                                              workstation="pc-2")]
    made_up = _fail(clinic, "nobody", t0, 6, workstation="pc-3") + [_login_error(clinic, "nobody", "x", now=t0,
                                                                                  workstation="pc-4")]
    assert real == made_up
    assert real[-2:] == ["尝试次数过多，请 30 秒后再试"] * 2  # also from another workstation: the name waits


def test_the_only_administrator_is_delayed_never_locked_out(clinic: Clinic, admin: Actor) -> None:
    t = clock.now()
    for _ in range(100):  # an attacker trying again each time the wait is over, all day
        _login_error(clinic, "admin", "guess", now=t, workstation="attacker")
        t += timedelta(minutes=15)
    # The administrator at another PC waits at most the cap (15 minutes) after the last guess.
    assert _login_error(clinic, "admin", "admin-pass", now=t - timedelta(minutes=1), workstation="office").startswith(
        "尝试次数过多")
    assert accounts.authenticate(clinic, "admin", "admin-pass", now=t, workstation="office").is_admin


def test_a_workstation_trying_many_names_is_slowed_down(clinic: Clinic, admin: Actor) -> None:
    t0 = clock.now()
    answers = [_login_error(clinic, f"name{i}", "guess", now=t0, workstation="kiosk") for i in range(15)]
    assert answers[:14] == [WRONG] * 14
    assert answers[14] == f"{WRONG}。尝试次数过多，请 30 秒后再试"
    # Every name now waits at this workstation (a new name included), not at another one.
    assert _login_error(clinic, "name99", "guess", now=t0, workstation="kiosk") == "尝试次数过多，请 30 秒后再试"
    assert _login_error(clinic, "name99", "guess", now=t0, workstation="desk") == WRONG
    assert _login_error(clinic, "name98", "guess", now=t0 + timedelta(seconds=30), workstation="kiosk").endswith(
        "请 1 分钟后再试")


def test_typed_names_are_cut_before_they_are_stored_or_logged(clinic: Clinic, admin: Actor) -> None:
    long_name = "x" * 32_767
    assert _login_error(clinic, long_name, "guess") == WRONG
    assert _login_error(clinic, "ab\x00c\u200b" + "y" * 100, "guess") == WRONG
    with clinic.read() as s:
        failed = select(AuditEntry).where(AuditEntry.action == "login.failed").order_by(AuditEntry.id)
        stored = [str(e.after) for e in s.scalars(failed)]
        names = [e.username for e in s.scalars(failed)]
        keys = list(s.scalars(select(LoginThrottle.key)))
    # a name that is no account: its first character and its length (cut to 64) only
    assert all(len(v) < 200 for v in stored) and "x***（未知用户名，64 个字）" in stored[0] and "xx" not in stored[0]
    assert "\x00" not in stored[1] and "\\u0000" not in stored[1]
    assert all(len(n) <= 40 for n in names)
    assert all(len(k) == 64 and "x" not in k for k in keys)  # SHA-256 hex digests, no typed text


def test_lock_settings_changed_in_system_settings_take_effect(clinic: Clinic, admin: Actor, user: Actor) -> None:
    system.update(clinic, user, {"login.max_failures": "3", "login.lock_minutes": "30"})
    make_user(clinic, admin, "nurse")
    t = clock.now()
    assert _fail(clinic, "nurse", t, 2) == [WRONG] * 2
    assert _fail(clinic, "nurse", t) == [f"{WRONG}。尝试次数过多，请 30 秒后再试"]
    for _ in range(6):
        t += timedelta(minutes=31)
        _fail(clinic, "nurse", t)
    assert "请 30 分钟后再试" in _login_error(clinic, "nurse", "secret-1", now=t)
    assert accounts.authenticate(clinic, "nurse", "secret-1", now=t + timedelta(minutes=30)).username == "nurse"


def _lock(clinic: Clinic, username: str) -> None:
    for _ in range(5):
        with pytest.raises(LoginFailed):
            accounts.authenticate(clinic, username, "wrong")
    assert _login_error(clinic, username, "secret-1").startswith("尝试次数过多")


def test_admin_password_reset_lifts_a_lockout(clinic: Clinic, admin: Actor) -> None:
    make_user(clinic, admin, "nurse")
    _lock(clinic, "nurse")
    accounts.reset_password(clinic, admin, _user_id(clinic, "nurse"), password="new-pass-1", confirm="new-pass-1")
    assert accounts.authenticate(clinic, "nurse", "new-pass-1").username == "nurse"
    assert _login_error(clinic, "nurse", "secret-1") == WRONG


def test_reset_password_checks_length_and_confirmation(clinic: Clinic, admin: Actor) -> None:
    make_user(clinic, admin, "nurse")
    uid = _user_id(clinic, "nurse")
    with pytest.raises(ValidationError) as e:
        accounts.reset_password(clinic, admin, uid, password="123", confirm="123")
    assert "password" in e.value.errors
    with pytest.raises(ValidationError) as e:
        accounts.reset_password(clinic, admin, uid, password="abcdef", confirm="abcdeX")
    assert "confirm" in e.value.errors
    assert accounts.authenticate(clinic, "nurse", "secret-1").username == "nurse"


def test_unlock_lets_the_user_in_with_the_old_password(clinic: Clinic, admin: Actor) -> None:
    make_user(clinic, admin, "nurse")
    uid = _user_id(clinic, "nurse")
    _lock(clinic, "nurse")
    assert accounts.get_account(clinic, admin, uid).locked_until is not None
    accounts.unlock(clinic, admin, uid)
    assert accounts.get_account(clinic, admin, uid).locked_until is None
    assert accounts.authenticate(clinic, "nurse", "secret-1").username == "nurse"
    assert "user.unlock" in [r.action for r in audit.recent(clinic, admin, entity="user")]


def test_change_own_password_needs_the_old_one(clinic: Clinic, admin: Actor, user: Actor) -> None:
    with pytest.raises(ValidationError) as e:
        accounts.change_own_password(clinic, user, old="wrong-1", new="brand-new", confirm="brand-new")
    assert "old" in e.value.errors
    accounts.change_own_password(clinic, user, old="secret-1", new="brand-new", confirm="brand-new")
    assert accounts.authenticate(clinic, "front", "brand-new").username == "front"


def test_the_old_password_is_guessed_no_faster_than_at_the_login(
        clinic: Clinic, admin: Actor, user: Actor, monkeypatch: pytest.MonkeyPatch) -> None:
    """Someone at an unlocked PC trying old passwords in 修改密码 meets the login's throttle."""
    t0 = clock.now()
    monkeypatch.setattr(clock, "now", lambda: t0)
    for _ in range(5):
        with pytest.raises(ValidationError) as e:
            accounts.change_own_password(clinic, user, old="guess", new="brand-new", confirm="brand-new")
    assert "尝试次数过多" in e.value.errors["old"]
    with pytest.raises(ValidationError) as e:  # even the right one waits
        accounts.change_own_password(clinic, user, old="secret-1", new="brand-new", confirm="brand-new")
    assert "尝试次数过多" in e.value.errors["old"]
    assert _login_error(clinic, "front", "secret-1", now=t0).startswith("尝试次数过多")  # the same counter
    failed = [r for r in audit.recent(clinic, admin, entity="user") if r.action == "login.failed"]
    assert len(failed) >= 5
    monkeypatch.setattr(clock, "now", lambda: t0 + timedelta(hours=1))
    accounts.change_own_password(clinic, user, old="secret-1", new="brand-new", confirm="brand-new")
    assert accounts.authenticate(clinic, "front", "brand-new").username == "front"


# --- who may manage accounts ---------------------------------------------------------------------


MANAGER_CALLS: dict[str, Callable[[Clinic, Actor, int], object]] = {
    "list_accounts": lambda c, a, uid: accounts.list_accounts(c, a),
    "get_account": lambda c, a, uid: accounts.get_account(c, a, uid),
    "create_account": lambda c, a, uid: accounts.create_account(c, a, username="sneaky", password="secret-9"),
    "update_account": lambda c, a, uid: accounts.update_account(
        c, a, uid, username="target", display_name="x", department_id=None, staff_id=None,
        data_scope="all", grants={page_code(p) for p in Page} | {right_code(r) for r in Right}),
    "set_active": lambda c, a, uid: accounts.set_active(c, a, uid, False),
    "reset_password": lambda c, a, uid: accounts.reset_password(c, a, uid, password="hacked-1"),
    "unlock": lambda c, a, uid: accounts.unlock(c, a, uid),
    "delete_account": lambda c, a, uid: accounts.delete_account(c, a, uid),
    "audit.recent": lambda c, a, uid: audit.recent(c, a),
}


@pytest.mark.parametrize("call", list(MANAGER_CALLS))
def test_ordinary_users_cannot_use_the_account_manager(clinic: Clinic, admin: Actor, call: str) -> None:
    # Even a user with every page and every supervisor right is not an administrator.
    boss = make_user(clinic, admin, "boss", grants={right_code(r) for r in Right})
    accounts.create_account(clinic, admin, username="target", password="secret-1")
    target = _user_id(clinic, "target")
    before = accounts.get_account(clinic, admin, target)
    with pytest.raises(PermissionDenied):
        MANAGER_CALLS[call](clinic, boss, target)
    assert accounts.get_account(clinic, admin, target) == before
    assert "sneaky" not in {a.username for a in accounts.list_accounts(clinic, admin)}


def test_administrator_cannot_disable_itself(clinic: Clinic, admin: Actor) -> None:
    with pytest.raises(ValidationError) as e:
        accounts.set_active(clinic, admin, admin.user_id, False)
    assert "is_active" in e.value.errors
    assert accounts.get_account(clinic, admin, admin.user_id).is_active


def test_administrator_account_cannot_be_deleted(clinic: Clinic, admin: Actor) -> None:
    with pytest.raises(ValidationError):
        accounts.delete_account(clinic, admin, admin.user_id)
    assert accounts.get_account(clinic, admin, admin.user_id).is_admin


def test_unknown_account_is_not_found(clinic: Clinic, admin: Actor) -> None:
    with pytest.raises(NotFound):
        accounts.get_account(clinic, admin, 9999)
    with pytest.raises(NotFound):
        accounts.reset_password(clinic, admin, 9999, password="secret-1")


def test_admin_actor_opens_no_page_and_cannot_edit_dictionaries(clinic: Clinic, admin: Actor) -> None:
    assert not any(admin.can_open(p) for p in Page)
    assert admin.pages == []
    with pytest.raises(PermissionDenied):
        dictionaries.add_entry(clinic, admin, Kind.CHANNEL, {"name": "抖音"})


def test_a_user_without_the_settings_page_cannot_edit_dictionaries(clinic: Clinic, admin: Actor) -> None:
    desk = make_user(clinic, admin, "desk", pages=[Page.REGISTRATION, Page.CUSTOMERS])
    with pytest.raises(PermissionDenied):
        dictionaries.add_entry(clinic, desk, Kind.CHANNEL, {"name": "抖音"})
    assert dictionaries.list_entries(clinic, desk, Kind.CHANNEL, include_inactive=True) == []


# --- creating and editing accounts ---------------------------------------------------------------


def test_duplicate_username_is_refused_whatever_the_case(clinic: Clinic, admin: Actor) -> None:
    accounts.create_account(clinic, admin, username="nurse", password="secret-1")
    with pytest.raises(ValidationError) as e:
        accounts.create_account(clinic, admin, username=" Nurse ", password="secret-1")
    assert set(e.value.errors) == {"username"}
    assert "已存在" in e.value.errors["username"]
    # Renaming another account onto it is refused too; keeping one's own name is fine.
    accounts.create_account(clinic, admin, username="doctor", password="secret-1")
    doctor = _user_id(clinic, "doctor")
    with pytest.raises(ValidationError) as e:
        accounts.update_account(clinic, admin, doctor, username="NURSE", display_name="", department_id=None,
                                staff_id=None, data_scope="own", grants=set())
    assert "username" in e.value.errors
    accounts.update_account(clinic, admin, doctor, username="Doctor", display_name="吴医生", department_id=None,
                            staff_id=None, data_scope="own", grants=set())
    assert accounts.get_account(clinic, admin, doctor).username == "Doctor"
    with clinic.read() as s:
        assert s.scalar(select(func.count()).select_from(User)) == 3


def test_bad_usernames_and_unknown_grants_are_refused(clinic: Clinic, admin: Actor) -> None:
    with pytest.raises(ValidationError) as e:
        accounts.create_account(clinic, admin, username="a b", password="secret-1", grants={"page:nowhere"})
    assert set(e.value.errors) == {"username", "grants"}
    assert "page:nowhere" in e.value.errors["grants"]
    assert accounts.create_account(clinic, admin, username="李静", password="secret-1") > 0


def test_department_scope_needs_a_department(clinic: Clinic, admin: Actor, user: Actor) -> None:
    with pytest.raises(ValidationError) as e:
        accounts.create_account(clinic, admin, username="wl", password="secret-1",
                                data_scope=DataScope.DEPARTMENT.value)
    assert "department_id" in e.value.errors
    dept = _department(clinic, user, "网络部")
    uid = accounts.create_account(clinic, admin, username="wl", password="secret-1",
                                  data_scope=DataScope.DEPARTMENT.value, department_id=dept)
    with pytest.raises(ValidationError) as e:
        accounts.update_account(clinic, admin, uid, username="wl", display_name="", department_id=None,
                                staff_id=None, data_scope="department", grants=set())
    assert "department_id" in e.value.errors
    view = accounts.get_account(clinic, admin, uid)
    assert (view.department_id, view.data_scope, view.department_name) == (dept, DataScope.DEPARTMENT, "网络部")


def test_granted_pages_and_scope_reach_the_logged_in_actor(clinic: Clinic, admin: Actor) -> None:
    accounts.create_account(clinic, admin, username="sy", password="secret-1", data_scope="all",
                            grants={page_code(Page.CASHIER), right_code(Right.REFUND)})
    actor = accounts.authenticate(clinic, "sy", "secret-1")
    assert actor.pages == [Page.CASHIER]
    assert actor.has_right(Right.REFUND) and not actor.has_right(Right.VOID)
    assert actor.data_scope is DataScope.ALL


def test_delete_refused_for_a_user_with_records_allowed_for_a_fresh_one(clinic: Clinic, admin: Actor) -> None:
    worker = make_user(clinic, admin, "worker")
    customers.register_customer(clinic, worker, name="张三", mobile="13800138000")
    with pytest.raises(ValidationError) as e:
        accounts.delete_account(clinic, admin, worker.user_id)
    assert "停用" in e.value.message
    assert accounts.get_account(clinic, admin, worker.user_id).is_active

    typo = accounts.create_account(clinic, admin, username="typo", password="secret-1",
                                   grants={page_code(Page.DASHBOARD)})
    accounts.delete_account(clinic, admin, typo)
    with pytest.raises(NotFound):
        accounts.get_account(clinic, admin, typo)
    assert "typo" not in {a.username for a in accounts.list_accounts(clinic, admin)}


def _actions(clinic: Clinic, admin: Actor) -> list[audit.AuditRow]:
    return [r for r in reversed(audit.recent(clinic, admin, entity="user")) if r.action.startswith("user.")]


def test_every_account_change_is_audited_with_before_and_after(clinic: Clinic, admin: Actor) -> None:
    dashboard, cashier = page_code(Page.DASHBOARD), page_code(Page.CASHIER)
    uid = accounts.create_account(clinic, admin, username="nurse", password="secret-1", grants={dashboard})
    accounts.update_account(clinic, admin, uid, username="nurse", display_name="何琳", department_id=None,
                            staff_id=None, data_scope="own", grants={dashboard})
    accounts.update_account(clinic, admin, uid, username="nurse", display_name="何琳", department_id=None,
                            staff_id=None, data_scope="all", grants={cashier, right_code(Right.VOID)})
    accounts.update_account(clinic, admin, uid, username="nurse", display_name="何琳", department_id=None,
                            staff_id=None, data_scope="all", grants={cashier, right_code(Right.VOID)})  # no change
    accounts.set_active(clinic, admin, uid, False)
    accounts.set_active(clinic, admin, uid, True)
    accounts.reset_password(clinic, admin, uid, password="secret-2")
    accounts.delete_account(clinic, admin, uid)

    rows = _actions(clinic, admin)
    assert [r.action for r in rows] == ["user.create", "user.update", "user.permissions", "user.disable",
                                        "user.enable", "user.password_reset", "user.delete"]
    assert all(r.username == "admin" and r.entity_id == uid for r in rows)
    create, update, perms, disable, _, reset, delete = rows
    assert create.before is None and create.after is not None
    assert create.after["grants"] == [dashboard]
    assert update.before is not None and update.after is not None
    assert (update.before["display_name"], update.after["display_name"]) == ("", "何琳")
    assert perms.before is not None and perms.after is not None
    assert perms.before["grants"] == [dashboard] and perms.before["data_scope"] == "own"
    assert perms.after["grants"] == sorted([cashier, right_code(Right.VOID)])
    assert perms.after["data_scope"] == "all"
    assert disable.before == {"is_active": True} and disable.after == {"is_active": False}
    assert reset.before is None and reset.after is None  # the password itself is never logged
    assert delete.before is not None and delete.before["username"] == "nurse"
    assert all("secret" not in str(r.after) for r in rows)


# --- supervisor confirmation ---------------------------------------------------------------------


def test_verify_supervisor(clinic: Clinic, admin: Actor) -> None:
    make_user(clinic, admin, "boss", grants={right_code(Right.VOID)})
    make_user(clinic, admin, "clerk")
    approver = accounts.verify_supervisor(clinic, " boss ", "secret-1", Right.VOID)
    assert approver.username == "boss" and approver.has_right(Right.VOID)
    with pytest.raises(PermissionDenied, match="没有此项审批权限"):
        accounts.verify_supervisor(clinic, "boss", "secret-1", Right.REFUND)
    with pytest.raises(PermissionDenied, match="没有此项审批权限"):
        accounts.verify_supervisor(clinic, "clerk", "secret-1", Right.VOID)
    with pytest.raises(PermissionDenied, match="用户名或密码错误"):
        accounts.verify_supervisor(clinic, "boss", "wrong-pass", Right.VOID)
    with pytest.raises(PermissionDenied, match="用户名或密码错误"):
        accounts.verify_supervisor(clinic, "nobody", "secret-1", Right.VOID)
    # The administrator holds no business rights; a disabled supervisor approves nothing.
    with pytest.raises(PermissionDenied):
        accounts.verify_supervisor(clinic, "admin", "admin-pass", Right.VOID)
    accounts.set_active(clinic, admin, _user_id(clinic, "boss"), False)
    with pytest.raises(PermissionDenied):
        accounts.verify_supervisor(clinic, "boss", "secret-1", Right.VOID)


def test_a_typed_name_cannot_turn_itself_round_in_the_audit_log(clinic: Clinic, admin: Actor) -> None:
    """Review of issue 14: a right-to-left override typed in the name field reversed the display of the
    administrator's 操作日志; an unknown name (maybe a password typed in the wrong field) was logged whole."""
    assert accounts.typed_name("\u202eadmin\u200b") == "admin"
    assert _login_error(clinic, "\u202emy-secret-password", "x") == WRONG
    with clinic.read() as s:
        after = s.scalars(select(AuditEntry.after).where(AuditEntry.action == "login.failed")
                          .order_by(AuditEntry.id.desc())).first()
    assert after is not None and "secret" not in after and "\u202e" not in after and "m***" in after
