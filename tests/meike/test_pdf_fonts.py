"""Receipt and label PDFs embed a Chinese TrueType font found on the PC (or set for it); Noto CJK
(PostScript outlines) is refused; with no such font the PDFs fall back to STSong-Light, warned once."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pytest
from pypdf import PdfReader

from devices.printer import PrinterSetting
from meike import pdf_fonts, workstation
from meike.db import Clinic
from meike.errors import ValidationError
from meike.models import Receipt
from meike.permissions import Actor
from meike.receipts import ArrivalLabel, ReceiptData, ReceiptLine, ReceiptTender, render_label_pdf, render_pdf
from meike.services import cashier, receipting
from meike.services.ledger import Tender
from tests.meike.conftest_cashier import Shop, shop_fixture  # noqa: F401

WQY = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")  # fonts-wqy-microhei
NOTO = next((p for p in (Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
                         Path("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc")) if p.exists()), None)
DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
POSTSCRIPT = "PostScript（CFF）轮廓"

needs_wqy = pytest.mark.skipif(not WQY.exists(), reason="WenQuanYi Micro Hei not installed (fonts-wqy-microhei)")
needs_noto = pytest.mark.skipif(NOTO is None, reason="Noto CJK not installed (fonts-noto-cjk)")


@pytest.fixture(autouse=True)
def _fresh_search() -> Iterator[None]:
    pdf_fonts.forget()
    yield
    pdf_fonts.forget()


@pytest.fixture
def no_system_fonts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Discovery pointed at an empty folder: no known font files, nothing to scan."""
    empty = tmp_path / "no-fonts"
    empty.mkdir()
    monkeypatch.setattr(pdf_fonts, "KNOWN_FONTS", [str(empty / "wqy-microhei.ttc"), str(empty / "msyh.ttc")])
    monkeypatch.setattr(pdf_fonts, "FONT_DIRS", [empty])
    return empty


def receipt() -> ReceiptData:
    return ReceiptData(
        clinic_name="美客医疗美容诊所", receipt_no="R20261123-0007", business_date=date(2026, 11, 23),
        printed_at=datetime(2026, 11, 23, 14, 32), kind_label="收费收据", customer_name="王小美", card_no="VIP000123",
        cashier="李收银", lines=[ReceiptLine("双眼皮", 1, 680_000, 80_000, 600_000)], total_fen=600_000,
        discount_fen=80_000, tenders=[ReceiptTender("微信", 600_000)], arrears_fen=0)


def font_files(path: Path) -> list[str]:
    """The /FontFile… keys of the first page's fonts: /FontFile2 is an embedded TrueType font."""
    fonts = PdfReader(path).pages[0]["/Resources"]["/Font"]
    descriptors = [f.get_object().get("/FontDescriptor") for f in fonts.values()]
    return [key for d in descriptors if d is not None for key in d.get_object() if key.startswith("/FontFile")]


def base_fonts(path: Path) -> list[str]:
    fonts = PdfReader(path).pages[0]["/Resources"]["/Font"]
    return [str(f.get_object()["/BaseFont"]) for f in fonts.values()]


def text_of(path: Path) -> str:
    return "".join(page.extract_text() or "" for page in PdfReader(path).pages).replace(" ", "")


def _paid_receipt(clinic: Clinic, user: Actor, shop: Shop) -> int:
    order = cashier.open_order(clinic, user, customer_id=shop.customer_id, lines=[(shop.items["双眼皮"], 1, None)])
    cashier.pay(clinic, user, order, [Tender(shop.methods["微信"], 880_000)], idempotency_key="font-1")
    with clinic.read() as s:
        return s.query(Receipt.id).filter(Receipt.order_id == order).scalar()


# --- discovery and the PDFs ------------------------------------------------------------------


@needs_wqy
def test_the_system_font_is_found_and_embedded_in_the_receipt(tmp_path: Path) -> None:
    font = workstation.pdf_font_file()  # nothing set for this PC: found on the system
    assert font == WQY
    assert "WenQuanYi Micro Hei" in pdf_fonts.describe_automatic()
    path = render_pdf(receipt(), tmp_path / "r.pdf", font_file=font)
    assert font_files(path) and set(font_files(path)) == {"/FontFile2"}
    assert any(name.endswith("+WenQuanYiMicroHei-0") for name in base_fonts(path))  # a subset of the font
    text = text_of(path)
    for expected in ("美客医疗美容诊所", "王小美", "双眼皮", "收费收据", "李收银"):
        assert expected in text, expected


@needs_wqy
def test_the_cashier_service_writes_receipts_and_labels_with_the_embedded_font(
        clinic: Clinic, user: Actor, shop: Shop, demo_clinic: Clinic) -> None:
    path = receipting.print_receipt(clinic, user, _paid_receipt(clinic, user, shop), setting=PrinterSetting())
    assert path is not None
    assert font_files(path) and set(font_files(path)) == {"/FontFile2"}
    assert "张三" in text_of(path) and "双眼皮" in text_of(path)

    from meike.services import accounts, customers, triage

    gl = accounts.authenticate(demo_clinic, "gl", "123")
    someone = customers.search_customers(demo_clinic, gl, limit=1)[0]
    visit = triage.arrive(demo_clinic, gl, someone.id, consultant_id=triage.consultants(demo_clinic, gl)[0][0])
    label = receipting.print_arrival_label(demo_clinic, gl, visit, setting=PrinterSetting())
    assert label is not None and set(font_files(label)) == {"/FontFile2"}
    assert someone.name in text_of(label)


def test_without_a_usable_font_the_pdfs_use_stsong_light_and_say_so_once(
        no_system_fonts: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (no_system_fonts / "readme.txt").write_text("no fonts here", encoding="utf-8")
    caplog.set_level(logging.WARNING, logger="meike.pdf_fonts")
    assert pdf_fonts.candidates() == []
    assert workstation.pdf_font_file() is None
    assert pdf_fonts.font_for("") is None
    path = render_pdf(receipt(), tmp_path / "r.pdf", font_file=workstation.pdf_font_file())
    label = render_label_pdf(ArrivalLabel("美客诊所", "王小美", "VIP000123", datetime(2026, 11, 23, 9, 30), "初诊", "王芳"),
                             tmp_path / "label.pdf", font_file=workstation.pdf_font_file())
    warnings = [r for r in caplog.records if r.name == "meike.pdf_fonts" and r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "STSong-Light" in warnings[0].getMessage()
    assert font_files(path) == [] and font_files(label) == []
    assert "/STSong-Light" in base_fonts(path)  # (beside reportlab's default Helvetica, never embedded)
    assert "王小美" in text_of(path)
    assert pdf_fonts.describe_automatic() == "未找到，使用 STSong-Light（不嵌入）"


@needs_wqy
@needs_noto
def test_the_folder_scan_skips_postscript_fonts_and_fonts_without_chinese(
        no_system_fonts: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (no_system_fonts / "deep" / "er").mkdir(parents=True)
    assert NOTO is not None
    (no_system_fonts / "NotoSansCJK-Regular.ttc").symlink_to(NOTO)
    (no_system_fonts / "deep" / "DejaVuSans-SC.ttf").symlink_to(DEJAVU)  # a Chinese-looking name, no Chinese
    (no_system_fonts / "deep" / "er" / "wqy-copy.ttc").symlink_to(WQY)
    (no_system_fonts / "mystery.ttf").symlink_to(WQY)  # nothing in its name suggests Chinese: not tried
    loaded: list[str] = []
    real = pdf_fonts.font_problem
    monkeypatch.setattr(pdf_fonts, "font_problem", lambda p: loaded.append(Path(p).name) or real(p))
    assert pdf_fonts.system_font() == no_system_fonts / "deep" / "er" / "wqy-copy.ttc"
    assert pdf_fonts.system_font() == no_system_fonts / "deep" / "er" / "wqy-copy.ttc"
    assert "mystery.ttf" not in loaded
    assert loaded.count("wqy-copy.ttc") == 1  # searched once per process


@needs_wqy
def test_the_font_set_for_this_pc_comes_first(tmp_path: Path) -> None:
    mine = tmp_path / "我的字体.ttc"
    shutil.copyfile(WQY, mine)
    assert workstation.save_pdf_font_setting(f'  "{mine}" ') == str(mine)
    assert workstation.pdf_font_setting() == str(mine)
    assert workstation.pdf_font_file() == mine
    path = render_pdf(receipt(), tmp_path / "r.pdf", font_file=workstation.pdf_font_file())
    assert set(font_files(path)) == {"/FontFile2"} and "王小美" in text_of(path)
    assert workstation.save_pdf_font_setting("") == ""  # back to automatic
    assert workstation.pdf_font_setting() == "" and workstation.pdf_font_file() == WQY


@needs_wqy
def test_a_set_font_that_disappeared_falls_back_to_the_automatic_one(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    mine = tmp_path / "gone.ttc"
    shutil.copyfile(WQY, mine)
    workstation.save_pdf_font_setting(str(mine))
    mine.unlink()
    caplog.set_level(logging.WARNING, logger="meike.pdf_fonts")
    assert workstation.pdf_font_file() == WQY
    assert workstation.pdf_font_file() == WQY
    warnings = [r.getMessage() for r in caplog.records if r.name == "meike.pdf_fonts"]
    assert len(warnings) == 1 and "gone.ttc" in warnings[0] and str(tmp_path) not in warnings[0]


# --- the workstation setting's validation ----------------------------------------------------


@needs_noto
def test_noto_cjk_is_refused_with_a_chinese_message(monkeypatch: pytest.MonkeyPatch) -> None:
    assert NOTO is not None
    with pytest.raises(ValidationError) as e:
        workstation.save_pdf_font_setting(str(NOTO))
    assert POSTSCRIPT in e.value.errors["pdf_font"] and "TrueType" in e.value.errors["pdf_font"]
    assert workstation.pdf_font_setting() == ""
    # Without the quick look at the file's header, reportlab's own refusal (TTFError) says the same.
    pdf_fonts.forget()
    monkeypatch.setattr(pdf_fonts, "_outlines", lambda _path: "")
    with pytest.raises(ValidationError) as e:
        workstation.save_pdf_font_setting(str(NOTO))
    assert POSTSCRIPT in e.value.errors["pdf_font"]


def test_an_otf_with_postscript_outlines_is_refused(tmp_path: Path) -> None:
    otf = tmp_path / "NotoSansCJKsc-Regular.otf"
    otf.write_bytes(b"OTTO" + bytes(200))
    with pytest.raises(ValidationError) as e:
        workstation.save_pdf_font_setting(str(otf))
    assert POSTSCRIPT in e.value.errors["pdf_font"]


def test_bad_font_paths_are_refused_and_nothing_is_saved(tmp_path: Path) -> None:
    text = tmp_path / "notes.ttf"
    text.write_text("这不是字体", encoding="utf-8")
    cases = {str(tmp_path / "missing.ttf"): "找不到该字体文件",
             str(tmp_path): "请选择字体文件（.ttf / .ttc），而不是文件夹",
             str(text): "不是可用的 TrueType 字体文件（.ttf / .ttc）"}
    if DEJAVU.exists():
        cases[str(DEJAVU)] = "该字体不含中文字符，请选择中文字体"
    for path, message in cases.items():
        with pytest.raises(ValidationError) as e:
            workstation.save_pdf_font_setting(path)
        assert e.value.errors == {"pdf_font": message}, path
    assert workstation.pdf_font_setting() == ""
    assert not (Path(workstation._file()).exists() and "pdf_font" in Path(workstation._file()).read_text("utf-8"))


def test_check_only_validates(tmp_path: Path) -> None:
    if not WQY.exists():
        pytest.skip("WenQuanYi Micro Hei not installed (fonts-wqy-microhei)")
    assert workstation.save_pdf_font_setting(str(WQY), check=True) == str(WQY)
    assert workstation.pdf_font_setting() == ""
    workstation.save_printer_setting("file", str(tmp_path / "lp0"), 58, check=True)
    assert workstation.printer_setting().kind == "none"
