"""The program's shell: first run, login, the idle lock, and what the start and the end of the program
read or write (the demo's simulated devices, the backup on exit)."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

from meike.db import Clinic
from meike.permissions import Actor
from meike.services import accounts, audit, system
from ui.operations import Op, read


def is_initialised(parent: QWidget | None, clinic: Clinic) -> Op[bool]:
    return read(parent, lambda: system.is_initialised(clinic))


def clinic_name(parent: QWidget | None, clinic: Clinic) -> Op[str]:
    return read(parent, lambda: str(system.get(clinic, "clinic.name")))


def check_audit_on_start(parent: QWidget | None, clinic: Clinic) -> Op[list[str]]:
    """The audit log against its anchors (``audit_guard``); a difference is written to the log."""
    from meike.services import audit_guard

    return Op(parent, lambda: audit_guard.check_on_start(clinic)).busy()


def simulate_devices(clinic: Clinic, gsm_port: str, *, demo_mode: bool) -> Op[str]:
    """``--simulate-devices``: the demo clinic sends SMS through the simulated modem; the mobile to ring."""
    from meike import demo
    from meike.services import sms

    def job() -> str:
        if demo_mode:
            sms.use_simulated_modem(clinic, gsm_port)
        return demo.caller_mobile(clinic) or "13800138000"

    return Op(None, job)


def setup_clinic(parent: QWidget, clinic: Clinic, name: str, password: str, confirm: str) -> Op[Actor]:
    """初次使用: the clinic's name and the administrator's password (the administrator is the answer)."""
    return Op(parent, lambda: accounts.initialise_clinic(clinic, clinic_name=name, admin_password=password,
                                                         confirm=confirm))


def login(parent: QWidget, clinic: Clinic, username: str, password: str) -> Op[Actor]:
    """Checks the password (argon2, slow on purpose) off the GUI thread; a failure counts to the lockout."""
    return Op(parent, lambda: accounts.authenticate(clinic, username, password))


def unlock(parent: QWidget, clinic: Clinic, actor: Actor, password: str) -> Op[Actor]:
    """The lock screen's password: the same user's, counted like a login."""
    return Op(parent, lambda: accounts.authenticate(clinic, actor.username, password))


def record_lock(parent: QWidget | None, clinic: Clinic, actor: Actor, locked: bool) -> Op[None]:
    """The audit line of locking (``session.lock``) or unlocking (``session.unlock``) the window."""
    def job() -> None:
        with clinic.write() as s:
            audit.record(s, actor, "session.lock" if locked else "session.unlock", "user", actor.user_id)

    return Op(parent, job).busy()


def idle_lock_minutes(parent: QWidget | None, clinic: Clinic) -> Op[int]:
    """The clinic's idle time before the window locks (0: never)."""
    return read(parent, lambda: int(system.get(clinic, "security.idle_lock_minutes")))
