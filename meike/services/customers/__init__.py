"""Customers desk 顾客管理: search within the data scope, read, register.

The parts: ``query`` (what a list asks for), ``probes`` (number probes), ``search``, ``profiles``
(register, read, edit), ``appointments``, ``dashboard``; their public names are re-exported here.
"""

from __future__ import annotations

from meike.services.customers.appointments import (
    APPOINTMENT_STATUS,
    STALE_APPOINTMENT,
    AppointmentRow,
    book_appointment,
    cancel_appointment,
    change_appointment,
    list_appointments,
)
from meike.services.customers.dashboard import (
    DashboardCounts,
    dashboard_counts,
)
from meike.services.customers.probes import (
    PROBE_LIMIT,
    PROBE_WINDOW,
    TOO_MANY_PROBES,
    forget_probes,
    guard_number,
    guard_search,
    number_missed,
)
from meike.services.customers.profiles import (
    DUPLICATE_HIDDEN,
    NUMBER_FIELDS,
    PROFILE_FIELDS,
    REFERENCES,
    REVEALABLE,
    TEXT_LABELS,
    TEXT_LIMITS,
    CustomerDetail,
    DuplicateMobile,
    get_customer,
    mask_id_card,
    register_customer,
    reveal,
    update_customer,
)
from meike.services.customers.query import (
    CUSTOMER_PAGES,
    GENDERS,
    TABS,
    VISIT_TABS,
    CustomerQuery,
    CustomerRow,
    _search_kind,
)
from meike.services.customers.search import (
    _search_box,
    _search_grid,
    count_customers,
    find_by_mobile,
    load_in_scope,
    next_card_no,
    search_customers,
    tab_query,
)

__all__ = [
    "APPOINTMENT_STATUS",
    "AppointmentRow",
    "CUSTOMER_PAGES",
    "CustomerDetail",
    "CustomerQuery",
    "CustomerRow",
    "DUPLICATE_HIDDEN",
    "DashboardCounts",
    "DuplicateMobile",
    "GENDERS",
    "NUMBER_FIELDS",
    "PROBE_LIMIT",
    "PROBE_WINDOW",
    "PROFILE_FIELDS",
    "REFERENCES",
    "REVEALABLE",
    "STALE_APPOINTMENT",
    "TABS",
    "TEXT_LABELS",
    "TEXT_LIMITS",
    "TOO_MANY_PROBES",
    "VISIT_TABS",
    "_search_box",
    "_search_grid",
    "_search_kind",
    "book_appointment",
    "cancel_appointment",
    "change_appointment",
    "count_customers",
    "dashboard_counts",
    "find_by_mobile",
    "forget_probes",
    "get_customer",
    "guard_number",
    "guard_search",
    "list_appointments",
    "load_in_scope",
    "mask_id_card",
    "next_card_no",
    "number_missed",
    "register_customer",
    "reveal",
    "search_customers",
    "tab_query",
    "update_customer",
]
