"""``register_customer`` takes the profile as typed keywords: exactly ``PROFILE_FIELDS``, nothing unknown."""

from __future__ import annotations

import inspect

import pytest

from meike.db import Clinic
from meike.services import accounts, customers


def test_the_keywords_are_the_profile_fields() -> None:
    params = inspect.signature(customers.register_customer).parameters
    assert not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    profile = [name for name in params if name not in ("clinic", "actor", "now") and not name.startswith("appointment")]
    assert sorted(profile) == sorted(customers.PROFILE_FIELDS)


def test_an_unknown_keyword_is_a_type_error(demo_clinic: Clinic) -> None:
    gl = accounts.authenticate(demo_clinic, "gl", "123")
    with pytest.raises(TypeError):
        customers.register_customer(demo_clinic, gl, name="王小美", mobile="13800138123", favourite_colour="红")  # type: ignore[call-arg]
    cid = customers.register_customer(demo_clinic, gl, name="王小美", mobile="13800138123", wechat="wxm_1",
                                      birthday=None, sms_opt_in=False)
    detail = customers.get_customer(demo_clinic, gl, cid)
    assert detail.name == "王小美"
