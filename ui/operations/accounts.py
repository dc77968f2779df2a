"""Account actions: one's own password, the administrator's reset."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

from meike.db import Clinic
from meike.permissions import Actor
from meike.services import accounts
from ui.operations import Op


def change_own_password(parent: QWidget, clinic: Clinic, actor: Actor, old: str, new: str,
                        confirm: str) -> Op[None]:
    return Op(parent, lambda: accounts.change_own_password(clinic, actor, old=old, new=new, confirm=confirm))


def reset_password(parent: QWidget, clinic: Clinic, actor: Actor, user_id: int, password: str,
                   confirm: str) -> Op[None]:
    return Op(parent, lambda: accounts.reset_password(clinic, actor, user_id, password=password, confirm=confirm))
