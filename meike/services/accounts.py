"""Accounts desk: login with lockout, and the administrator's account manager."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from meike import clock
from meike.db import Clinic
from meike.errors import LoginFailed, NotFound, PermissionDenied, ValidationError
from meike.models import AuditEntry, Customer, Department, Staff, User, UserGrant
from meike.permissions import ALL_GRANT_CODES, Actor, DataScope, Right, right_code
from meike.services import audit, system

MIN_PASSWORD_LENGTH = 6
USERNAME_RE = re.compile(r"^[A-Za-z0-9_.\-\u4e00-\u9fff]{2,40}$")

# argon2id with the library's defaults; tests may swap in cheaper parameters.
hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def actor_for(user: User) -> Actor:
    return Actor(
        user_id=user.id,
        username=user.username,
        display_name=user.display_name,
        is_admin=user.is_admin,
        department_id=user.department_id,
        staff_id=user.staff_id,
        data_scope=DataScope(user.data_scope),
        grants=frozenset(user.grant_codes),
    )


# --- first run ---------------------------------------------------------------------------------


def initialise_clinic(clinic: Clinic, *, clinic_name: str, admin_password: str, confirm: str,
                      admin_username: str = "admin") -> Actor:
    """First run on an empty database: name the clinic and create the administrator."""
    errors: dict[str, str] = {}
    if not clinic_name.strip():
        errors["clinic_name"] = "请填写诊所名称"
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
        actor = actor_for(admin)
        system.set_in(s, actor, "clinic.name", clinic_name)
        audit.record(s, actor, "clinic.initialise", "user", admin.id, after={"username": admin_username})
        return actor


def _password_errors(password: str, confirm: str | None, field: str = "password") -> dict[str, str]:
    if len(password) < MIN_PASSWORD_LENGTH:
        return {field: f"密码至少 {MIN_PASSWORD_LENGTH} 位"}
    if confirm is not None and password != confirm:
        return {"confirm": "两次输入的密码不一致"}
    return {}


# --- login -------------------------------------------------------------------------------------


def authenticate(clinic: Clinic, username: str, password: str, *, now: datetime | None = None) -> Actor:
    """Check a login. Failures are counted; too many lock the account for a while.

    Raises:
        LoginFailed: with the message to show under the form.
    """
    now = now or clock.now()
    username = username.strip()
    failure: str | None = None
    with clinic.write() as s:
        user = s.scalar(select(User).where(User.username == username))
        if user is None:
            failure = "用户名或密码错误"
            audit.record(s, None, "login.failed", "user", None, after={"username": username, "reason": "无此用户"},
                         who=username)
        elif not user.is_active:
            failure = "该账号已停用，请联系管理员"
            audit.record(s, None, "login.failed", "user", user.id, after={"username": username, "reason": "已停用"},
                         who=username)
        elif user.locked_until is not None and user.locked_until > now:
            failure = f"密码错误次数过多，账号已锁定，请在 {user.locked_until:%H:%M} 后重试或联系管理员"
            audit.record(s, None, "login.failed", "user", user.id, after={"username": username, "reason": "已锁定"},
                         who=username)
        elif not verify_password(user.password_hash, password):
            max_failures = system.get_in(s, "login.max_failures")
            user.failed_logins += 1
            if user.failed_logins >= max_failures:
                minutes = system.get_in(s, "login.lock_minutes")
                user.locked_until = now + timedelta(minutes=minutes)
                user.failed_logins = 0
                audit.record(s, None, "login.locked", "user", user.id,
                             after={"username": user.username, "locked_until": user.locked_until}, who=user.username)
                failure = f"密码连续错误 {max_failures} 次，账号已锁定 {minutes} 分钟"
            else:
                left = max_failures - user.failed_logins
                audit.record(s, None, "login.failed", "user", user.id, after={"username": user.username},
                             who=user.username)
                failure = f"用户名或密码错误，还可以再试 {left} 次"
        else:
            if hasher.check_needs_rehash(user.password_hash):
                user.password_hash = hash_password(password)
            user.failed_logins = 0
            user.locked_until = None
            user.last_login_at = now
            actor = actor_for(user)
            audit.record(s, actor, "login.ok", "user", user.id)
    if failure is not None:
        raise LoginFailed(failure)
    return actor


def verify_supervisor(clinic: Clinic, username: str, password: str, right: Right, *,
                      now: datetime | None = None) -> Actor:
    """A supervisor confirms a sensitive action with their own password; returns them as an Actor.

    Wrong passwords count toward the same lockout as the login, so approvals cannot be guessed.
    """
    now = now or clock.now()
    failure: str | None = None
    with clinic.write() as s:
        user = s.scalar(select(User).where(User.username == username.strip()))
        if user is None or not user.is_active:
            failure = "主管用户名或密码错误"
        elif user.locked_until is not None and user.locked_until > now:
            failure = f"该主管账号已锁定，请在 {user.locked_until:%H:%M} 后重试"
        elif not verify_password(user.password_hash, password):
            user.failed_logins += 1
            if user.failed_logins >= system.get_in(s, "login.max_failures"):
                user.locked_until = now + timedelta(minutes=system.get_in(s, "login.lock_minutes"))
                user.failed_logins = 0
                audit.record(s, None, "login.locked", "user", user.id,
                             after={"username": user.username, "locked_until": user.locked_until}, who=user.username)
            else:
                audit.record(s, None, "login.failed", "user", user.id,
                             after={"username": user.username, "reason": "主管密码错误"}, who=user.username)
            failure = "主管用户名或密码错误"
        elif user.is_admin or right_code(right) not in user.grant_codes:
            failure = "该账号没有此项审批权限"
        else:
            user.failed_logins = 0
            actor = actor_for(user)
    if failure is not None:
        raise PermissionDenied(failure)
    return actor


def change_own_password(clinic: Clinic, actor: Actor, *, old: str, new: str, confirm: str) -> None:
    errors = _password_errors(new, confirm)
    if errors:
        raise ValidationError(errors)
    with clinic.write() as s:
        user = s.get(User, actor.user_id)
        if user is None or not verify_password(user.password_hash, old):
            raise ValidationError.single("old", "原密码不正确")
        user.password_hash = hash_password(new)
        audit.record(s, actor, "user.password_change", "user", user.id)


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
        errors["username"] = "用户名为 2–40 位字母、数字、汉字或 _ . -"
    elif s.scalar(select(User.id).where(func.lower(User.username) == username.lower(), User.id != (user_id or 0))):
        errors["username"] = f"用户名“{username}”已存在"
    if len(display_name) > 40:
        errors["display_name"] = "姓名不能超过 40 个字"
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
    display_name = display_name.strip()
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
    display_name = display_name.strip()
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
        user.failed_logins = 0
        user.locked_until = None
        audit.record(s, actor, "user.password_reset", "user", user.id)


def unlock(clinic: Clinic, actor: Actor, user_id: int) -> None:
    actor.require_admin()
    with clinic.write() as s:
        user = _load(s, user_id)
        if user.locked_until is None and not user.failed_logins:
            return
        user.failed_logins = 0
        user.locked_until = None
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
