"""本机打印机 → PDF 中文字体: the hint names the font found automatically (searched off the GUI thread),
a bad file is refused beside the field with nothing saved, a good one is saved with the printer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from devices.printer import PrinterSetting
from meike import pdf_fonts, workstation
from tests.ui.waiting import settle
from ui.settings import PrinterSettings

pytestmark = pytest.mark.gui

WQY = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
NOTO = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")


@pytest.fixture(autouse=True)
def _fresh_search() -> Iterator[None]:
    pdf_fonts.forget()
    yield
    pdf_fonts.forget()


def _page(qtbot: QtBot) -> PrinterSettings:
    page = PrinterSettings()
    qtbot.addWidget(page)
    page.show()
    qtbot.waitUntil(lambda: "正在查找" not in page.pdf_font_hint.text(), timeout=10_000)
    return page


def test_a_bad_font_is_refused_beside_the_field_and_a_good_one_saved(qtbot: QtBot, tmp_path: Path) -> None:
    if not WQY.exists():
        pytest.skip("WenQuanYi Micro Hei not installed (fonts-wqy-microhei)")
    page = _page(qtbot)
    assert page.pdf_font_hint.text() == f"自动选择：WenQuanYi Micro Hei（{WQY}）"
    assert page.pdf_font.text() == ""
    page.kind.setCurrentIndex(page.kind.findData("file"))
    page.target.setText(str(tmp_path / "lp0"))
    qtbot.keyClicks(page.pdf_font, str(tmp_path / "missing-font.ttf"))
    page.save_button.click()
    settle()
    assert page.form.error_text("pdf_font") == "找不到该字体文件"
    assert page.status.text() == "未保存：请按红色提示修改"
    assert workstation.pdf_font_setting() == ""
    assert workstation.printer_setting() == PrinterSetting()  # never half-saved

    if NOTO.exists():
        page.pdf_font.clear()
        qtbot.keyClicks(page.pdf_font, str(NOTO))
        page.save_button.click()
        settle()
        assert "PostScript（CFF）轮廓" in page.form.error_text("pdf_font")

    page.pdf_font.clear()
    qtbot.keyClicks(page.pdf_font, str(WQY))
    page.save_button.click()
    settle()
    assert page.form.error_text("pdf_font") == ""
    assert page.status.text() == "已保存"
    assert workstation.pdf_font_setting() == str(WQY)
    assert workstation.printer_setting() == PrinterSetting("file", str(tmp_path / "lp0"), 80)
    again = _page(qtbot)
    assert again.pdf_font.text() == str(WQY)


def test_browse_fills_the_field_and_an_empty_field_means_automatic(qtbot: QtBot, monkeypatch: pytest.MonkeyPatch,
                                                                   tmp_path: Path) -> None:
    empty = tmp_path / "no-fonts"
    empty.mkdir()
    monkeypatch.setattr(pdf_fonts, "KNOWN_FONTS", [])
    monkeypatch.setattr(pdf_fonts, "FONT_DIRS", [empty])
    page = _page(qtbot)
    assert page.pdf_font_hint.text() == "自动选择：未找到，使用 STSong-Light（不嵌入）"
    asked: list[str] = []
    monkeypatch.setattr(page, "choose_font_file", lambda start: asked.append(start) or "")
    page.pdf_font_browse.click()
    assert asked == [str(empty)] and page.pdf_font.text() == ""  # cancelled: unchanged
    if WQY.exists():
        monkeypatch.setattr(page, "choose_font_file", lambda start: str(WQY))
        page.pdf_font_browse.click()
        assert page.pdf_font.text() == str(WQY)
        page.pdf_font.clear()
    page.save_button.click()
    settle()
    assert page.status.text() == "已保存" and workstation.pdf_font_setting() == ""
