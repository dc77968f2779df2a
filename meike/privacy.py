"""Personal data: the one list of the fields that name, reach or describe a customer, and their mask.

Names, numbers, addresses, WeChat / QQ, birthdays, notes and every consultation, treatment or
follow-up text are personal data (DESIGN.md). They stay out of logs, and whoever reads the audit log
(the administrator, its Excel export) sees that such a field was there or changed, never its value:
``mask_details`` replaces the value with ``MASK`` and keeps everything else — ids, card numbers,
amounts, receipt numbers, statuses and the names of the fields that changed.

Two kinds of keys:

- ``PERSONAL_FIELDS`` are personal wherever they appear (a staff member's ``mobile`` too).
- ``CUSTOMER_TEXT_FIELDS`` are ordinary words in most rows (a failed login's ``reason``) but personal
  in a row about a customer's record (``CUSTOMER_ENTITIES``): a void's or a rejected visit's ``reason``
  (what staff write about a customer's case), an invoice's ``title`` (often the customer's own name),
  the ``text`` a customer search was made with, an SMS ``body``.
- ``name`` is the person's in a row about the person (``NAMED_ENTITIES``); elsewhere it names a coupon,
  a promotion, an item or a template and stays.

A value is masked whole, whatever its type (a list of items, a nested dict); ``None``, ``""`` and
empty lists stay as they are, so that "set" and "cleared" can still be told apart. Containers under
other keys are walked: a list of order lines keeps its amounts, a search query loses its text.
"""

from __future__ import annotations

from typing import Any

MASK = "***"

PERSONAL_FIELDS: frozenset[str] = frozenset({
    # who the person is
    "customer", "customer_name", "caller_name", "contact_name", "referrer", "gender", "sex", "birthday",
    "birth_date", "age", "id_card", "id_no", "occupation", "nickname", "photo",
    # how to reach them
    "mobile", "mobile_last4", "phone", "phone2", "landline", "tel", "number", "caller", "address", "region",
    "wechat", "qq", "email",
    # what they told the clinic and what was done (health information)
    "notes", "note", "content", "result", "items", "remark", "remarks", "consultation", "treatment",
    "diagnosis", "health", "allergies", "allergy", "medical_history", "history", "complaint", "symptoms",
    "recording_path",
})

CUSTOMER_TEXT_FIELDS: frozenset[str] = frozenset({"reason", "title", "text", "body", "description"})

CUSTOMER_ENTITIES: frozenset[str] = frozenset({
    "customer", "visit", "appointment", "consultation", "treatment", "reminder", "order", "receipt", "coupon",
    "call", "call_record", "sms_message", "complaint", "dispute", "care_note", "inpatient", "instalment",
})


NAMED_ENTITIES: frozenset[str] = frozenset({"customer", "call", "call_record", "inpatient"})


def is_personal(key: str, entity: str = "") -> bool:
    """Whether the field ``key`` of a record about ``entity`` holds personal data."""
    key = key.lower()
    return (key in PERSONAL_FIELDS or (entity in CUSTOMER_ENTITIES and key in CUSTOMER_TEXT_FIELDS)
            or (key == "name" and entity in NAMED_ENTITIES))


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def mask_details(value: Any, entity: str = "") -> Any:
    """``value`` (an audit row's before / after) with every personal field's value replaced by ``MASK``."""
    if isinstance(value, dict):
        return {k: (MASK if is_personal(str(k), entity) and not _empty(v) else mask_details(v, entity))
                for k, v in value.items()}
    if isinstance(value, list):
        return [mask_details(v, entity) for v in value]
    return value
