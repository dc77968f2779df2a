"""Account actions: one's own password; the administrator's account manager (list, create, edit,
停用/启用, 解除锁定, delete, reset a password)."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtWidgets import QWidget

from meike.db import Clinic
from meike.permissions import Actor
from meike.services import accounts, dictionaries
from meike.services.accounts import AccountView
from meike.services.dictionaries import Entry, Kind
from ui.operations import Op, read


@dataclass(frozen=True)
class AccountList:
    """The accounts, and the departments and staff an account may be tied to."""

    accounts: list[AccountView]
    departments: list[Entry]
    staff: list[Entry]


@dataclass(frozen=True)
class AccountFields:
    """What the account form says of an account (its password aside)."""

    username: str
    display_name: str
    department_id: int | None
    staff_id: int | None
    data_scope: str
    grants: frozenset[str]


def change_own_password(parent: QWidget, clinic: Clinic, actor: Actor, old: str, new: str,
                        confirm: str) -> Op[None]:
    return Op(parent, lambda: accounts.change_own_password(clinic, actor, old=old, new=new, confirm=confirm))


def reset_password(parent: QWidget, clinic: Clinic, actor: Actor, user_id: int, password: str,
                   confirm: str) -> Op[None]:
    return Op(parent, lambda: accounts.reset_password(clinic, actor, user_id, password=password, confirm=confirm))


def list_accounts(parent: QWidget, clinic: Clinic, actor: Actor) -> Op[AccountList]:
    def job() -> AccountList:
        return AccountList(accounts.list_accounts(clinic, actor),
                           dictionaries.list_entries(clinic, actor, Kind.DEPARTMENT),
                           dictionaries.list_entries(clinic, actor, Kind.STAFF))

    return read(parent, job)


def create_account(parent: QWidget, clinic: Clinic, actor: Actor, fields: AccountFields, password: str,
                   confirm: str) -> Op[int]:
    return Op(parent, lambda: accounts.create_account(
        clinic, actor, username=fields.username, password=password, confirm=confirm,
        display_name=fields.display_name, department_id=fields.department_id, staff_id=fields.staff_id,
        data_scope=fields.data_scope, grants=fields.grants))


def update_account(parent: QWidget, clinic: Clinic, actor: Actor, user_id: int, fields: AccountFields) -> Op[int]:
    def job() -> int:
        accounts.update_account(clinic, actor, user_id, username=fields.username, display_name=fields.display_name,
                                department_id=fields.department_id, staff_id=fields.staff_id,
                                data_scope=fields.data_scope, grants=fields.grants)
        return user_id

    return Op(parent, job)


def set_active(parent: QWidget, clinic: Clinic, actor: Actor, user_id: int, active: bool) -> Op[None]:
    """停用 / 启用 an account."""
    return Op(parent, lambda: accounts.set_active(clinic, actor, user_id, active))


def unlock(parent: QWidget, clinic: Clinic, actor: Actor, user_id: int) -> Op[None]:
    """解除锁定 after too many wrong passwords."""
    return Op(parent, lambda: accounts.unlock(clinic, actor, user_id))


def delete_account(parent: QWidget, clinic: Clinic, actor: Actor, user_id: int) -> Op[None]:
    """Delete an account that never did anything (one with records can only be disabled)."""
    return Op(parent, lambda: accounts.delete_account(clinic, actor, user_id))
