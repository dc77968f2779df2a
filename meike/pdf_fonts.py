"""The Chinese font that receipt and label PDFs embed 收据 / 条码 PDF 中文字体.

reportlab embeds TrueType fonts only (``glyf`` outlines: Microsoft YaHei, SimSun, WenQuanYi Micro
Hei …); Noto CJK / Source Han (``CFF`` outlines) are refused. Without such a font the PDFs name
Adobe's ``STSong-Light``, which is not embedded: a viewer without the Adobe Asian font pack may show
no Chinese. The search runs once per process (:func:`system_font`) and may take a moment: call it
from a background task, never on the GUI thread.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import struct
import sys
import threading
from collections.abc import Iterable
from glob import glob
from pathlib import Path

log = logging.getLogger(__name__)

CID_FONT = "STSong-Light"
SAMPLE = "美客收据顾客金额"  # a usable font has all of these
MAX_BYTES = 256 * 1024 * 1024  # larger files are no font (the biggest CJK TTCs are ~100 MB)
MAX_SCANNED = 20_000  # files looked at in the system font folders


def _windows_dir() -> Path:
    return Path(os.environ.get("WINDIR") or os.environ.get("SystemRoot") or r"C:\Windows") / "Fonts"


if sys.platform == "win32":
    # Microsoft YaHei, SimSun, SimHei, KaiTi: TrueType outlines, on every Chinese Windows.
    KNOWN_FONTS: list[str] = [str(_windows_dir() / name)
                              for name in ("msyh.ttc", "msyh.ttf", "simsun.ttc", "simhei.ttf", "simkai.ttf")]
    FONT_DIRS: list[Path] = [_windows_dir(),
                             Path(os.environ.get("LOCALAPPDATA", "~/AppData/Local")) / "Microsoft/Windows/Fonts"]
else:
    KNOWN_FONTS = [
        "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",  # Debian / Ubuntu fonts-wqy-microhei
        "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
        "/usr/share/fonts/wqy-microhei/wqy-microhei.ttc",  # Fedora
        "/usr/share/fonts/wqy-zenhei/wqy-zenhei.ttc",
        "/usr/share/fonts/wenquanyi/wqy-microhei/wqy-microhei.ttc",  # Arch
        "/usr/share/fonts/wenquanyi/wqy-zenhei/wqy-zenhei.ttc",
        "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
        "/usr/share/fonts/truetype/droid/DroidSansFallback.ttf",
        "/usr/share/fonts/google-droid-sans-fonts/DroidSansFallbackFull.ttf",
        "/usr/share/fonts/truetype/arphic/uming.ttc",  # AR PL UMing / UKai
        "/usr/share/fonts/truetype/arphic/ukai.ttc",
        "/usr/share/fonts/cjkuni-uming/uming.ttc",
        "/usr/share/fonts/cjkuni-ukai/ukai.ttc",
        "/System/Library/Fonts/STHeiti*.ttc",  # macOS
        "/System/Library/Fonts/PingFang.ttc",
        "/System/Library/Fonts/Supplemental/Songti.ttc",
        "/Library/Fonts/Arial Unicode.ttf",
        "/System/Library/Fonts/Supplemental/Arial Unicode.ttf",
    ]
    FONT_DIRS = ([Path("/System/Library/Fonts"), Path("/Library/Fonts"), Path("~/Library/Fonts")]
                 if sys.platform == "darwin" else
                 [Path("/usr/share/fonts"), Path("/usr/local/share/fonts"), Path("~/.local/share/fonts"),
                  Path("~/.fonts")])

# A file name with one of these in it suggests a Chinese font (checked on the lower-cased name) …
NAME_HINTS = ("cjk", "wqy", "wenquanyi", "microhei", "zenhei", "droidsansfallback", "uming", "ukai", "arphic",
              "heiti", "songti", "kaiti", "fangsong", "pingfang", "hiragino", "yahei", "msyh", "msjh", "simsun",
              "simhei", "simkai", "simfang", "mingliu", "dengxian", "sarasa", "sourcehan", "hansans", "chinese",
              "arialuni", "arial unicode", "stsong", "stxihei", "stkaiti")
# … and so does one of these as a word of it (NotoSans-SC.ttf, AlibabaPuHuiTi-CN.ttf).
NAME_WORDS = {"sc", "tc", "cn", "zh", "hk", "tw", "gb", "chs", "cht", "hans", "hant"}


# --- checking one file -----------------------------------------------------------------------


def _outlines(path: Path) -> str:
    """'cff', 'glyf' or '' (unknown) from the first bytes of a font file (of a .ttc: its first font)."""
    try:
        with path.open("rb") as f:
            head = f.read(16)
            if head[:4] == b"ttcf" and len(head) == 16:
                f.seek(struct.unpack(">I", head[12:16])[0])
                head = f.read(4)
    except OSError:
        return ""
    if head[:4] == b"OTTO":
        return "cff"
    if head[:4] in (b"\x00\x01\x00\x00", b"true"):
        return "glyf"
    return ""


def _key(path: Path) -> tuple[str, int, int]:
    st = path.stat()
    return str(path.resolve()), st.st_mtime_ns, st.st_size


def _font_name(key: tuple[str, int, int]) -> str:
    """The name the font is registered under with reportlab: one per file (and version of it)."""
    digest = hashlib.sha1(repr(key).encode("utf-8")).hexdigest()[:8]
    stem = re.sub(r"[^A-Za-z0-9]+", "", Path(key[0]).stem)[:24] or "font"
    return f"MeikeCJK-{stem}-{digest}"


POSTSCRIPT_OUTLINES = ("该字体是 PostScript（CFF）轮廓（如 Noto CJK、思源黑体），无法嵌入 PDF；"
                       "请选择 TrueType 字体，如微软雅黑 msyh.ttc、宋体 simsun.ttc 或文泉驿微米黑")
NOT_TRUETYPE = "不是可用的 TrueType 字体文件（.ttf / .ttc）"

_lock = threading.RLock()
_problems: dict[tuple[str, int, int], str | None] = {}


def font_problem(path: str | os.PathLike[str]) -> str | None:
    """None when reportlab can embed ``path`` (TrueType outlines, with Chinese), else why not, in Chinese.

    A ``.ttc`` is judged by its first font. The answer is kept per file (path, size, time), and a font
    that loads stays registered with reportlab, so checking and rendering parse it once.
    """
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFError, TTFont

    target = Path(path).expanduser()
    if not target.exists():
        return "找不到该字体文件"
    if not target.is_file():
        return "请选择字体文件（.ttf / .ttc），而不是文件夹"
    try:
        key = _key(target)
    except OSError as e:
        return f"无法读取该字体文件：{e.strerror or e}"
    with _lock:
        if key in _problems:
            return _problems[key]
        name = _font_name(key)
        problem: str | None = None
        if key[2] > MAX_BYTES:
            problem = "文件太大，不是字体文件"
        elif _outlines(target) == "cff":
            problem = POSTSCRIPT_OUTLINES
        else:
            try:
                registered = name in pdfmetrics.getRegisteredFontNames()
                font = pdfmetrics.getFont(name) if registered else TTFont(name, str(target), subfontIndex=0)
            except TTFError as e:
                if "postscript" in str(e).lower():
                    problem = POSTSCRIPT_OUTLINES
                else:
                    problem = NOT_TRUETYPE
            except Exception:  # a damaged file can fail anywhere in the parser
                problem = NOT_TRUETYPE
            else:
                if not all(ord(c) in font.face.charToGlyph for c in SAMPLE):
                    problem = "该字体不含中文字符，请选择中文字体"
                elif not registered:
                    pdfmetrics.registerFont(font)
        _problems[key] = problem
        return problem


def register(font_file: str | os.PathLike[str] | None) -> str:
    """Register (once) and return the reportlab name of ``font_file``, or of STSong-Light for None.

    Raises reportlab's TTFError when the file cannot be embedded.
    """
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfbase.ttfonts import TTFont

    with _lock:
        if font_file is None:
            if CID_FONT not in pdfmetrics.getRegisteredFontNames():
                pdfmetrics.registerFont(UnicodeCIDFont(CID_FONT))
            return CID_FONT
        path = Path(font_file).expanduser()
        try:
            name = _font_name(_key(path))
        except OSError:
            name = f"MeikeCJK-{path.stem}"  # TTFont below says the file cannot be opened
        if name not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(TTFont(name, str(path), subfontIndex=0))
        return name


def family_name(path: str | os.PathLike[str]) -> str:
    """The font's family name (e.g. 'WenQuanYi Micro Hei') when it is registered, else the file name."""
    from reportlab.pdfbase import pdfmetrics

    target = Path(path)
    try:
        font = pdfmetrics.getFont(_font_name(_key(target)))
        family = font.face.familyName
        return family.decode("utf-8", "replace") if isinstance(family, bytes) else str(family)
    except Exception:  # not loaded (yet), or a face without a name
        return target.name


# --- the search ------------------------------------------------------------------------------


def _suggests_cjk(name: str) -> bool:
    lower = name.lower()
    return any(hint in lower for hint in NAME_HINTS) or bool(NAME_WORDS & set(re.split(r"[^a-z]+", lower)))


def candidates() -> list[Path]:
    """Files to try, best first: the known fonts of this system, then any Chinese-looking .ttf / .ttc."""
    out: list[Path] = []
    for pattern in KNOWN_FONTS:
        out += [Path(p) for p in sorted(glob(os.path.expanduser(pattern)))]
    scanned = 0
    for folder in FONT_DIRS:
        found: list[Path] = []
        for root, dirs, files in os.walk(Path(folder).expanduser(), onerror=lambda _e: None):
            dirs.sort()
            for name in sorted(files):
                scanned += 1
                if name.lower().endswith((".ttf", ".ttc")) and _suggests_cjk(name):
                    found.append(Path(root) / name)
            if scanned > MAX_SCANNED:
                break
        out += found
    return list(dict.fromkeys(out))


def search(paths: Iterable[Path]) -> Path | None:
    """The first of ``paths`` that reportlab can embed and that has Chinese, or None."""
    for path in paths:
        try:
            if path.is_file() and font_problem(path) is None:
                return path
        except OSError:
            continue
    return None


_found: list[Path | None] = []  # empty: not searched yet in this process
_search_lock = threading.Lock()  # one search at a time; the others wait for its answer


def system_font() -> Path | None:
    """The CJK TrueType font found on this computer (searched once per process), or None.

    None is warned about once: the PDFs then use STSong-Light, not embedded.
    """
    with _search_lock:
        if not _found:
            found = search(candidates())
            if found is None:
                log.warning("No Chinese TrueType font found for receipt and label PDFs; they use %s, which is "
                            "not embedded (set a font under 系统管理 → 本机打印机 → PDF 中文字体)", CID_FONT)
            else:
                log.info("PDF font: %s", found.name)
            _found.append(found)
        return _found[0]


_warned: set[str] = set()


def font_for(configured: str | os.PathLike[str] | None) -> Path | None:
    """The font file the PDFs embed: ``configured`` (this PC's setting) when usable, else
    :func:`system_font`; None means STSong-Light (not embedded)."""
    if configured and str(configured).strip():
        path = Path(configured).expanduser()
        problem = font_problem(path)
        if problem is None:
            return path
        with _lock:
            if str(path) not in _warned:
                _warned.add(str(path))
                log.warning("The PDF font set on this PC (%s) cannot be used (%s); choosing one automatically",
                            path.name, problem)
    return system_font()


def describe_automatic() -> str:
    """What the automatic choice is, for the settings page (runs the search: not on the GUI thread)."""
    found = system_font()
    if found is None:
        return f"未找到，使用 {CID_FONT}（不嵌入）"
    return f"{family_name(found)}（{found}）"


def forget() -> None:
    """Search again next time, and re-check files (after fonts were installed; for tests)."""
    with _search_lock, _lock:
        _found.clear()
        _problems.clear()
        _warned.clear()
