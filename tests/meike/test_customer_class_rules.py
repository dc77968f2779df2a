"""Seed 003 §2 customer classes and §3.2 visit types."""

from __future__ import annotations

import pytest

from meike.rules.customer_class import CustomerClass, VisitType, customer_class, suggest_visit_type


@pytest.mark.parametrize(
    ("occasions", "expected"),
    [(0, CustomerClass.POTENTIAL), (1, CustomerClass.NEW), (2, CustomerClass.RETURNING),
     (7, CustomerClass.RETURNING)],
)
def test_class_follows_purchase_occasions(occasions: int, expected: CustomerClass) -> None:
    assert customer_class(occasions) is expected


def test_visit_type_suggestions() -> None:
    # Came before, consulted several times, never bought: still 初诊.
    assert suggest_visit_type(purchase_occasions=0, in_treatment_course=False) is VisitType.FIRST
    # Bought before, comes for the next session of a course: 复诊.
    assert suggest_visit_type(purchase_occasions=1, in_treatment_course=True) is VisitType.REVISIT
    # Bought before, nothing under way: 再消费.
    assert suggest_visit_type(purchase_occasions=3, in_treatment_course=False) is VisitType.REPEAT


def test_birthday_age_and_id_card_rules() -> None:
    from datetime import date

    from meike.rules.validation import age_error, age_on, birthday_error, birthday_from_id_card, id_card_error

    today = date(2026, 11, 23)
    assert birthday_error(date(2026, 11, 24), today=today) == "生日不能晚于今天"
    assert birthday_error(date(1900, 1, 1), today=today) == "生日不正确（年龄超过 120 岁）"
    assert birthday_error(date(1990, 5, 1), today=today) is None
    assert age_error(121) == "年龄应在 0–120 之间" and age_error(0) is None
    assert id_card_error("11010519491231002X", today=today) is None
    assert birthday_from_id_card("11010519491231002X") == date(1949, 12, 31)
    assert age_on(date(1990, 11, 24), today) == 35 and age_on(date(1990, 11, 23), today) == 36
