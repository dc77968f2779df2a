"""Write THIRD-PARTY-NOTICES.txt: every open-source package the frozen build ships, its version and licence.

Run with the build venv's Python (``make dist`` does): ``.venv-build/bin/python packaging/notices.py OUT``.
The list comes from the installed packages' metadata, less the tools that only build (PyInstaller's
bootloader, which is shipped, is named with its licence's exception), plus Python itself and the native
libraries the wheels carry. Each package's own licence files are copied to ``licenses/<package>/`` beside
the notice when a folder is given with ``--licenses``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from importlib.metadata import Distribution, distributions
from pathlib import Path

BUILD_ONLY = {"pip", "setuptools", "wheel", "pyinstaller-hooks-contrib", "altgraph", "packaging", "pefile",
              "pywin32-ctypes", "meike", "argcomplete"}

HEADER = """美客 Meike — 第三方软件声明 / Third-party notices

美客的安装程序包含下列开源软件。它们各自的许可证文本在安装目录的 licenses 文件夹中。
Meike ships the open-source software listed below; their licence texts are in the licenses folder.

Qt 6 (PySide6, shiboken6) is used under the GNU Lesser General Public License v3. The Qt libraries are
shipped as separate, unmodified shared libraries (in _internal/PySide6), so they can be replaced with
another build of the same Qt version. The source code of Qt is available from https://download.qt.io/
and of PySide6 from https://code.qt.io/cgit/pyside/pyside-setup.git/ . psycopg is likewise LGPL v3 and
shipped as its own unmodified package (_internal/psycopg, _internal/psycopg_binary).

Python {python} — Python Software Foundation License Version 2 (https://docs.python.org/3/license.html).
PyInstaller's bootloader (the Meike and meike-check programs' starter) — GPL v2 or later with the
PyInstaller exception that allows distributing it with programs of any licence.
SQLite (inside Python) — public domain. PortAudio (with sounddevice) — MIT. libsndfile (with
soundfile) — LGPL v2.1, a separate shared library.

"""


def _name(dist: Distribution) -> str:
    return str(dist.metadata["Name"])


def licence(dist: Distribution) -> str:
    meta = dist.metadata
    expression = meta.get("License-Expression")
    if expression:
        return str(expression)
    classifiers = [c.split("::")[-1].strip() for c in meta.get_all("Classifier") or [] if c.startswith("License ::")]
    text = (meta.get("License") or "").strip().splitlines()
    short = text[0][:80] if text and len(text[0]) < 80 else ""
    return "; ".join(dict.fromkeys([*classifiers, short] if short else classifiers)) or "见其许可证文件 / see its licence file"


def homepage(dist: Distribution) -> str:
    meta = dist.metadata
    if meta.get("Home-page"):
        return str(meta["Home-page"])
    urls = {u.split(",", 1)[0].strip().lower(): u.split(",", 1)[1].strip()
            for u in meta.get_all("Project-URL") or [] if "," in u}
    for label in ("homepage", "home", "source", "source code", "repository", "documentation"):
        if label in urls:
            return urls[label]
    return next(iter(urls.values()), "")


def shipped() -> list[Distribution]:
    seen: dict[str, Distribution] = {}
    for dist in distributions():
        key = _name(dist).lower().replace("_", "-")
        if key not in BUILD_ONLY:
            seen.setdefault(key, dist)
    return sorted(seen.values(), key=lambda d: _name(d).lower())


def render(dists: list[Distribution]) -> str:
    lines = [HEADER.format(python=".".join(map(str, sys.version_info[:3])))]
    for dist in dists:
        lines.append(f"{_name(dist)} {dist.version}\n    许可证 Licence: {licence(dist)}\n    {homepage(dist)}\n")
    return "\n".join(lines)


def copy_licences(dists: list[Distribution], folder: Path) -> int:
    copied = 0
    for dist in dists:
        for file in dist.files or []:
            parts = [p.lower() for p in file.parts]
            if not any(p.startswith(("license", "licence", "copying", "notice")) for p in parts[-2:]):
                continue
            if not parts[0].endswith(".dist-info"):
                continue
            source = Path(str(file.locate()))
            if source.is_file():
                target = folder / _name(dist) / source.name
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, target)
                copied += 1
    return copied


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the third-party notices of the frozen build.")
    parser.add_argument("out", type=Path, help="THIRD-PARTY-NOTICES.txt to write")
    parser.add_argument("--licenses", type=Path, help="also copy every package's licence files here")
    args = parser.parse_args(argv)
    dists = shipped()
    args.out.write_text(render(dists), encoding="utf-8")
    copied = copy_licences(dists, args.licenses) if args.licenses else 0
    print(f"{len(dists)} packages -> {args.out}" + (f", {copied} licence files -> {args.licenses}" if args.licenses else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
