"""Printing and reprinting receipts: PDF when no printer, ESC/POS bytes to a device, supervisor for reprints."""

from __future__ import annotations

from pathlib import Path

import pytest
from pypdf import PdfReader

from devices.printer import PrinterSetting
from meike.db import Clinic
from meike.errors import MeikeError, PermissionDenied, ValidationError
from meike.models import Receipt
from meike.permissions import Actor, Page, Right, right_code
from meike.services import audit, cashier, receipting
from meike.services.ledger import Tender
from tests.conftest import make_user
from tests.meike.conftest_cashier import Shop, shop_fixture, supervisor_fixture  # noqa: F401


def _pdf_text(path: Path) -> str:
    return "".join((page.extract_text() or "") for page in PdfReader(path).pages).replace(" ", "")


def _paid(clinic: Clinic, user: Actor, shop: Shop) -> int:
    order = cashier.open_order(clinic, user, customer_id=shop.customer_id,
                               lines=[(shop.items["双眼皮"], 1, 800_000), (shop.items["水光针"], 2, None)])
    cashier.pay(clinic, user, order, [Tender(shop.methods["微信"], 900_000), Tender(shop.methods["现金"], 100_000)],
                idempotency_key="print-1", allow_arrears=True)
    with clinic.read() as s:
        return s.query(Receipt.id).filter(Receipt.order_id == order).scalar()


def test_first_print_is_a_pdf_without_a_printer(clinic: Clinic, user: Actor, admin: Actor, shop: Shop) -> None:
    receipt_id = _paid(clinic, user, shop)
    path = receipting.print_receipt(clinic, user, receipt_id, setting=PrinterSetting())
    assert path is not None and path.suffix == ".pdf"
    text = _pdf_text(path)
    with clinic.read() as s:
        receipt = s.get(Receipt, receipt_id)
        assert receipt is not None
        number = receipt.receipt_no
    for expected in (number, "张三", "双眼皮", "水光针", "微信", "现金", "￥9,000.00", "￥1,000.00", "欠款", "￥560.00", "￥10,560.00"):
        assert expected in text, expected
    assert "重印" not in text
    assert audit.recent(clinic, admin, entity="receipt")[0].action == "receipt.print"


def test_reprint_needs_a_supervisor_with_the_right(clinic: Clinic, user: Actor, admin: Actor, shop: Shop) -> None:
    receipt_id = _paid(clinic, user, shop)
    receipting.print_receipt(clinic, user, receipt_id, setting=PrinterSetting())
    with pytest.raises(ValidationError) as e:
        receipting.print_receipt(clinic, user, receipt_id, setting=PrinterSetting())
    assert e.value.errors == {"supervisor": "重印需要主管输入密码确认"}
    clerk = make_user(clinic, admin, "clerk", pages=[Page.CASHIER])
    with pytest.raises(PermissionDenied):
        receipting.print_receipt(clinic, user, receipt_id, reprint_supervisor=clerk, setting=PrinterSetting())
    boss = make_user(clinic, admin, "boss2", pages=[Page.CASHIER], grants={right_code(Right.REPRINT)})
    path = receipting.print_receipt(clinic, user, receipt_id, reprint_supervisor=boss, setting=PrinterSetting())
    assert path is not None and "重印" in _pdf_text(path)
    row = audit.recent(clinic, admin, entity="receipt")[0]
    assert row.action == "receipt.reprint" and row.after is not None and row.after["supervisor"] == "boss2"
    with clinic.read() as s:
        assert s.get(Receipt, receipt_id).reprints == 1  # type: ignore[union-attr]


def test_escpos_bytes_go_to_the_configured_device(clinic: Clinic, user: Actor, shop: Shop, tmp_path: Path) -> None:
    receipt_id = _paid(clinic, user, shop)
    device = tmp_path / "lp0"
    device.write_bytes(b"")
    assert receipting.print_receipt(clinic, user, receipt_id, setting=PrinterSetting("file", str(device), 58)) is None
    data = device.read_bytes()
    assert data.startswith(b"\x1b@") and "双眼皮".encode("gb18030") in data and b"\x1dV" in data


def test_a_printer_that_cannot_be_reached_falls_back_to_pdf(clinic: Clinic, user: Actor, shop: Shop) -> None:
    receipt_id = _paid(clinic, user, shop)
    with pytest.raises(MeikeError) as e:
        receipting.print_receipt(clinic, user, receipt_id, setting=PrinterSetting("network", "127.0.0.1:1", 80))
    assert "无法连接打印机" in e.value.message or "打印失败" in e.value.message
    assert "已生成 PDF" in e.value.message


def test_the_arrival_label_goes_to_this_pcs_printer_and_is_logged(demo_clinic, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from devices.printer import PrinterSetting
    from meike.services import accounts, audit, customers, receipting, triage
    from meike.services.audit import AuditFilter

    gl = accounts.authenticate(demo_clinic, "gl", "123")
    someone = customers.search_customers(demo_clinic, gl, limit=1)[0]
    visit = triage.arrive(demo_clinic, gl, someone.id, consultant_id=triage.consultants(demo_clinic, gl)[0][0])
    device = tmp_path / "printer.bin"
    assert receipting.print_arrival_label(demo_clinic, gl, visit,
                                          setting=PrinterSetting("file", str(device), 58)) is None
    data = device.read_bytes()
    assert someone.name.encode("gb18030") in data and b"\x1dkI" in data
    pdf = receipting.print_arrival_label(demo_clinic, gl, visit, setting=PrinterSetting("none", "", 80))
    assert pdf is not None and pdf.suffix == ".pdf" and someone.card_no in pdf.name
    admin = accounts.authenticate(demo_clinic, "admin", "admin")
    logged = audit.search(demo_clinic, admin, AuditFilter(text=someone.card_no))
    assert [line.action for line in logged[:2]] == ["label.print", "label.print"]
