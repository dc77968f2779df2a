"""The installer's file lists, written from the PyInstaller one-folder build, and the version for makensis.

``python packaging/nsis_files.py dist/Meike build/nsis`` writes three files into ``build/nsis``:

- ``install_files.nsh``: ``SetOutPath`` / ``File`` lines packing every file of the build, parents first,
  and ``!define MEIKE_PAYLOAD_KB`` (their size, for the uninstall entry's EstimatedSize);
- ``uninstall_files.nsh``: one ``Delete`` per file, then one non-recursive ``RMDir`` per folder,
  deepest first, so the uninstaller removes exactly what was installed and nothing else;
- ``installed-files.txt`` (UTF-16 with a BOM, CRLF): the same list, relative to the install folder,
  installed next to ``Meike.exe``. The next version's setup reads it to delete this version's files
  before it installs its own (folders end with a backslash and come deepest first).

``python packaging/nsis_files.py --version`` prints ``version`` of ``[project]`` in pyproject.toml, the
one place the version is written; ``make installer`` passes it to makensis as ``-DVERSION=``.

Sources in ``install_files.nsh`` are ``${DISTDIR}/relative/path`` (forward slashes: makensis on Linux
and on Windows both read them; taken literally), install-side paths are ``$INSTDIR\\relative\\path``
(backslashes: they are used on Windows only; ``$`` doubled, as in every run-time string). Names Windows
cannot hold, or that would clash on its case-insensitive file system, stop the generation with an error
rather than produce a broken installer.

This folder has no ``__init__.py`` on purpose: ``packaging`` is also the name of a PyPI package.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

ROOT = Path(__file__).resolve().parent.parent
INSTALL_NSH = "install_files.nsh"
UNINSTALL_NSH = "uninstall_files.nsh"
MANIFEST = "installed-files.txt"
# installer.nsi writes these two into the install folder itself; a build file of the same name would clash.
OWN_FILES = ("Uninstall.exe", MANIFEST)

_BAD_CHARS = re.compile(r'[<>:"/\\|?*\x00-\x1f]')
_DEVICE_NAME = re.compile(r"^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$", re.IGNORECASE)
_VERSION = re.compile(r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$")


class LayoutError(ValueError):
    """The build folder cannot be turned into an installer as it is."""


@dataclass(frozen=True)
class Payload:
    """What the installer packs: paths relative to the build folder, in a stable order."""

    files: tuple[PurePosixPath, ...]
    dirs: tuple[PurePosixPath, ...]  # every folder below the build folder (not the folder itself)
    size_bytes: int

    @property
    def size_kb(self) -> int:
        return -(-self.size_bytes // 1024)


def project_version(pyproject: Path = ROOT / "pyproject.toml") -> str:
    """``version`` under ``[project]``; the installer needs plain x.y.z (VIProductVersion, VersionCompare)."""
    with pyproject.open("rb") as fh:
        version = str(tomllib.load(fh)["project"]["version"])
    if not _VERSION.match(version):
        raise LayoutError(
            f"version {version!r} in {pyproject} is not x.y.z (no leading zeros): the installer's version "
            "resource and its downgrade check (NSIS VersionCompare) take numbers only"
        )
    return version


def _check_name(rel: PurePosixPath) -> None:
    for part in rel.parts:
        if _BAD_CHARS.search(part) or part.endswith((" ", ".")) or _DEVICE_NAME.match(part):
            raise LayoutError(f"{rel}: {part!r} is not a valid file name on Windows")
        if "${" in part:
            raise LayoutError(f"{rel}: makensis would read '${{' in a name as one of its defines")
        if ".." in part:
            # installer.nsi skips list entries holding "..", so such a file could never be removed on upgrade.
            raise LayoutError(f"{rel}: names with '..' are not supported by the installer's file list")
    if len(rel.parts) == 1 and rel.name.casefold() in {name.casefold() for name in OWN_FILES}:
        raise LayoutError(f"{rel}: the installer writes a file of this name itself")


def scan(dist: Path) -> Payload:
    """Every file and folder under ``dist``, checked for names Windows and NSIS can take."""
    if not (dist / "Meike.exe").is_file() and not (dist / "Meike").is_file():
        # The Linux build (CI compiles the installer against it to prove the script) has "Meike".
        raise LayoutError(f"{dist} is not a Meike build folder (no Meike.exe in it)")
    files: list[PurePosixPath] = []
    dirs: list[PurePosixPath] = []
    seen: dict[str, PurePosixPath] = {}
    size = 0
    for top, dirnames, filenames in os.walk(dist):
        base = Path(top)
        for name in dirnames + filenames:
            path = base / name
            rel = PurePosixPath(path.relative_to(dist).as_posix())
            _check_name(rel)
            other = seen.setdefault(str(rel).casefold(), rel)
            if other != rel:
                raise LayoutError(
                    f"{rel} and {other} are the same file on Windows (names differ in case only)"
                )
            if path.is_symlink() and path.is_dir():
                raise LayoutError(f"{rel} is a link to a folder; the installer packs real folders only")
            if path.is_dir():
                dirs.append(rel)
            elif path.is_file():
                files.append(rel)
                size += path.stat().st_size
            else:
                raise LayoutError(f"{rel} is neither a file nor a folder")
    return Payload(
        files=tuple(sorted(files, key=lambda p: p.parts)),
        dirs=tuple(sorted(dirs, key=lambda p: p.parts)),
        size_bytes=size,
    )


def _nsis(text: str) -> str:
    """``text`` in a double-quoted NSIS string read at run time: only ``$`` is special (``"`` is refused)."""
    return text.replace("$", "$$")


def _target(rel: PurePosixPath) -> str:
    return "$INSTDIR" if not rel.parts else "$INSTDIR\\" + _nsis("\\".join(rel.parts))


def deepest_first(dirs: tuple[PurePosixPath, ...]) -> list[PurePosixPath]:
    """Folders ordered so that each comes after every folder inside it."""
    return sorted(dirs, key=lambda p: (-len(p.parts), p.parts))


def _header(dist: Path) -> list[str]:
    return [f"; Generated by packaging/nsis_files.py from {dist.resolve()}; do not edit.", ""]


def install_lines(payload: Payload, dist: Path) -> list[str]:
    lines = [*_header(dist), f"!define MEIKE_PAYLOAD_KB {payload.size_kb}", ""]
    by_dir: dict[PurePosixPath, list[PurePosixPath]] = {PurePosixPath(): []}
    by_dir.update({d: [] for d in payload.dirs})
    for rel in payload.files:
        by_dir[rel.parent].append(rel)
    for folder in sorted(by_dir, key=lambda p: p.parts):  # a folder before the folders inside it
        lines.append(f'SetOutPath "{_target(folder)}"')
        # File's source is read at compile time, literally (no $$); it escapes the installed name itself.
        lines.extend(f'File "${{DISTDIR}}/{rel.as_posix()}"' for rel in by_dir[folder])
    lines.append('SetOutPath "$INSTDIR"')
    return lines


def uninstall_lines(payload: Payload, dist: Path) -> list[str]:
    """``Delete`` per file, ``RMDir`` (never ``/r``) per folder; the install folder itself is left to
    installer.nsi, which removes it last and only if it is empty."""
    lines = _header(dist)
    lines.extend(f'Delete "{_target(rel)}"' for rel in payload.files)
    lines.extend(f'RMDir "{_target(rel)}"' for rel in deepest_first(payload.dirs))
    return lines


def manifest_lines(payload: Payload) -> list[str]:
    lines = ["; Installed by the Meike setup program; the next setup deletes these before installing."]
    lines.extend("\\".join(rel.parts) for rel in payload.files)
    lines.extend("\\".join(rel.parts) + "\\" for rel in deepest_first(payload.dirs))
    return lines


def write_lists(dist: Path, out: Path) -> Payload:
    payload = scan(dist)
    out.mkdir(parents=True, exist_ok=True)
    # UTF-8 with a BOM: makensis then reads non-ASCII names right whatever the build machine's code page.
    (out / INSTALL_NSH).write_text("\n".join(install_lines(payload, dist)) + "\n", encoding="utf-8-sig")
    (out / UNINSTALL_NSH).write_text("\n".join(uninstall_lines(payload, dist)) + "\n", encoding="utf-8-sig")
    # Read at install time with FileReadUTF16LE, which takes any name Windows can hold.
    text = "\ufeff" + "".join(line + "\r\n" for line in manifest_lines(payload))
    (out / MANIFEST).write_bytes(text.encode("utf-16-le"))
    return payload


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Write the NSIS file lists of a PyInstaller one-folder build."
    )
    parser.add_argument("--version", action="store_true", help="print the version in pyproject.toml and exit")
    parser.add_argument("dist", nargs="?", type=Path, help="the build folder, e.g. dist/Meike")
    parser.add_argument("out", nargs="?", type=Path, help="where to write the lists, e.g. build/nsis")
    args = parser.parse_args(argv)
    try:
        if args.version:
            print(project_version())
            return 0
        if args.dist is None or args.out is None:
            parser.error("give the build folder and the output folder (or --version)")
        payload = write_lists(args.dist, args.out)
    except LayoutError as exc:
        print(f"nsis_files: {exc}", file=sys.stderr)
        return 1
    print(f"{len(payload.files)} files, {len(payload.dirs)} folders, {payload.size_kb} KB -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
