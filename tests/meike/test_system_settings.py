"""Clinic-wide settings: defaults, all-or-nothing saving, normalised follow-up days, audit."""

from __future__ import annotations

from typing import Any

import pytest

from meike.db import Clinic
from meike.errors import PermissionDenied, ValidationError
from meike.permissions import Actor, Page
from meike.services import audit, system
from tests.conftest import make_user


def _changes(clinic: Clinic, admin: Actor) -> list[audit.AuditRow]:
    return [r for r in audit.recent(clinic, admin) if r.action == "setting.change"]


def test_defaults_of_a_new_clinic(clinic: Clinic, admin: Actor, user: Actor) -> None:
    assert system.all_values(clinic, user) == {
        "clinic.name": "测试诊所",
        "login.max_failures": 5,
        "login.lock_minutes": 15,
        "followup.postop_days": "2,7,15",
        "security.idle_lock_minutes": 10,
    }
    assert system.get(clinic, "login.max_failures") == 5


def test_update_saves_typed_values(clinic: Clinic, admin: Actor, user: Actor) -> None:
    saved = system.update(clinic, user, {"login.max_failures": " 3 ", "login.lock_minutes": 60,
                                         "clinic.name": "  丽人医美  "})
    assert saved == {"login.max_failures": 3, "login.lock_minutes": 60, "clinic.name": "丽人医美"}
    values = system.all_values(clinic, user)
    assert values["login.max_failures"] == 3 and values["login.lock_minutes"] == 60
    assert values["clinic.name"] == "丽人医美"


def test_one_bad_value_saves_nothing(clinic: Clinic, admin: Actor, user: Actor) -> None:
    before = system.all_values(clinic, user)
    audits = len(audit.recent(clinic, admin))
    with pytest.raises(ValidationError) as e:
        system.update(clinic, user, {"login.max_failures": 3, "followup.postop_days": "1,2",
                                     "login.lock_minutes": 0, "clinic.name": "   "})
    assert set(e.value.errors) == {"login.lock_minutes", "clinic.name"}
    assert system.all_values(clinic, user) == before
    assert len(audit.recent(clinic, admin)) == audits


@pytest.mark.parametrize(
    ("key", "raw"),
    [
        ("login.max_failures", 0),
        ("login.max_failures", 21),
        ("login.max_failures", "five"),
        ("login.max_failures", "3.5"),
        ("login.max_failures", ""),
        ("login.max_failures", "1_0"),  # int() reads 10
        ("login.max_failures", "٣"),  # int() reads 3
        ("login.lock_minutes", 1441),
        ("login.lock_minutes", -1),
        ("followup.postop_days", ""),
        ("followup.postop_days", "0,7"),
        ("followup.postop_days", "2,366"),
        ("followup.postop_days", "2,seven"),
        ("followup.postop_days", "-2,7"),
        ("followup.postop_days", ", ,"),
        ("followup.postop_days", "2,٧"),
        ("clinic.name", ""),
    ],
)
def test_invalid_values_are_refused_with_a_field_message(clinic: Clinic, admin: Actor, user: Actor, key: str,
                                                          raw: Any) -> None:
    before = system.all_values(clinic, user)[key]
    with pytest.raises(ValidationError) as e:
        system.update(clinic, user, {key: raw})
    assert set(e.value.errors) == {key}
    assert system.all_values(clinic, user)[key] == before


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("15,2, 7", "2,7,15"),
        ("7，2，7", "2,7"),
        (" 30 ", "30"),
        ("1,365,", "1,365"),
        ("２，７，１５", "2,7,15"),  # full-width, as typed with a Chinese input method
    ],
)
def test_postop_days_are_normalised(clinic: Clinic, admin: Actor, user: Actor, raw: str, stored: str) -> None:
    assert system.update(clinic, user, {"followup.postop_days": raw}) == {"followup.postop_days": stored}
    assert system.get(clinic, "followup.postop_days") == stored


def test_a_full_width_number_is_a_number(clinic: Clinic, admin: Actor, user: Actor) -> None:
    assert system.update(clinic, user, {"login.max_failures": "１０"}) == {"login.max_failures": 10}


def test_changes_are_audited_with_before_and_after(clinic: Clinic, admin: Actor, user: Actor) -> None:
    first = len(_changes(clinic, admin))  # naming the clinic on first run
    system.update(clinic, user, {"login.max_failures": 3, "followup.postop_days": "15,2, 7"})
    changes = _changes(clinic, admin)
    assert len(changes) == first + 1  # the follow-up days were already 2,7,15
    row = changes[0]
    assert row.username == "front"
    assert (row.before, row.after) == ({"login.max_failures": 5}, {"login.max_failures": 3})
    # Saving the same values again logs nothing.
    system.update(clinic, user, {"login.max_failures": "3"})
    assert len(_changes(clinic, admin)) == first + 1


def test_only_the_settings_page_may_read_or_change_settings(clinic: Clinic, admin: Actor) -> None:
    desk = make_user(clinic, admin, "desk", pages=[Page.REGISTRATION, Page.CASHIER])
    for actor in (desk, admin):
        with pytest.raises(PermissionDenied):
            system.all_values(clinic, actor)
        with pytest.raises(PermissionDenied):
            system.update(clinic, actor, {"login.max_failures": 20})
    assert system.get(clinic, "login.max_failures") == 5


def test_is_initialised_only_after_first_run(clinic: Clinic) -> None:
    assert not system.is_initialised(clinic)
    assert system.get(clinic, "clinic.name") == ""
