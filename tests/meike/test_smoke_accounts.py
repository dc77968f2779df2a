"""Login, throttling and first run through the accounts service."""

from __future__ import annotations

from datetime import timedelta

import pytest

from meike import clock
from meike.db import Clinic
from meike.errors import LoginFailed, ValidationError
from meike.permissions import Actor
from meike.services import accounts, system
from tests.conftest import make_user


def test_first_run_creates_admin_and_names_clinic(clinic: Clinic) -> None:
    assert not system.is_initialised(clinic)
    actor = accounts.initialise_clinic(clinic, clinic_name="丽人医美", admin_password="s3cret!", confirm="s3cret!")
    assert actor.is_admin
    assert system.is_initialised(clinic)
    assert system.get(clinic, "clinic.name") == "丽人医美"
    with pytest.raises(ValidationError):
        accounts.initialise_clinic(clinic, clinic_name="别的", admin_password="s3cret!", confirm="s3cret!")


def test_first_run_refuses_short_or_mismatched_password(clinic: Clinic) -> None:
    with pytest.raises(ValidationError) as e:
        accounts.initialise_clinic(clinic, clinic_name="", admin_password="abc", confirm="abc")
    assert set(e.value.errors) == {"clinic_name", "password"}
    with pytest.raises(ValidationError) as e:
        accounts.initialise_clinic(clinic, clinic_name="x", admin_password="abcdef", confirm="abcdeg")
    assert "confirm" in e.value.errors
    assert not system.is_initialised(clinic)


def test_passwords_are_argon2id_hashes(clinic: Clinic, admin: Actor) -> None:
    from sqlalchemy import select

    from meike.models import User

    with clinic.read() as s:
        stored = s.scalar(select(User.password_hash).where(User.username == "admin"))
    assert stored.startswith("$argon2id$")
    assert "admin-pass" not in stored


def test_five_failures_make_the_account_wait(clinic: Clinic, admin: Actor) -> None:
    make_user(clinic, admin, "nurse")
    t0 = clock.now()
    for _ in range(4):
        with pytest.raises(LoginFailed, match="^用户名或密码不正确$"):
            accounts.authenticate(clinic, "nurse", "wrong", now=t0)
    with pytest.raises(LoginFailed, match="尝试次数过多，请 30 秒后再试"):
        accounts.authenticate(clinic, "nurse", "wrong", now=t0)
    # Even the right password is refused while it waits.
    with pytest.raises(LoginFailed, match="尝试次数过多，请 20 秒后再试"):
        accounts.authenticate(clinic, "nurse", "secret-1", now=t0 + timedelta(seconds=10))
    assert accounts.authenticate(clinic, "nurse", "secret-1", now=t0 + timedelta(seconds=30)).username == "nurse"
