"""The administrator reads the audit log, not the customers: personal fields are masked in what the log
shows and exports — written masked from now on, and masked when shown for rows written before. Every
Excel export writes typed text as text, never as a live formula."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import select

from meike import clock, excel, privacy
from meike.db import Clinic
from meike.errors import LoginFailed
from meike.models import AuditEntry
from meike.permissions import Actor
from meike.services import accounts, audit, customers, triage
from meike.services.audit import AuditFilter
from tests.meike.test_front_desk_flow import staff_id

# What a front desk types about a customer, none of which the administrator may read.
PERSONAL = {"name": "欧阳晓岚", "mobile": "13912345678", "wechat": "oyxl_wx_2024", "qq": "884422113",
            "address": "朝阳区建国路88号3单元502", "notes": "青霉素过敏，乙肝携带", "referrer": "司马光明",
            "occupation": "高级会计师", "id_card": "11010519491231002X"}
SECRETS = [*PERSONAL.values(), "欧阳", "884422113", "青霉素", "乙肝", "建国路", "oyxl_wx", "签证面签前要消肿",
           "孕期不宜手术", "1949-12-31", "两侧不对称"]


def _admin(clinic: Clinic) -> Actor:
    return accounts.authenticate(clinic, "admin", "admin")


def _customer_history(clinic: Clinic) -> int:
    """A customer registered with an appointment, edited, revealed, arrived and rejected: real audit rows."""
    gl = accounts.authenticate(clinic, "gl", "123")
    cid = customers.register_customer(
        clinic, gl, name=PERSONAL["name"], mobile=PERSONAL["mobile"], wechat="old_wechat", qq="1234567",
        referrer=PERSONAL["referrer"], occupation=PERSONAL["occupation"], id_card=PERSONAL["id_card"],
        birthday=None, appointment_at=clock.now() + timedelta(days=2), appointment_items="双眼皮",
        appointment_notes="签证面签前要消肿")
    customers.update_customer(clinic, gl, cid, _profile(clinic, gl, cid, wechat=PERSONAL["wechat"], qq=PERSONAL["qq"],
                                                        address=PERSONAL["address"], notes=PERSONAL["notes"]))
    customers.reveal(clinic, gl, cid, "mobile")
    visit = triage.arrive(clinic, gl, cid, consultant_id=staff_id(clinic, gl, "王芳"))
    triage.reject(clinic, gl, visit, reason="孕期不宜手术")
    return cid


def _profile(clinic: Clinic, actor: Actor, cid: int, **changes: Any) -> dict[str, Any]:
    """The detail form's values of the customer, with ``changes``."""
    c = customers.get_customer(clinic, actor, cid)
    values = {k: getattr(c, k) for k in customers.PROFILE_FIELDS if hasattr(c, k)}
    return {**values, **changes}


def _leaks(texts: list[str]) -> list[str]:
    return [f"{secret!r} in {text!r}" for text in texts for secret in SECRETS if secret in text]


def _cells(path: Path) -> list[str]:
    return [str(v) for row in load_workbook(path).active.iter_rows(values_only=True) for v in row if v is not None]


def test_audit_details_and_export_mask_personal_fields(demo_clinic: Clinic, tmp_path: Path) -> None:
    cid = _customer_history(demo_clinic)
    admin = _admin(demo_clinic)
    lines = audit.search(demo_clinic, admin, AuditFilter(), limit=5_000)
    assert _leaks([line.detail for line in lines]) == []
    # ids and what changed are kept: the customer's number, the fields that changed, the reveal
    update = next(line for line in lines if line.action == "customer.update" and line.target == f"customer #{cid}")
    for key in ("wechat", "qq", "address", "notes"):
        assert f'"{key}": "***"' in update.detail
    created = next(line for line in lines if line.action == "customer.create")
    assert '"card_no": "' in created.detail and '"name": "***"' in created.detail
    reveal = next(line for line in lines if line.action == "privacy.reveal")
    assert '"field": "mobile"' in reveal.detail and '"customer": "***"' in reveal.detail
    assert '"visit_type"' in next(line.detail for line in lines if line.action == "visit.create")
    # the stored rows themselves hold no personal value (written masked), and the chain holds
    with demo_clinic.read() as s:
        stored = [f"{e.before or ''} {e.after or ''}" for e in s.scalars(select(AuditEntry))]
    assert _leaks(stored) == []
    assert audit.verify_chain(demo_clinic, admin).ok
    # recent() (the account manager's other reader) and the Excel export
    rows = audit.recent(demo_clinic, admin, limit=5_000)
    assert _leaks([json.dumps([r.before, r.after], ensure_ascii=False, default=str) for r in rows]) == []
    path = tmp_path / "log.xlsx"
    audit.export_xlsx(demo_clinic, admin, AuditFilter(), path)
    cells = _cells(path)
    assert _leaks(cells) == [] and any('"wechat": "***"' in c for c in cells)


def test_rows_written_before_are_masked_when_shown_and_exported(demo_clinic: Clinic, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    with monkeypatch.context() as m:  # an older Meike wrote the details in full
        m.setattr(audit, "mask_details", lambda value, entity="": value, raising=False)
        _customer_history(demo_clinic)
    admin = _admin(demo_clinic)
    with demo_clinic.read() as s:
        stored = [f"{e.before or ''} {e.after or ''}" for e in s.scalars(select(AuditEntry))]
    assert _leaks(stored)  # the old rows are never rewritten (append-only, hash-chained)...
    lines = audit.search(demo_clinic, admin, AuditFilter(), limit=5_000)
    assert _leaks([line.detail for line in lines]) == []  # ...but shown masked
    rows = audit.recent(demo_clinic, admin, limit=5_000)
    assert _leaks([json.dumps([r.before, r.after], ensure_ascii=False, default=str) for r in rows]) == []
    path = tmp_path / "old.xlsx"
    audit.export_xlsx(demo_clinic, admin, AuditFilter(), path)
    assert _leaks(_cells(path)) == []
    # the text filter finds what is shown, not what is hidden: no probing the notes through it
    for probe in ("青霉素", "欧阳晓岚", "oyxl_wx_2024", "孕期"):
        flt = AuditFilter(text=probe)
        assert audit.search(demo_clinic, admin, flt) == [] and audit.count_matching(demo_clinic, admin, flt) == 0
    flt = AuditFilter(text='"wechat"')
    found = audit.search(demo_clinic, admin, flt)
    assert found and audit.count_matching(demo_clinic, admin, flt) == len(found)
    assert audit.verify_chain(demo_clinic, admin).ok


def test_one_list_of_personal_fields() -> None:
    for key in ("name", "mobile", "phone2", "id_card", "address", "wechat", "qq", "notes", "birthday", "content",
                "result", "items"):
        assert privacy.is_personal(key, "customer"), key
    assert not privacy.is_personal("name", "promotion") and not privacy.is_personal("name", "coupon")
    assert not privacy.is_personal("reason", "user")
    assert privacy.is_personal("reason", "order") and privacy.is_personal("mobile", "staff")
    masked = privacy.mask_details({"customer": "欧阳晓岚", "card_no": "C0001", "notes": "", "amount_fen": 100,
                                   "lines": [{"item": "双眼皮", "amount_fen": 100}],
                                   "query": {"text": "欧阳", "tab": "all"}}, "sms_message")
    assert masked == {"customer": "***", "card_no": "C0001", "notes": "", "amount_fen": 100,
                      "lines": [{"item": "双眼皮", "amount_fen": 100}], "query": {"text": "***", "tab": "all"}}


FORMULAS = ['=HYPERLINK("http://evil.example/x","点此查看")', "=1+1", "+SUM(1,2)", "-2+3", "@SUM(1)",
            "\t=1+2", "\r=1+2", " =1+2"]


def test_the_audit_export_writes_typed_text_as_text(clinic: Clinic, admin: Actor, tmp_path: Path) -> None:
    for name in FORMULAS:  # typed as the user name at the login window: stored as typed, exported
        with pytest.raises(LoginFailed):
            accounts.authenticate(clinic, name, "x")
    path = tmp_path / "log.xlsx"
    audit.export_xlsx(clinic, admin, AuditFilter(category="login"), path)
    sheet = load_workbook(path).active
    cells = [c for row in sheet.iter_rows() for c in row if c.value is not None]
    assert [c.coordinate for c in cells if c.data_type == "f"] == []
    names = {c.value for c in cells if c.column == 3}
    # names that are no account: the first character as typed (a formula's "="), then masked
    assert {f"{n.strip()[:1]}***（未知用户名，{len(n.strip())} 个字）" for n in FORMULAS} <= names
    risky = [c for c in cells if isinstance(c.value, str) and c.value.lstrip(" ").startswith(excel.FORMULA_STARTS)]
    assert risky and all(c.quotePrefix for c in risky)


@pytest.mark.parametrize("write_only", [True, False])
def test_excel_rows_hold_text_not_formulas(tmp_path: Path, write_only: bool) -> None:
    book = Workbook(write_only=write_only)
    sheet = book.create_sheet("表") if write_only else book.active
    excel.append_row(sheet, ["=2*3", 7, None, "bell\x07here", "x" * 40_000, *FORMULAS])
    path = tmp_path / "t.xlsx"
    book.save(path)
    [row] = list(load_workbook(path).active.iter_rows())
    assert [c.coordinate for c in row if c.data_type == "f"] == []
    assert [c.value for c in row[:4]] == ["=2*3", 7, None, "bellhere"]
    assert len(row[4].value) == excel.MAX_CELL_CHARS and row[0].quotePrefix and not row[3].quotePrefix
