"""Receipts 收据 for the cashier: an A5 PDF (reportlab) and ESC/POS bytes for 58/80 mm printers."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

from meike.money import format_fen, yuan

if TYPE_CHECKING:
    from escpos.escpos import Escpos

# --- data ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceiptLine:
    """One item: ``amount_fen`` is what the customer owes for it, after ``discount_fen``."""

    name: str
    quantity: int
    unit_price_fen: int
    discount_fen: int
    amount_fen: int


@dataclass(frozen=True)
class ReceiptTender:
    """One way the money was paid (微信, 现金, 预存余额 …)."""

    label: str
    amount_fen: int


@dataclass(frozen=True)
class ReceiptData:
    """Everything printed on one receipt; money in fen."""

    clinic_name: str
    receipt_no: str
    business_date: date
    printed_at: datetime
    kind_label: str  # 收费收据 / 退款收据 / 定金收据 …
    customer_name: str
    card_no: str
    cashier: str
    lines: list[ReceiptLine]
    total_fen: int  # 应收合计: the sum of the lines' amounts
    discount_fen: int  # 优惠合计
    tenders: list[ReceiptTender]
    arrears_fen: int  # 欠款 left by this receipt
    balances: list[tuple[str, int]] = field(default_factory=list)  # e.g. [("预存余额", 120000)]
    note: str = ""
    reprint: bool = False


REPRINT_MARK = "重印"


def _title_kind(data: ReceiptData) -> str:
    return f"{data.kind_label}（{REPRINT_MARK}）" if data.reprint else data.kind_label


def _is_barcode_text(text: str) -> bool:
    return 0 < len(text) <= 80 and all(" " <= c <= "~" for c in text)


# --- PDF -------------------------------------------------------------------------------------

CID_FONT = "STSong-Light"


def _pdf_font(font_file: Path | None) -> str:
    """Register (once) and name the CJK font: Adobe's STSong-Light, or an embedded TrueType file
    (.ttf, or the first font of a .ttc such as msyh.ttc / wqy-microhei.ttc); see meike.pdf_fonts."""
    from meike import pdf_fonts

    return pdf_fonts.register(font_file)


def render_pdf(data: ReceiptData, path: Path, *, font_file: Path | None = None) -> Path:
    """Write ``data`` as an A5 receipt PDF to ``path`` and return the path.

    Args:
        font_file: a TrueType CJK font to embed (``meike.pdf_fonts.font_for`` picks this PC's). Without
            it the text uses the standard Adobe font STSong-Light, which needs no file but is not
            embedded (the viewer substitutes its own).
    """
    from reportlab.graphics.barcode.code128 import Code128
    from reportlab.lib import colors
    from reportlab.lib.enums import TA_CENTER, TA_RIGHT
    from reportlab.lib.pagesizes import A5
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    font = _pdf_font(font_file)
    base = ParagraphStyle("receipt", fontName=font, fontSize=9, leading=12, wordWrap="CJK")
    title = ParagraphStyle("title", parent=base, fontSize=16, leading=20, alignment=TA_CENTER)
    kind = ParagraphStyle("kind", parent=base, fontSize=12, leading=16, alignment=TA_CENTER)
    right = ParagraphStyle("right", parent=base, alignment=TA_RIGHT)
    strong = ParagraphStyle("strong", parent=right, fontSize=11, leading=14)
    red = colors.HexColor("#c00000")

    def para(text: str, style: ParagraphStyle = base) -> Paragraph:
        return Paragraph(escape(text).replace("\n", "<br/>"), style)

    path = Path(path)
    margin = 12 * mm
    doc = SimpleDocTemplate(str(path), pagesize=A5, leftMargin=margin, rightMargin=margin,
                            topMargin=margin, bottomMargin=margin,
                            title=f"{data.kind_label} {data.receipt_no}", author=data.clinic_name)
    width = A5[0] - 2 * margin
    grey = colors.HexColor("#888888")
    story: list[Any] = [para(data.clinic_name, title)]
    kind_text = escape(data.kind_label)
    if data.reprint:
        kind_text += f'<font color="#c00000">（{REPRINT_MARK}）</font>'
    story += [Paragraph(kind_text, kind), Spacer(0, 3 * mm)]

    info = Table(
        [[para("单号"), para(data.receipt_no), para("业务日期"), para(f"{data.business_date:%Y-%m-%d}")],
         [para("客户"), para(data.customer_name), para("卡号"), para(data.card_no)],
         [para("收银员"), para(data.cashier), para("打印时间"), para(f"{data.printed_at:%Y-%m-%d %H:%M}")]],
        colWidths=[16 * mm, width / 2 - 16 * mm, 18 * mm, width / 2 - 18 * mm])
    info.setStyle(TableStyle([("TEXTCOLOR", (0, 0), (0, -1), grey), ("LEFTPADDING", (0, 0), (-1, -1), 0),
                              ("VALIGN", (0, 0), (-1, -1), "TOP")]))
    story += [info, Spacer(0, 2 * mm)]

    if data.lines:
        rows = [[para("项目"), para("数量", right), para("单价", right), para("优惠", right),
                 para("金额", right)]]
        for line in data.lines:
            rows.append([para(line.name), para(str(line.quantity), right), para(yuan(line.unit_price_fen), right),
                         para(yuan(line.discount_fen) if line.discount_fen else "-", right),
                         para(yuan(line.amount_fen), right)])
        items = Table(rows, colWidths=[width - 84 * mm, 12 * mm, 24 * mm, 24 * mm, 24 * mm], repeatRows=1)
        items.setStyle(TableStyle([
            ("LINEABOVE", (0, 0), (-1, 0), 0.8, colors.black),
            ("LINEBELOW", (0, 0), (-1, 0), 0.5, colors.black),
            ("LINEBELOW", (0, 1), (-1, -1), 0.25, colors.HexColor("#cccccc")),
            ("LINEBELOW", (0, -1), (-1, -1), 0.8, colors.black),
            ("LEFTPADDING", (0, 0), (-1, -1), 2), ("RIGHTPADDING", (0, 0), (-1, -1), 2),
            ("VALIGN", (0, 0), (-1, -1), "TOP")]))
        story += [items, Spacer(0, 2 * mm)]

    sums: list[list[Paragraph]] = []
    styles: list[tuple[Any, ...]] = [("LEFTPADDING", (0, 0), (-1, -1), 2), ("RIGHTPADDING", (0, 0), (-1, -1), 2),
                           ("TOPPADDING", (0, 0), (-1, -1), 1), ("BOTTOMPADDING", (0, 0), (-1, -1), 1)]
    if data.discount_fen:
        sums.append([para("优惠合计", right), para(yuan(data.discount_fen), right)])
    sums.append([para("应收合计", strong), para(yuan(data.total_fen), strong)])
    for tender in data.tenders:
        sums.append([para(tender.label, right), para(yuan(tender.amount_fen), right)])
    if data.arrears_fen:
        alert = ParagraphStyle("alert", parent=strong, textColor=red)
        sums.append([para("欠款", alert), para(yuan(data.arrears_fen), alert)])
    if data.balances:
        styles.append(("LINEABOVE", (0, len(sums)), (-1, len(sums)), 0.25, grey))
        sums.append([para("账户余额", ParagraphStyle("caption", parent=right, textColor=grey)), para("")])
        for label, fen in data.balances:
            sums.append([para(label, right), para(yuan(fen), right)])
    totals = Table(sums, colWidths=[width - 34 * mm, 34 * mm])
    totals.setStyle(TableStyle(styles))
    story.append(totals)

    if data.note:
        story += [Spacer(0, 2 * mm), para(f"备注：{data.note}")]
    if _is_barcode_text(data.receipt_no):
        barcode = Code128(data.receipt_no, barWidth=0.3 * mm, barHeight=10 * mm)
        barcode.hAlign = "CENTER"
        caption = ParagraphStyle("caption", parent=base, alignment=TA_CENTER)
        story += [Spacer(0, 5 * mm), barcode, para(data.receipt_no, caption)]
    story += [Spacer(0, 6 * mm), para("客户签字：____________________")]

    def stamp(canvas: Any, _doc: Any) -> None:
        if not data.reprint:
            return
        canvas.saveState()
        canvas.setStrokeColor(red)
        canvas.setFillColor(red)
        canvas.translate(A5[0] - margin - 14 * mm, A5[1] - margin - 9 * mm)
        canvas.rotate(15)
        canvas.roundRect(-13 * mm, -5 * mm, 26 * mm, 10 * mm, 2 * mm, stroke=1, fill=0)
        canvas.setFont(font, 16)
        canvas.drawCentredString(0, -2.2 * mm, REPRINT_MARK)
        canvas.restoreState()

    doc.build(story, onFirstPage=stamp, onLaterPages=stamp)
    return path


# --- ESC/POS ---------------------------------------------------------------------------------

COLUMNS = {58: 32, 80: 48}  # font A (12×24 dots) on 384 resp. 576 printable dots

ESC_INIT = b"\x1b@"
CHINESE_ON = b"\x1c&"  # FS &: two-byte GB codes from here on
CHINESE_OFF = b"\x1c."  # FS .
ALIGN_LEFT, ALIGN_CENTER = b"\x1ba\x00", b"\x1ba\x01"
SIZE_NORMAL, SIZE_DOUBLE = b"\x1d!\x00", b"\x1d!\x11"  # GS !: width and height ×2
BOLD_ON, BOLD_OFF = b"\x1bE\x01", b"\x1bE\x00"
BARCODE_CODE128 = b"\x1dkI"  # GS k 73 n d1…dn (function B)


def display_width(text: str) -> int:
    """Columns ``text`` takes on a Chinese printer or terminal: wide and ambiguous characters count 2.

    In Chinese mode every non-ASCII character is a two-byte GB code printed as one full-width glyph,
    so ambiguous ones (×, …, é) are wide there too.
    """
    width = 0
    for char in text:
        if unicodedata.combining(char):
            continue
        width += 2 if unicodedata.east_asian_width(char) in "WFA" else 1
    return width


def _clean(text: str) -> str:
    """User text on one line, without control characters that the printer would take as commands."""
    out = []
    for char in text:
        kind = unicodedata.category(char)
        if kind[0] == "Z" or char in "\t\r\n":
            out.append(" ")
        elif kind[0] != "C":
            out.append(char)
    return "".join(out).strip()


def _truncate(text: str, width: int) -> str:
    out, used = [], 0
    for char in text:
        w = display_width(char)
        if used + w > width:
            break
        out.append(char)
        used += w
    return "".join(out)


def _pad(text: str, width: int, align: str = "left") -> str:
    """Truncate or pad ``text`` to exactly ``width`` columns."""
    text = _truncate(text, width)
    gap = width - display_width(text)
    if align == "right":
        return " " * gap + text
    if align == "center":
        return " " * (gap // 2) + text + " " * (gap - gap // 2)
    return text + " " * gap


def _wrap(text: str, width: int) -> list[str]:
    """Break ``text`` into lines of at most ``width`` columns (by character: Chinese has no spaces)."""
    lines: list[str] = []
    while text:
        head = _truncate(text, width) or text[0]
        lines.append(head)
        text = text[len(head):]
    return lines or [""]


def _two_cols(left: str, right: str, width: int) -> list[str]:
    """``left`` … ``right`` on one line, or on two when they do not fit together."""
    gap = width - display_width(left) - display_width(right)
    if gap >= 1:
        return [left + " " * gap + right]
    return _wrap(left, width) + [_pad(line, width, "right") for line in _wrap(right, width)]


# Item table on 48 columns: 项目 | 数量 | 单价 | 优惠 | 金额; narrower paper stacks each item on two lines.
_TABLE = ((14, "left"), (4, "right"), (10, "right"), (10, "right"), (10, "right"))


def _item_lines(line: ReceiptLine, width: int) -> list[str]:
    name = _clean(line.name)
    cells = [str(line.quantity), format_fen(line.unit_price_fen),
             format_fen(line.discount_fen) if line.discount_fen else "-", format_fen(line.amount_fen)]
    if width >= sum(w for w, _ in _TABLE) and all(len(c) < w for c, (w, _) in zip(cells, _TABLE[1:], strict=True)):
        numbers = "".join(_pad(c, w, a) for c, (w, a) in zip(cells, _TABLE[1:], strict=True))
        names = _wrap(name, _TABLE[0][0])
        return [_pad(names[0], _TABLE[0][0]) + numbers, *names[1:]]
    detail = f"  {cells[0]} × {cells[1]}" + (f"  优惠 {cells[2]}" if line.discount_fen else "")
    return _wrap(name, width) + _two_cols(detail, cells[3], width)


def _item_header(width: int) -> str:
    if width >= sum(w for w, _ in _TABLE):
        return "".join(_pad(t, w, a) for t, (w, a) in zip(("项目", "数量", "单价", "优惠", "金额"), _TABLE, strict=True))
    return _two_cols("项目  数量 × 单价", "金额", width)[0]


def _code128_data(text: str) -> bytes:
    """Data of GS k 73 for ``text``: code set B, switching to C (digit pairs) for long digit runs.

    ``R20261123-0001`` takes 11 symbols instead of 14, which keeps it inside 58 mm paper at 2 dots a module.
    """
    out = bytearray()
    current = ""
    i = 0
    while i < len(text):
        j = i
        while j < len(text) and text[j] in "0123456789":
            j += 1
        run = j - i
        if run >= (4 if i == 0 or j == len(text) else 6):
            if run % 2:  # the odd digit goes in code set B
                if current != "B":
                    out += b"{B"
                    current = "B"
                out += text[i].encode("ascii")
                i += 1
            if current != "C":
                out += b"{C"
                current = "C"
            out += bytes(int(text[k:k + 2]) for k in range(i, j, 2))
            i = j
            continue
        if current != "B":
            out += b"{B"
            current = "B"
        chunk = text[i:j] if run else text[i]
        out += chunk.replace("{", "{{").encode("ascii")
        i += len(chunk)
    return bytes(out)


def _receipt_text(data: ReceiptData, width: int) -> list[tuple[bytes, list[str]]]:
    """The receipt as blocks of (style commands, text lines)."""
    rule = "-" * width
    head = [f"单号：{_clean(data.receipt_no)}"]
    head += _two_cols(f"日期：{data.business_date:%Y-%m-%d}", f"收银：{_clean(data.cashier)}", width)
    head += _two_cols(f"客户：{_clean(data.customer_name)}", f"卡号：{_clean(data.card_no)}", width)
    body: list[str] = []
    if data.lines:
        body += [rule, _item_header(width), rule]
        for line in data.lines:
            body += _item_lines(line, width)
    body.append(rule)
    if data.discount_fen:
        body += _two_cols("优惠合计", yuan(data.discount_fen), width)
    total = _two_cols("应收合计", yuan(data.total_fen), width)
    pay: list[str] = []
    for tender in data.tenders:
        pay += _two_cols(_clean(tender.label), yuan(tender.amount_fen), width)
    if data.arrears_fen:
        pay += _two_cols("欠款", yuan(data.arrears_fen), width)
    if data.balances:
        pay += [rule, "账户余额"]
        for label, fen in data.balances:
            pay += _two_cols(_clean(label), yuan(fen), width)
    notes = [_clean(part) for part in data.note.splitlines() if part.strip()]
    for i, part in enumerate(notes):
        pay += _wrap(("备注：" if i == 0 else "") + part, width)
    pay += [rule, f"打印时间：{data.printed_at:%Y-%m-%d %H:%M}"]
    return [
        (ALIGN_CENTER + SIZE_DOUBLE + BOLD_ON, _wrap(_clean(data.clinic_name), width // 2)),
        (SIZE_NORMAL, _wrap(_clean(_title_kind(data)), width)),
        (ALIGN_LEFT + BOLD_OFF, head + body),
        (BOLD_ON, total),
        (BOLD_OFF, pay),
    ]


def escpos_bytes(data: ReceiptData, width_mm: int = 80) -> bytes:
    """The receipt as one ESC/POS job for a 58 or 80 mm printer, its text in GB18030.

    The text goes out raw in Chinese mode (``FS &``): python-escpos's own encoder knows no Chinese
    code page. The barcode is the printer's own CODE128 (``GS k``), not an image.
    """
    from escpos.printer import Dummy

    if width_mm not in COLUMNS:
        raise ValueError(f"不支持的纸宽 {width_mm} mm（支持 58 或 80 mm）")
    width = COLUMNS[width_mm]
    printer = Dummy()
    printer._raw(ESC_INIT + CHINESE_ON)
    for style, lines in _receipt_text(data, width):
        printer._raw(style + "".join(f"{line}\n" for line in lines).encode("gb18030"))
    if _is_barcode_text(data.receipt_no):
        code = _code128_data(data.receipt_no)
        printer._raw(b"\n" + ALIGN_CENTER
                     + b"\x1dh\x50"  # GS h: 80 dots high
                     + b"\x1dw\x02"  # GS w: 2 dots a module
                     + b"\x1dH\x02"  # GS H: the characters below the bars
                     + b"\x1df\x00"  # GS f: in font A
                     + BARCODE_CODE128 + bytes([len(code)]) + code + b"\n" + ALIGN_LEFT)
    printer._raw(CHINESE_OFF)
    printer.cut()  # feeds 6 lines, then GS V 0
    return bytes(printer.output)


def print_escpos(data: ReceiptData, printer: Escpos, width_mm: int = 80) -> None:
    """Print the receipt on any python-escpos printer (Usb, Serial, Network, Win32Raw, Dummy …) in one write."""
    printer._raw(escpos_bytes(data, width_mm))


# --- the customer's barcode label at arrival 到店 (seed 002: 确认完到店，需要打印条形码) ---------------


@dataclass(frozen=True)
class ArrivalLabel:
    clinic_name: str
    customer_name: str
    card_no: str  # the barcode: scanned at triage, the consultation room and the cashier
    arrived_at: datetime
    visit_type: str
    consultant: str


def label_escpos_bytes(label: ArrivalLabel, width_mm: int = 80) -> bytes:
    """The label as one ESC/POS job: name large, the card number as a CODE128 barcode, then cut."""
    from escpos.printer import Dummy

    if width_mm not in COLUMNS:
        raise ValueError(f"不支持的纸宽 {width_mm} mm（支持 58 或 80 mm）")
    width = COLUMNS[width_mm]
    printer = Dummy()
    printer._raw(ESC_INIT + CHINESE_ON + ALIGN_CENTER)
    printer._raw(b"\x1d!\x11" + f"{_truncate(_clean(label.customer_name), width // 2)}\n".encode("gb18030")
                 + b"\x1d!\x00")  # GS !: double width and height for the name
    printer._raw(f"{_truncate(_clean(label.clinic_name), width)}\n".encode("gb18030"))
    if _is_barcode_text(label.card_no):
        code = _code128_data(label.card_no)
        printer._raw(b"\x1dh\x60\x1dw\x02\x1dH\x02\x1df\x00" + BARCODE_CODE128 + bytes([len(code)]) + code + b"\n")
    else:
        printer._raw(f"卡号 {label.card_no}\n".encode("gb18030"))
    info = f"{label.arrived_at:%Y-%m-%d %H:%M} {label.visit_type} 咨询：{label.consultant or '—'}"
    printer._raw(ALIGN_LEFT + "".join(f"{line}\n" for line in _wrap(_clean(info), width)).encode("gb18030"))
    printer._raw(CHINESE_OFF)
    printer.cut()
    return bytes(printer.output)


def render_label_pdf(label: ArrivalLabel, path: Path, *, font_file: Path | None = None) -> Path:
    """The same label as a 60 × 40 mm PDF page (for a label printer driven by the system, or no printer)."""
    from reportlab.graphics.barcode.code128 import Code128
    from reportlab.lib.units import mm
    from reportlab.pdfgen.canvas import Canvas

    font = _pdf_font(font_file)
    size = (60 * mm, 40 * mm)
    canvas = Canvas(str(path), pagesize=size)
    canvas.setTitle(f"到店条码 {label.card_no}")
    canvas.setFont(font, 11)
    canvas.drawCentredString(size[0] / 2, size[1] - 8 * mm, label.customer_name)
    barcode = Code128(label.card_no, barHeight=12 * mm, barWidth=0.9, humanReadable=True)
    barcode.drawOn(canvas, (size[0] - barcode.width) / 2, size[1] - 26 * mm)
    canvas.setFont(font, 6.5)
    canvas.drawCentredString(size[0] / 2, 4 * mm, f"{label.arrived_at:%Y-%m-%d %H:%M} {label.visit_type}"
                                                  f" 咨询：{label.consultant or '—'}")
    canvas.showPage()
    canvas.save()
    return Path(path)
