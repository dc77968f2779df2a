"""Printing receipts 打印 / 重印: the receipt's data from the database, to this PC's ESC/POS printer or,
with no printer configured, to a PDF in the clinic's data folder (embedding this PC's Chinese font,
see ``workstation.pdf_font_file``). Every print is audited; a reprint
needs a supervisor with the reprint right (seed 004 【重印】)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from meike import clock, paths, receipts, workstation
from meike.db import Clinic
from meike.errors import MeikeError
from meike.models import Order, Payment, PaymentMethod, Receipt, User  # noqa: F401
from meike.models.ledger import ACCOUNT_LABELS
from meike.permissions import Actor, Page, Right
from meike.ports import PrinterError, PrinterSetting, adapters
from meike.services import audit, ledger, system


def receipt_data(s: Session, receipt: Receipt, *, reprint: bool = False) -> receipts.ReceiptData:
    customer = receipt.customer
    lines: list[receipts.ReceiptLine] = []
    total = discount = 0
    order = s.get(Order, receipt.order_id) if receipt.order_id is not None else None
    if order is not None and receipt.kind == "settle":
        for li in order.lines:
            line_discount = max(0, li.list_price_fen * li.quantity - li.amount_fen)
            name = li.item_name + (f"（疗程 {li.package_sessions * li.quantity} 次）" if li.package_sessions else "")
            name += "（疗程划扣）" if li.package_id is not None else ""
            lines.append(receipts.ReceiptLine(name, li.quantity, li.list_price_fen, line_discount, li.amount_fen))
            total += li.amount_fen
            discount += line_discount
    else:
        total = receipt.amount_fen
    tenders = [receipts.ReceiptTender(name, amount) for name, amount in s.execute(
        select(PaymentMethod.name, Payment.amount_fen).join(Payment, Payment.payment_method_id == PaymentMethod.id)
        .where(Payment.receipt_id == receipt.id).order_by(Payment.id))]
    held = ledger.balances(s, customer.id)
    arrears = held.pop("arrears", 0)
    if order is not None:
        from meike.services.cashier import order_arrears

        arrears = order_arrears(s, order.id)
    cashier = s.get(User, receipt.cashier_id)
    return receipts.ReceiptData(
        clinic_name=system.get_in(s, "clinic.name") or "美客诊所",
        receipt_no=receipt.receipt_no, business_date=receipt.business_date, printed_at=clock.now(),
        kind_label=ledger.RECEIPT_KINDS.get(receipt.kind, "收据") + ("（已作废）" if receipt.status == "voided" else ""),
        customer_name=customer.name, card_no=customer.card_no,
        cashier=(cashier.display_name or cashier.username) if cashier else "",
        lines=lines, total_fen=total, discount_fen=discount, tenders=tenders, arrears_fen=arrears,
        balances=[(ACCOUNT_LABELS[a] + "余额", v) for a, v in held.items() if v], note=receipt.note, reprint=reprint)


@dataclass(frozen=True)
class PrintJob:
    """A print recorded in the database (audited, a reprint counted), to be sent to this PC's printer or
    written as a PDF by ``deliver``, outside the transaction (a printer may take seconds)."""

    setting: PrinterSetting
    escpos: Callable[[int], bytes]  # the ESC/POS bytes for a paper width
    pdf: Callable[[], Path]  # the PDF written, its path
    pdf_words: str  # "已生成 PDF" / "已生成条码 PDF"


def deliver(job: PrintJob) -> Path | None:
    """Send a recorded print to the printer (None), or write its PDF when there is no printer (the path).
    A printer that fails leaves the PDF as a fallback and says why. No database here."""
    if job.setting.kind != "none":
        try:
            adapters().print_raw(job.setting, job.escpos(job.setting.width_mm))
            return None
        except PrinterError as e:
            path = job.pdf()
            raise MeikeError(f"{e}。{job.pdf_words}：{path}") from e
    return job.pdf()


def print_receipt(clinic: Clinic, actor: Actor, receipt_id: int, *, reprint_supervisor: Actor | None = None,
                  setting: PrinterSetting | None = None) -> Path | None:
    """Print a receipt on this PC's printer (returns None) or write its PDF (returns the path).

    The first print after taking the money is free; any later one is a reprint 重印 and needs
    ``reprint_supervisor``. A printer that fails leaves the PDF as a fallback and says why.
    """
    return deliver(record_receipt_print(clinic, actor, receipt_id, reprint_supervisor=reprint_supervisor,
                                        setting=setting))


def record_receipt_print(clinic: Clinic, actor: Actor, receipt_id: int, *, reprint_supervisor: Actor | None = None,
                         setting: PrinterSetting | None = None) -> PrintJob:
    """The database half of ``print_receipt``: the print is audited (a reprint counted, with its
    supervisor); ``deliver`` sends it."""
    actor.require_page(Page.CASHIER)
    setting = setting or workstation.printer_setting()
    with clinic.write() as s:
        # Locked: a print of the same receipt at another workstation (PostgreSQL) commits first and is
        # seen below, so only one print is the free first one.
        s.get(ledger.Receipt, receipt_id, with_for_update=True)
        receipt = ledger.load_receipt(s, actor, receipt_id)
        already = receipt.reprints > 0 or _printed(s, receipt.id)
        if already:
            ledger.require_supervisor(reprint_supervisor, Right.REPRINT, "重印")
            assert reprint_supervisor is not None
            receipt.reprints += 1
        data = receipt_data(s, receipt, reprint=already)
        audit.record(s, actor, "receipt.reprint" if already else "receipt.print", "receipt", receipt.id, after={
            "receipt_no": receipt.receipt_no, "printer": setting.kind,
            "supervisor": reprint_supervisor.username if already and reprint_supervisor else None})
    return PrintJob(setting, lambda width: receipts.escpos_bytes(data, width), lambda: _pdf(data), "已生成 PDF")


def _printed(s: Session, receipt_id: int) -> bool:
    from meike.models import AuditEntry

    return s.scalar(select(AuditEntry.id).where(AuditEntry.entity == "receipt", AuditEntry.entity_id == receipt_id,
                                                AuditEntry.action == "receipt.print").limit(1)) is not None


def _pdf(data: receipts.ReceiptData) -> Path:
    folder = paths.private_dir(paths.private_dir(paths.data_dir() / "receipts") / f"{data.business_date:%Y-%m}")
    suffix = f"-重印{clock.now():%H%M%S}" if data.reprint else ""
    path = receipts.render_pdf(data, folder / f"{data.receipt_no}{suffix}.pdf", font_file=workstation.pdf_font_file())
    paths.private_file(path)  # a customer's name and what was paid: its owner's only (POSIX)
    return path


def print_test_page(setting: PrinterSetting) -> None:
    """【测试打印】 a short Chinese page on the configured printer; PrinterError says what went wrong."""
    from datetime import date

    page = receipts.ReceiptData(
        clinic_name="打印测试", receipt_no="TEST-0001", business_date=date.today(), printed_at=clock.now(),
        kind_label="测试页", customer_name="测试顾客", card_no="0000", cashier="", lines=[
            receipts.ReceiptLine("双眼皮（测试）", 1, 100, 0, 100)], total_fen=100, discount_fen=0,
        tenders=[receipts.ReceiptTender("现金", 100)], arrears_fen=0, balances=[])
    adapters().print_raw(setting, receipts.escpos_bytes(page, setting.width_mm))


def print_arrival_label(clinic: Clinic, actor: Actor, visit_id: int, *,
                        setting: PrinterSetting | None = None) -> Path | None:
    """到店条码: the arrived customer's barcode label on this PC's printer (None) or as a PDF (its path)."""
    return deliver(record_label_print(clinic, actor, visit_id, setting=setting))


def record_label_print(clinic: Clinic, actor: Actor, visit_id: int, *,
                       setting: PrinterSetting | None = None) -> PrintJob:
    """The database half of ``print_arrival_label`` (the print audited); ``deliver`` sends it."""
    from meike.models import Staff, Visit
    from meike.rules.customer_class import VISIT_TYPE_LABELS, VisitType
    from meike.services.customers import load_in_scope

    actor.require_page(Page.CUSTOMERS)
    setting = setting or workstation.printer_setting()
    with clinic.write() as s:
        visit = s.get(Visit, visit_id)
        if visit is None:
            raise MeikeError("到诊记录不存在")
        customer = load_in_scope(s, actor, visit.customer_id)
        consultant = s.get(Staff, visit.consultant_id) if visit.consultant_id else None
        label = receipts.ArrivalLabel(
            clinic_name=system.get_in(s, "clinic.name"), customer_name=customer.name, card_no=customer.card_no,
            arrived_at=visit.arrived_at, visit_type=VISIT_TYPE_LABELS.get(VisitType(visit.visit_type), ""),
            consultant=consultant.name if consultant else "")
        audit.record(s, actor, "label.print", "visit", visit.id, after={
            "customer": customer.name, "card_no": customer.card_no, "printer": setting.kind})
    return PrintJob(setting, lambda width: receipts.label_escpos_bytes(label, width), lambda: _label_pdf(label),
                    "已生成条码 PDF")


def _label_pdf(label: receipts.ArrivalLabel) -> Path:
    folder = paths.private_dir(paths.private_dir(paths.data_dir() / "labels") / f"{label.arrived_at:%Y-%m}")
    path = receipts.render_label_pdf(label, folder / f"{label.card_no}-{label.arrived_at:%Y%m%d%H%M}.pdf",
                                     font_file=workstation.pdf_font_file())
    paths.private_file(path)
    return path
