"""Accounts desk: login with throttling, and the administrator's account manager."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Integer, bindparam, delete, func, select
from sqlalchemy.orm import Session

from meike import clock
from meike.db import Clinic
from meike.db.prepared import Prepared
from meike.errors import LoginFailed, NotFound, PermissionDenied, ValidationError
from meike.models import AuditEntry, Customer, Department, LoginThrottle, Staff, User, UserGrant
from meike.permissions import ALL_GRANT_CODES, AccountLink, Actor, DataScope, Right, right_code
from meike.rules.text import normalise_text, take_text, text_error, unsafe_char
from meike.services import audit, system
from meike.services.login_throttle import (
    FIRST_WAIT as FIRST_WAIT,  # re-exported: accounts.<name> keeps working
)
from meike.services.login_throttle import FORGET_AFTER as FORGET_AFTER
from meike.services.login_throttle import MAX_TYPED_NAME as MAX_TYPED_NAME
from meike.services.login_throttle import WORKSTATION_FREE_FACTOR as WORKSTATION_FREE_FACTOR
from meike.services.login_throttle import Throttles, throttle_key, wait_text
from meike.services.login_throttle import typed_name as typed_name
from meike.services.login_throttle import wait_after as wait_after
from meike.services.login_throttle import workstation_id as workstation_id

MIN_PASSWORD_LENGTH = 6
USERNAME_RE = re.compile(r"[A-Za-z0-9_.\-\u4e00-\u9fff]{2,40}\Z")
USERNAME_RULE = "用户名为 2–40 位字母、数字、汉字或 _ . -"
MAX_PASSWORD_LENGTH = 128
CLINIC_NAME_MAX = 60

# argon2id with the library's defaults; tests may swap in cheaper parameters.
hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
    except UnicodeError:  # a lone surrogate cannot be a password (none was ever set): the same work, no
        hasher.verify(password_hash, password.encode("utf-8", "surrogatepass"))  # type: ignore[arg-type]
        return False


# An account's version and whether it is active: the one small SELECT (by primary key, on a reader
# connection of its own, no ORM) that every service call's check makes (Actor.check_live).
_ACCOUNT_STATE = Prepared(lambda: select(User.account_version, User.is_active)
                          .where(User.id == bindparam("user_id", type_=Integer)))


def account_link(clinic: Clinic) -> AccountLink:
    """How a login's Actor reads its account in ``clinic`` (one link per login: the window watches it)."""
    engine = clinic.engine

    def state(user_id: int) -> tuple[int, bool] | None:
        rows = _ACCOUNT_STATE.rows(engine, {"user_id": user_id})
        return (int(rows[0][0]), bool(rows[0][1])) if rows else None

    return AccountLink(state)


def actor_for(user: User, account: AccountLink) -> Actor:
    """The Actor of ``user`` as the database holds it now (its version included)."""
    return Actor(
        user_id=user.id,
        username=user.username,
        display_name=user.display_name,
        is_admin=user.is_admin,
        department_id=user.department_id,
        staff_id=user.staff_id,
        data_scope=DataScope(user.data_scope),
        grants=frozenset(user.grant_codes),
        version=user.account_version or 1,
        account=account,
    )


# --- first run ---------------------------------------------------------------------------------


def initialise_clinic(clinic: Clinic, *, clinic_name: str, admin_password: str, confirm: str,
                      admin_username: str = "admin") -> Actor:
    """First run on an empty database: name the clinic and create the administrator."""
    errors: dict[str, str] = {}
    clinic_name = take_text(errors, clinic_name, field="clinic_name", label="诊所名称", limit=CLINIC_NAME_MAX,
                            required=True)
    admin_username = admin_username.strip()
    if not USERNAME_RE.match(admin_username):
        errors["admin_username"] = USERNAME_RULE
    errors.update(_password_errors(admin_password, confirm))
    if errors:
        raise ValidationError(errors)
    with clinic.write() as s:
        if s.scalar(select(func.count()).select_from(User).where(User.is_admin.is_(True))):
            raise ValidationError.single("clinic_name", "这个数据库已经初始化过了")
        admin = User(username=admin_username, display_name="管理员", is_admin=True,
                     password_hash=hash_password(admin_password), data_scope=DataScope.ALL.value,
                     created_at=clock.now())
        s.add(admin)
        s.flush()
        actor = actor_for(admin, account_link(clinic))
        system.set_in(s, actor, "clinic.name", clinic_name)
        audit.record(s, actor, "clinic.initialise", "user", admin.id, after={"username": admin_username})
        return actor


def _password_errors(password: str, confirm: str | None, field: str = "password") -> dict[str, str]:
    if len(password) < MIN_PASSWORD_LENGTH:
        return {field: f"密码至少 {MIN_PASSWORD_LENGTH} 位"}
    if len(password) > MAX_PASSWORD_LENGTH:
        return {field: f"密码不能超过 {MAX_PASSWORD_LENGTH} 位"}
    if unsafe_char(password) is not None:
        return {field: "密码含有无法使用的字符（控制字符）"}
    if confirm is not None and password != confirm:
        return {"confirm": "两次输入的密码不一致"}
    return {}


# --- login -------------------------------------------------------------------------------------
#
# Every failed login answers the same ("用户名或密码不正确") and costs the same: an unknown name and a
# disabled account verify the password against a dummy hash, so the hasher runs once in every branch.
# Failures are counted per typed name (known or not, in ``login_throttles`` under a SHA-256 of the
# name) and per workstation. Past the free attempts (``login.max_failures`` for a name, three times as
# many for a workstation) each failure makes the next attempt wait twice as long, from 30 seconds up
# to ``login.lock_minutes``: an attacker slows down, nobody (the administrator included) is shut out
# for longer than that. A quiet day forgets a name's or a workstation's failures; a good login forgets
# the name's. Time comes from ``meike.clock``.

WRONG = "用户名或密码不正确"
_dummy: tuple[object, str] | None = None


def _dummy_hash() -> str:
    """A hash of a random password, made once per hasher, to verify against when there is no account."""
    global _dummy
    if _dummy is None or _dummy[0] is not hasher:
        _dummy = (hasher, hasher.hash(secrets.token_urlsafe(16)))
    return _dummy[1]


def _attempt(s: Session, name: str, password: str, *, workstation: str | None, now: datetime,
             who: str) -> tuple[User | None, str | None]:
    """One login attempt inside a write transaction: (the user when the password is right, the failure).

    The hasher runs exactly once whatever the outcome; the failure text is the same for an unknown
    name, a wrong password and a disabled account (the audit log keeps the real reason).
    """
    dummy = _dummy_hash()  # made on the first attempt of whatever kind, so it costs no branch alone
    throttles = Throttles.load(s, name, workstation or workstation_id(), now)
    if not name:  # nothing to look up, and nothing to count
        verify_password(dummy, password)
        return None, WRONG
    waiting = throttles.waiting(now)
    user = s.scalar(select(User).where(User.username == name))
    if waiting is not None:
        verify_password(dummy, password)
        return None, f"尝试次数过多，请 {wait_text(waiting)}后再试"
    if user is None or not user.is_active:
        verify_password(dummy, password)  # the same work as a real check; the answer is no
        ok, reason = False, "无此用户" if user is None else "已停用"
    else:
        ok, reason = verify_password(user.password_hash, password), "密码错误"
    if ok:
        assert user is not None
        throttles.succeeded()
        user.failed_logins, user.locked_until = 0, None
        return user, None
    wait = throttles.failed(s, now)
    name_row = throttles.name_row
    if user is not None and name_row is not None:  # the account manager shows an account's failures and wait
        user.failed_logins, user.locked_until = name_row.failures, name_row.blocked_until
    user_id = user.id if user is not None else None
    # A name that is no account is logged by its first character only: it may be a password typed into
    # the name field, or someone's name.
    shown = name if user is not None else f"{name[:1]}***（未知用户名，{len(name)} 个字）"
    audit.record(s, None, "login.failed", "user", user_id, after={"username": shown, "reason": f"{who}{reason}"},
                 who=shown[:40])
    if wait is None:
        return None, WRONG
    audit.record(s, None, "login.locked", "user", user_id,
                 after={"username": shown, "wait_seconds": int(wait.total_seconds()), "until": now + wait},
                 who=shown[:40])
    return None, f"{WRONG}。尝试次数过多，请 {wait_text(wait)}后再试"


def authenticate(clinic: Clinic, username: str, password: str, *, now: datetime | None = None,
                 workstation: str | None = None) -> Actor:
    """Check a login (the login dialog, the idle lock's unlock).

    Raises:
        LoginFailed: "用户名或密码不正确" for every wrong name, password or disabled account, or the
            wait when there were too many failures.
    """
    now = now or clock.now()
    name = typed_name(username)
    with clinic.write() as s:
        user, failure = _attempt(s, name, password, workstation=workstation, now=now, who="")
        if user is not None:
            if hasher.check_needs_rehash(user.password_hash):
                user.password_hash = hash_password(password)
            user.last_login_at = now
            actor = actor_for(user, account_link(clinic))
            audit.record(s, actor, "login.ok", "user", user.id)
    if failure is not None:
        raise LoginFailed(failure)
    return actor


def verify_supervisor(clinic: Clinic, username: str, password: str, right: Right, *,
                      now: datetime | None = None, workstation: str | None = None) -> Actor:
    """A supervisor confirms a sensitive action with their own password; returns them as an Actor.

    Wrong passwords count toward the same throttle as the login, so approvals cannot be guessed.
    """
    now = now or clock.now()
    name = typed_name(username)
    with clinic.write() as s:
        user, failure = _attempt(s, name, password, workstation=workstation, now=now, who="主管")
        if failure is not None:
            failure = failure.replace(WRONG, "主管用户名或密码错误")
        elif user is None or user.is_admin or right_code(right) not in user.grant_codes:
            failure = "该账号没有此项审批权限"
        else:
            actor = actor_for(user, account_link(clinic))  # the action re-checks it (ledger.require_supervisor)
    if failure is not None:
        raise PermissionDenied(failure)
    return actor


def _forget_failures(s: Session, user: User) -> None:
    """The administrator lifts a wait: the account's counters and its name's throttle."""
    user.failed_logins = 0
    user.locked_until = None
    s.execute(delete(LoginThrottle).where(LoginThrottle.key == throttle_key("name", user.username)))


def change_own_password(clinic: Clinic, actor: Actor, *, old: str, new: str, confirm: str) -> None:
    """The user's own new password. Not a change of the account's rights: the session goes on."""
    actor.check_live()
    errors = _password_errors(new, confirm)
    if errors:
        raise ValidationError(errors)
    now = clock.now()
    with clinic.write() as s:  # the old password is guessed no faster than at the login: the same throttle
        user = s.get(User, actor.user_id)
        if user is None:
            failure: str | None = "原密码不正确"
        else:
            checked, failure = _attempt(s, user.username, old, workstation=None, now=now, who="修改密码：")
            if checked is not None:
                user.password_hash = hash_password(new)
                audit.record(s, actor, "user.password_change", "user", user.id)
    if failure is not None:  # the counted failure is committed; nothing else was written
        raise ValidationError.single("old", failure.replace(WRONG, "原密码不正确"))


# --- account manager (administrator only) ------------------------------------------------------


@dataclass(frozen=True)
class AccountView:
    id: int
    username: str
    display_name: str
    is_admin: bool
    is_active: bool
    department_id: int | None
    department_name: str
    staff_id: int | None
    data_scope: DataScope
    grants: frozenset[str]
    locked_until: datetime | None
    last_login_at: datetime | None


def _view(user: User) -> AccountView:
    return AccountView(
        id=user.id, username=user.username, display_name=user.display_name, is_admin=user.is_admin,
        is_active=user.is_active, department_id=user.department_id,
        department_name=user.department.name if user.department else "", staff_id=user.staff_id,
        data_scope=DataScope(user.data_scope), grants=frozenset(user.grant_codes),
        locked_until=user.locked_until, last_login_at=user.last_login_at,
    )


def _snapshot(user: User) -> dict[str, object]:
    return {
        "username": user.username, "display_name": user.display_name, "is_active": user.is_active,
        "department_id": user.department_id, "staff_id": user.staff_id, "data_scope": user.data_scope,
        "grants": sorted(user.grant_codes),
    }


def list_accounts(clinic: Clinic, actor: Actor) -> list[AccountView]:
    actor.require_admin()
    with clinic.read() as s:
        return [_view(u) for u in s.scalars(select(User).order_by(User.is_admin.desc(), User.username))]


def get_account(clinic: Clinic, actor: Actor, user_id: int) -> AccountView:
    actor.require_admin()
    with clinic.read() as s:
        return _view(_load(s, user_id))


def _load(s: Session, user_id: int) -> User:
    user = s.get(User, user_id)
    if user is None:
        raise NotFound("账号不存在")
    return user


def _check_fields(s: Session, *, username: str, display_name: str, department_id: int | None,
                  staff_id: int | None, data_scope: str, grants: set[str], user_id: int | None) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not USERNAME_RE.match(username):
        errors["username"] = USERNAME_RULE
    elif s.scalar(select(User.id).where(func.lower(User.username) == username.lower(), User.id != (user_id or 0))):
        errors["username"] = f"用户名“{username}”已存在"
    problem = text_error(display_name, label="姓名", limit=40)
    if problem:
        errors["display_name"] = problem
    if department_id is not None and s.get(Department, department_id) is None:
        errors["department_id"] = "部门不存在"
    if staff_id is not None and s.get(Staff, staff_id) is None:
        errors["staff_id"] = "员工不存在"
    if data_scope not in {d.value for d in DataScope}:
        errors["data_scope"] = "数据范围无效"
    elif data_scope == DataScope.DEPARTMENT and department_id is None:
        errors["department_id"] = "“本部门”数据范围需要先选择部门"
    unknown = grants - ALL_GRANT_CODES
    if unknown:
        errors["grants"] = f"未知权限：{', '.join(sorted(unknown))}"
    return errors


def create_account(clinic: Clinic, actor: Actor, *, username: str, password: str, confirm: str | None = None,
                   display_name: str = "", department_id: int | None = None, staff_id: int | None = None,
                   data_scope: str = DataScope.OWN.value, grants: set[str] | frozenset[str] = frozenset()) -> int:
    """Create an ordinary account (the administrator account is made by the first-run dialog)."""
    actor.require_admin()
    username = username.strip()
    display_name = normalise_text(display_name)
    with clinic.write() as s:
        errors = _check_fields(s, username=username, display_name=display_name, department_id=department_id,
                               staff_id=staff_id, data_scope=data_scope, grants=set(grants), user_id=None)
        errors.update(_password_errors(password, confirm))
        if errors:
            raise ValidationError(errors)
        user = User(username=username, display_name=display_name, password_hash=hash_password(password),
                    department_id=department_id, staff_id=staff_id, data_scope=data_scope,
                    created_at=clock.now(), grants=[UserGrant(code=c) for c in sorted(grants)])
        s.add(user)
        s.flush()
        audit.record(s, actor, "user.create", "user", user.id, after=_snapshot(user))
        return user.id


def update_account(clinic: Clinic, actor: Actor, user_id: int, *, username: str, display_name: str,
                   department_id: int | None, staff_id: int | None, data_scope: str,
                   grants: set[str] | frozenset[str]) -> None:
    """Edit an account's name, department, data scope, pages and rights."""
    actor.require_admin()
    username = username.strip()
    display_name = normalise_text(display_name)
    with clinic.write() as s:
        user = _load(s, user_id)
        if user.is_admin:
            grants = frozenset()
            data_scope = DataScope.ALL.value
        errors = _check_fields(s, username=username, display_name=display_name, department_id=department_id,
                               staff_id=staff_id, data_scope=data_scope, grants=set(grants), user_id=user_id)
        if errors:
            raise ValidationError(errors)
        before = _snapshot(user)
        user.username = username
        user.display_name = display_name
        user.department_id = department_id
        user.staff_id = staff_id
        user.data_scope = data_scope
        current = {g.code: g for g in user.grants}
        for code in set(current) - set(grants):
            user.grants.remove(current[code])
        for code in sorted(set(grants) - set(current)):
            user.grants.append(UserGrant(code=code))
        s.flush()
        after = _snapshot(user)
        if before != after:
            changed_grants = before["grants"] != after["grants"] or before["data_scope"] != after["data_scope"]
            audit.record(s, actor, "user.permissions" if changed_grants else "user.update", "user", user.id,
                         before=before, after=after)


def set_active(clinic: Clinic, actor: Actor, user_id: int, active: bool) -> None:
    """Disable (or enable again) an account. The administrator cannot disable themself."""
    actor.require_admin()
    with clinic.write() as s:
        user = _load(s, user_id)
        if user.id == actor.user_id and not active:
            raise ValidationError.single("is_active", "不能停用当前登录的管理员账号")
        if user.is_active == active:
            return
        user.is_active = active
        audit.record(s, actor, "user.enable" if active else "user.disable", "user", user.id,
                     before={"is_active": not active}, after={"is_active": active})


def reset_password(clinic: Clinic, actor: Actor, user_id: int, *, password: str, confirm: str | None = None) -> None:
    """Set a new password for an account; also lifts a lockout."""
    actor.require_admin()
    errors = _password_errors(password, confirm)
    if errors:
        raise ValidationError(errors)
    with clinic.write() as s:
        user = _load(s, user_id)
        user.password_hash = hash_password(password)
        if not user.is_admin:  # whoever is logged in as it now logs in again (other changes bump by themselves)
            user.account_version = (user.account_version or 1) + 1
        _forget_failures(s, user)
        audit.record(s, actor, "user.password_reset", "user", user.id)


def unlock(clinic: Clinic, actor: Actor, user_id: int) -> None:
    actor.require_admin()
    with clinic.write() as s:
        user = _load(s, user_id)
        if user.locked_until is None and not user.failed_logins:
            return
        _forget_failures(s, user)
        audit.record(s, actor, "user.unlock", "user", user.id)


def has_records(s: Session, user_id: int) -> bool:
    """Whether an account left traces (customers it registered, audited actions)."""
    if s.scalar(select(Customer.id).where(Customer.registered_by_id == user_id).limit(1)) is not None:
        return True
    actions = select(AuditEntry.id).where(AuditEntry.user_id == user_id, AuditEntry.action != "login.failed")
    return s.scalar(actions.limit(1)) is not None


def delete_account(clinic: Clinic, actor: Actor, user_id: int) -> None:
    """Delete an account that never did anything (a typo). One with records can only be disabled."""
    actor.require_admin()
    with clinic.write() as s:
        user = _load(s, user_id)
        if user.is_admin:
            raise ValidationError.single("username", "管理员账号不能删除")
        if has_records(s, user.id):
            raise ValidationError.single("username", "该账号已有业务记录，不能删除，请改为停用")
        before = _snapshot(user)
        s.delete(user)
        audit.record(s, actor, "user.delete", "user", user_id, before=before)
