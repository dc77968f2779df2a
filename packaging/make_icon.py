"""Draw Meike's application icon (resources/meike.png and the multi-size resources/meike.ico).

Run once when the design changes: ``QT_QPA_PLATFORM=offscreen python packaging/make_icon.py``. The
files are committed; the program, the PyInstaller build and the installer only read them.
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QImage, QLinearGradient, QPainter, QPainterPath
from PySide6.QtWidgets import QApplication

RESOURCES = Path(__file__).resolve().parents[1] / "resources"
SIZES = (16, 24, 32, 48, 64, 128, 256)


def draw(size: int) -> QImage:
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.TextAntialiasing)
    margin = max(1.0, size / 32)
    box = QRectF(margin, margin, size - 2 * margin, size - 2 * margin)
    gradient = QLinearGradient(box.topLeft(), box.bottomRight())
    gradient.setColorAt(0.0, QColor("#3a8fc4"))
    gradient.setColorAt(1.0, QColor("#24445c"))
    path = QPainterPath()
    path.addRoundedRect(box, size * 0.2, size * 0.2)
    painter.fillPath(path, gradient)
    font = QFont()
    font.setFamilies(["WenQuanYi Micro Hei", "Noto Sans CJK SC", "Microsoft YaHei", "sans-serif"])
    font.setBold(True)
    font.setPixelSize(int(size * 0.66))
    painter.setFont(font)
    painter.setPen(QColor("#ffffff"))
    painter.drawText(box, Qt.AlignmentFlag.AlignCenter, "美")
    painter.end()
    return image


def png_bytes(image: QImage) -> bytes:
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    return bytes(data.data())


def dib_bytes(image: QImage) -> bytes:
    """An icon entry as a classic 32-bit DIB (BITMAPINFOHEADER, bottom-up BGRA rows, an AND mask):
    what every Windows resource tool reads. Only the 256-pixel entry is stored as PNG."""
    image = image.convertToFormat(QImage.Format.Format_ARGB32)
    size = image.width()
    header = struct.pack("<IiiHHIIiiII", 40, size, size * 2, 1, 32, 0, 0, 0, 0, 0, 0)
    rows = b"".join(bytes(image.constBits())[y * image.bytesPerLine(): y * image.bytesPerLine() + size * 4]
                    for y in reversed(range(size)))  # ARGB32 is B, G, R, A in memory on little-endian
    mask_row = ((size + 31) // 32) * 4
    return header + rows + b"\0" * (mask_row * size)


def ico(images: list[tuple[int, bytes]]) -> bytes:
    """An ICO file of the given entries (DIB or PNG data), smallest first."""
    header = struct.pack("<HHH", 0, 1, len(images))
    offset = 6 + 16 * len(images)
    entries, blobs = b"", b""
    for size, blob in images:
        side = 0 if size >= 256 else size  # 0 means 256 in an ICO directory entry
        entries += struct.pack("<BBBBHHII", side, side, 0, 0, 1, 32, len(blob), offset + len(blobs))
        blobs += blob
    return header + entries + blobs


def main() -> int:
    QApplication.instance() or QApplication(sys.argv[:1])
    images = [(size, png_bytes(draw(size)) if size >= 256 else dib_bytes(draw(size))) for size in SIZES]
    (RESOURCES / "meike.png").write_bytes(png_bytes(draw(256)))
    (RESOURCES / "meike.ico").write_bytes(ico(images))
    print(RESOURCES / "meike.png", RESOURCES / "meike.ico")
    return 0


if __name__ == "__main__":
    sys.exit(main())
