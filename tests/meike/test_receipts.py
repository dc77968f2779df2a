"""Receipts: the PDF's text, and the ESC/POS job taken apart command by command."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import pytest
from escpos.printer import Dummy
from hypothesis import given, settings
from hypothesis import strategies as st
from pypdf import PdfReader

import meike.receipts as receipts
from meike.money import format_fen
from meike.receipts import (
    ReceiptData,
    ReceiptLine,
    ReceiptTender,
    display_width,
    escpos_bytes,
    print_escpos,
    render_pdf,
)

WQY = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")  # installed by .ci/system-deps.sh test


def yuan(fen: int) -> str:
    return format_fen(fen, symbol=True)


def receipt(**changes: object) -> ReceiptData:
    data = ReceiptData(
        clinic_name="美客医疗美容诊所",
        receipt_no="R20261123-0007",
        business_date=date(2026, 11, 23),
        printed_at=datetime(2026, 11, 23, 14, 32),
        kind_label="收费收据",
        customer_name="王小美",
        card_no="VIP000123",
        cashier="李收银",
        lines=[
            ReceiptLine("双眼皮", 1, 680_000, 80_000, 600_000),
            ReceiptLine("水光针", 2, 128_000, 0, 256_000),
        ],
        total_fen=856_000,
        discount_fen=80_000,
        tenders=[ReceiptTender("微信", 500_000), ReceiptTender("预存余额", 256_000)],
        arrears_fen=100_000,
        balances=[("预存余额", 120_000), ("定金", 30_000)],
        note="术后一周复诊",
    )
    return dataclasses.replace(data, **changes)


def deposit() -> ReceiptData:
    return receipt(kind_label="定金收据", lines=[], total_fen=200_000, discount_fen=0,
                   tenders=[ReceiptTender("现金", 200_000)], arrears_fen=0, balances=[("定金", 230_000)], note="")


# --- PDF -------------------------------------------------------------------------------------


def pdf_text(path: Path) -> str:
    """The PDF's text with runs of white space made one space."""
    return " ".join(" ".join(page.extract_text() for page in PdfReader(path).pages).split())


@pytest.fixture(params=["cid", "embedded"])
def font_file(request: pytest.FixtureRequest) -> Path | None:
    if request.param == "cid":
        return None
    if not WQY.exists():
        pytest.skip("WenQuanYi Micro Hei not installed (fonts-wqy-microhei)")
    return WQY


def test_pdf_holds_the_whole_receipt(tmp_path: Path, font_file: Path | None) -> None:
    data = receipt()
    out = render_pdf(data, tmp_path / "r.pdf", font_file=font_file)

    assert out == tmp_path / "r.pdf"
    assert out.read_bytes().startswith(b"%PDF")
    page = PdfReader(out).pages[0]
    assert (round(float(page.mediabox.width)), round(float(page.mediabox.height))) == (420, 595)  # A5
    text = pdf_text(out)
    for expected in ("美客医疗美容诊所", "收费收据", "R20261123-0007", "2026-11-23", "王小美", "VIP000123",
                     "李收银", "术后一周复诊"):
        assert expected in text
    # Each row reads name, quantity, unit price, discount, amount, in that order.
    assert f"双眼皮 1 {yuan(680_000)} {yuan(80_000)} {yuan(600_000)}" in text
    assert f"水光针 2 {yuan(128_000)} - {yuan(256_000)}" in text
    assert "￥6,800.00" in text
    assert f"优惠合计 {yuan(80_000)}" in text
    assert f"应收合计 {yuan(856_000)}" in text
    assert f"微信 {yuan(500_000)}" in text
    assert f"预存余额 {yuan(256_000)}" in text
    assert f"欠款 {yuan(100_000)}" in text
    assert f"预存余额 {yuan(120_000)} 定金 {yuan(30_000)}" in text
    assert "重印" not in text


def test_pdf_embeds_the_font_file_it_is_given(tmp_path: Path) -> None:
    if not WQY.exists():
        pytest.skip("WenQuanYi Micro Hei not installed (fonts-wqy-microhei)")
    embedded = render_pdf(receipt(), tmp_path / "embedded.pdf", font_file=WQY)
    plain = render_pdf(receipt(), tmp_path / "plain.pdf")

    def font_files(path: Path) -> list[str]:
        fonts = PdfReader(path).pages[0]["/Resources"]["/Font"]
        descriptors = [f.get_object().get("/FontDescriptor") for f in fonts.values()]
        return [key for d in descriptors if d is not None for key in d.get_object() if key.startswith("/FontFile")]

    assert font_files(embedded) == ["/FontFile2"]
    assert font_files(plain) == []


def test_pdf_marks_a_reprint(tmp_path: Path) -> None:
    text = pdf_text(render_pdf(receipt(reprint=True), tmp_path / "r.pdf"))

    assert "收费收据（重印）" in text
    assert "R20261123-0007" in text


def test_pdf_of_a_deposit_has_no_item_table_and_no_arrears(tmp_path: Path) -> None:
    text = pdf_text(render_pdf(deposit(), tmp_path / "d.pdf"))

    assert "定金收据" in text
    assert f"现金 {yuan(200_000)}" in text
    assert f"定金 {yuan(230_000)}" in text
    for absent in ("单价", "欠款", "优惠合计", "双眼皮", "备注"):
        assert absent not in text


def test_pdf_escapes_markup_in_user_text(tmp_path: Path) -> None:
    text = pdf_text(render_pdf(receipt(customer_name="A&B <王>", note="<b>复诊</b>"), tmp_path / "r.pdf"))

    assert "A&B <王>" in text
    assert "<b>复诊</b>" in text


def test_pdf_runs_onto_more_pages(tmp_path: Path) -> None:
    lines = [ReceiptLine(f"项目{i:02d}", 1, 10_000, 0, 10_000) for i in range(60)]
    out = render_pdf(receipt(lines=lines, total_fen=600_000, reprint=True), tmp_path / "long.pdf")

    pages = PdfReader(out).pages
    assert len(pages) >= 2
    assert all("重印" in page.extract_text() for page in pages)  # the stamp is on every page
    assert "项目59" in pdf_text(out)


# --- ESC/POS ---------------------------------------------------------------------------------

_ONE_ARG = {b"\x1ba", b"\x1bE", b"\x1bd", b"\x1d!", b"\x1dh", b"\x1dw", b"\x1dH", b"\x1df", b"\x1dV"}


@dataclass
class Job:
    """An ESC/POS job taken apart: printed lines (with their width factor), commands, barcodes."""

    lines: list[tuple[int, bytes]] = field(default_factory=list)
    commands: list[bytes] = field(default_factory=list)
    barcodes: list[bytes] = field(default_factory=list)

    def text(self) -> str:
        return "\n".join(raw.decode("gb18030") for _, raw in self.lines)


def parse(job: bytes) -> Job:
    """Split the bytes into commands and text; fail on any command the receipt has no business sending."""
    out, text, factor, i = Job(), bytearray(), 1, 0
    while i < len(job):
        byte = job[i]
        if byte == 0x0A:
            out.lines.append((factor, bytes(text)))
            text.clear()
            i += 1
        elif byte in (0x1B, 0x1C, 0x1D):  # never a GB18030 trail byte (those are >= 0x30)
            head = job[i:i + 2]
            if head in (b"\x1b@", b"\x1c&", b"\x1c."):
                size = 2
            elif head in _ONE_ARG:
                size = 3
                if head == b"\x1d!":
                    factor = (job[i + 2] >> 4) + 1
            elif head == b"\x1dk":
                assert job[i + 2] == 73, "CODE128 in function B"
                size = 4 + job[i + 3]
                out.barcodes.append(job[i + 4:i + size])
            else:
                raise AssertionError(f"unexpected command {head!r} at {i}")
            assert not text, "a command in the middle of a line"
            out.commands.append(job[i:i + size])
            i += size
        else:
            assert byte >= 0x20, f"control byte {byte:#x} at {i}"
            text.append(byte)
            i += 1
    assert not text, "text left without a line feed"
    return out


def decode_code128(payload: bytes) -> str:
    """Epson GS k 73 data back to text: ``{A``/``{B``/``{C`` switch sets, C bytes are digit pairs."""
    out, mode, i = [], "", 0
    while i < len(payload):
        if payload[i] == 0x7B:  # "{": never a code set C pair (0–99)
            nxt = payload[i + 1:i + 2]
            if nxt == b"{":
                out.append("{")
            else:
                mode = nxt.decode()
            i += 2
            continue
        out.append(f"{payload[i]:02d}" if mode == "C" else chr(payload[i]))
        i += 1
    return "".join(out)


def assert_fits(job: Job, columns: int) -> None:
    for factor, raw in job.lines:
        line = raw.decode("gb18030")
        assert display_width(line) * factor <= columns, line
        # In Chinese mode a GBK character is two bytes and two columns: the bytes are the columns.
        assert len(raw) * factor <= columns, line


@pytest.mark.parametrize(("width_mm", "columns"), [(58, 32), (80, 48)])
def test_escpos_job(width_mm: int, columns: int) -> None:
    data = receipt()
    raw = escpos_bytes(data, width_mm)
    job = parse(raw)

    assert raw.startswith(b"\x1b@\x1c&")  # init, then Chinese mode
    assert raw.endswith(b"\x1dV\x00")  # full cut last
    assert b"\x1bd\x06" in raw  # fed past the cutter
    for name in ("美客医疗美容诊所", "双眼皮", "水光针", "王小美", "微信", "欠款", "账户余额"):
        assert name.encode("gb18030") in raw
    assert "￥".encode("gb18030") == b"\xa3\xa4"  # the full-width sign: two bytes every GB printer has
    for amount in (yuan(856_000), yuan(80_000), yuan(500_000), yuan(100_000), yuan(120_000)):
        assert amount.encode("gb18030") in raw
    assert format_fen(600_000).encode() in raw and format_fen(680_000).encode() in raw
    assert "重印".encode("gb18030") not in raw

    assert_fits(job, columns)
    title_factor, title = job.lines[0]
    assert (title_factor, title.decode("gb18030")) == (2, "美客医疗美容诊所")
    assert all(factor == 1 for factor, _ in job.lines[1:])
    text = job.text()
    assert "单号：R20261123-0007" in text
    assert re.search(r"^应收合计 +￥8,560\.00$", text, re.M)
    assert re.search(r"^微信 +￥5,000\.00$", text, re.M)
    assert re.search(r"^欠款 +￥1,000\.00$", text, re.M)
    assert any(len(raw) == columns for _, raw in job.lines)  # right-aligned amounts end at the edge

    assert len(job.barcodes) == 1
    assert decode_code128(job.barcodes[0]) == "R20261123-0007"
    assert job.barcodes[0] == b"{BR{C\x14\x1a\x0b\x17{B-{C\x00\x07"  # 11 symbols, not 14


def test_escpos_items_on_80mm_are_table_rows() -> None:
    text = parse(escpos_bytes(receipt(), 80)).text()

    assert re.search(r"^项目 +数量 +单价 +优惠 +金额$", text, re.M)
    assert re.search(r"^双眼皮 +1 +6,800\.00 +800\.00 +6,000\.00$", text, re.M)
    assert re.search(r"^水光针 +2 +1,280\.00 +- +2,560\.00$", text, re.M)


def test_escpos_long_name_on_80mm_wraps_inside_its_column() -> None:
    name = "超声刀全脸提升紧致抗衰老疗程"
    data = receipt(lines=[ReceiptLine(name, 1, 1_500_000, 150_000, 1_350_000)])
    lines = parse(escpos_bytes(data, 80)).text().splitlines()

    at = next(i for i, line in enumerate(lines) if line.startswith("超声刀"))
    assert re.fullmatch(r"超声刀全脸提升 +1 +15,000\.00 +1,500\.00 +13,500\.00", lines[at])
    assert lines[at + 1] == "紧致抗衰老疗程"


def test_escpos_items_on_58mm_stack_name_over_figures() -> None:
    lines = parse(escpos_bytes(receipt(), 58)).text().splitlines()

    at = lines.index("双眼皮")
    assert re.fullmatch(r" +1 × 6,800\.00 +优惠 800\.00", lines[at + 1])
    assert re.fullmatch(r" +6,000\.00", lines[at + 2])
    at = lines.index("水光针")
    assert re.fullmatch(r" +2 × 1,280\.00 +2,560\.00", lines[at + 1])


@pytest.mark.parametrize("width_mm", [58, 80])
def test_escpos_long_names_and_big_amounts_wrap_inside_the_paper(width_mm: int) -> None:
    name = "超声刀全脸提升紧致抗衰老疗程套餐（含术后修复面膜十盒）"
    data = receipt(clinic_name="美客医疗美容门诊部（上海静安分院）", customer_name="欧阳娜娜娜娜娜娜娜",
                   card_no="VIP-2026-000000123456",
                   lines=[ReceiptLine(name, 120, 123_456_789, 12_345_678, 14_802_469_002)],
                   total_fen=14_802_469_002, discount_fen=12_345_678)
    job = parse(escpos_bytes(data, width_mm))

    assert_fits(job, 32 if width_mm == 58 else 48)
    text = job.text()
    assert name in text.replace("\n", "")
    assert "美客医疗美容门诊部（上海静安分院）" in "".join(raw.decode("gb18030") for f, raw in job.lines if f == 2)
    for figure in ("1,234,567.89", "123,456.78", "148,024,690.02", "￥148,024,690.02"):
        assert figure in text


def test_escpos_marks_a_reprint() -> None:
    text = parse(escpos_bytes(receipt(reprint=True), 58)).text()

    assert "收费收据（重印）" in text.splitlines()


def test_escpos_deposit_has_no_items_and_no_arrears() -> None:
    text = parse(escpos_bytes(deposit(), 80)).text()

    assert "定金收据" in text
    assert re.search(r"^现金 +￥2,000\.00$", text, re.M)
    for absent in ("单价", "欠款", "优惠合计"):
        assert absent not in text


def test_escpos_user_text_cannot_smuggle_commands() -> None:
    raw = escpos_bytes(receipt(customer_name="王\x1b@小\x1dV\x00美", note="第一行\n第二行\x1bd\x09"), 80)
    job = parse(raw)  # would fail on the cut / feed commands inside the text

    assert raw.count(b"\x1b@") == 1
    assert raw.count(b"\x1dV") == 1
    assert "备注：第一行" in job.text().splitlines()
    assert "第二行d" in job.text().splitlines()


def test_escpos_skips_the_barcode_for_a_number_it_cannot_encode() -> None:
    job = parse(escpos_bytes(receipt(receipt_no="收据-0001"), 80))

    assert job.barcodes == []
    assert "单号：收据-0001" in job.text()


def test_escpos_rejects_other_paper_widths() -> None:
    with pytest.raises(ValueError, match="58 或 80"):
        escpos_bytes(receipt(), 76)


def test_print_escpos_sends_the_job_to_the_printer() -> None:
    printer = Dummy()
    print_escpos(receipt(), printer, width_mm=58)

    assert printer.output == escpos_bytes(receipt(), 58)
    assert printer.output != escpos_bytes(receipt(), 80)


@pytest.mark.parametrize(("text", "payload"), [
    ("ABC-1", b"{BABC-1"),
    ("12345678", b"{C\x0c\x22\x38\x4e"),
    ("123456789", b"{B1{C\x17\x2d\x43\x59"),
    ("R12345", b"{BR1{C\x17\x2d"),  # the odd digit stays in B
    ("R12345X", b"{BR12345X"),  # 5 digits in the middle: not worth two switches
    ("R123", b"{BR123"),
    ("R{123}", b"{BR{{123}"),
])
def test_code128_payloads(text: str, payload: bytes) -> None:
    assert parse(escpos_bytes(receipt(receipt_no=text), 80)).barcodes == [payload]


@settings(max_examples=60, deadline=None)
@given(st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=30))
def test_code128_round_trip(text: str) -> None:
    (payload,) = parse(escpos_bytes(receipt(receipt_no=text), 80)).barcodes
    assert decode_code128(payload) == text


_names = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)


@settings(max_examples=60, deadline=None)
@given(clinic=_names, customer=_names, item=_names, label=_names, fen=st.integers(-10**12, 10**12))
def test_escpos_any_text_stays_inside_the_paper(clinic: str, customer: str, item: str, label: str,
                                                fen: int) -> None:
    data = receipt(clinic_name=clinic, customer_name=customer, lines=[ReceiptLine(item, 3, fen, fen, fen)],
                   tenders=[ReceiptTender(label, fen)], balances=[(label, fen)], total_fen=fen)
    for width_mm, columns in ((58, 32), (80, 48)):
        job = parse(escpos_bytes(data, width_mm))
        for factor, raw in job.lines:
            assert display_width(raw.decode("gb18030")) * factor <= columns


def test_display_width() -> None:
    assert display_width("VIP123") == 6
    assert display_width("双眼皮") == 6
    assert display_width("￥1.00") == 6
    assert display_width("1 × 2") == 6  # ambiguous: full width on a Chinese printer
    assert display_width("e\u0301") == 1  # a combining accent takes no column


# --- the arrival label 到店条码 -----------------------------------------------------------------


def _label() -> receipts.ArrivalLabel:
    from datetime import datetime

    return receipts.ArrivalLabel(clinic_name="美客示范诊所", customer_name="柳如烟", card_no="2611230001",
                                 arrived_at=datetime(2026, 11, 23, 10, 5), visit_type="初诊", consultant="王芳")


def test_arrival_label_escpos_has_the_name_in_gb18030_and_the_card_number_as_code128() -> None:
    data = receipts.label_escpos_bytes(_label(), 58)
    assert data.startswith(b"\x1b@") and "柳如烟".encode("gb18030") in data
    code = receipts._code128_data("2611230001")
    assert code.startswith(b"{C") and len(code) == 7  # code set C: five digit pairs
    assert b"\x1dkI" + bytes([len(code)]) + code in data  # GS k m=73 (CODE128), the card number
    assert "咨询：王芳".encode("gb18030") in data and data.rstrip().endswith(b"\x1dV\x00")


def test_arrival_label_pdf_reads_back(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from pypdf import PdfReader

    path = receipts.render_label_pdf(_label(), tmp_path / "label.pdf")
    text = PdfReader(str(path)).pages[0].extract_text()
    assert "柳如烟" in text and "2611230001" in text and "王芳" in text
