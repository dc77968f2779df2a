"""The Windows installer: nsis_files.py's file lists, installer.nsi, and a real makensis run."""

from __future__ import annotations

import importlib.util
import re
import shutil
import struct
import subprocess
import sys
import tomllib
from pathlib import Path, PurePosixPath
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
NSI = ROOT / "installer.nsi"


def _load_generator() -> ModuleType:
    # By path: "packaging" is also the PyPI package of that name, installed in the venv.
    spec = importlib.util.spec_from_file_location("nsis_files", ROOT / "packaging" / "nsis_files.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look the module up while the class is made
    spec.loader.exec_module(module)
    return module


nsis_files = _load_generator()

FAKE_FILES = (
    "Meike.exe",
    "meike-check.exe",
    "_internal/base_library.zip",
    "_internal/x/y.dll",
    "_internal/x/z/deep.pyd",
    "_internal/PySide6/plugins/platforms/qwindows.dll",
    "_internal/cost$1.txt",
    "_internal/说明.txt",
)


def make_dist(root: Path) -> Path:
    dist = root / "Meike"
    for rel in FAKE_FILES:
        path = dist / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rel.encode() * 50)
    (dist / "_internal" / "empty").mkdir()
    return dist


def write_icon(path: Path) -> Path:
    """A 16×16 32-bit icon, enough for makensis (the real one is resources/meike.ico)."""
    size = 16
    pixels = bytes([0x40, 0x80, 0xE0, 0xFF]) * size * size
    mask = bytes(4 * size)
    header = struct.pack("<IiiHHIIiiII", 40, size, 2 * size, 1, 32, 0, len(pixels) + len(mask), 0, 0, 0, 0)
    image = header + pixels + mask
    entry = struct.pack("<BBBBHHII", size, size, 0, 0, 1, 32, len(image), 22)
    path.write_bytes(struct.pack("<HHH", 0, 1, 1) + entry + image)
    return path


def nsh_lines(path: Path) -> list[str]:
    return [
        line
        for line in path.read_text(encoding="utf-8-sig").splitlines()
        if line and not line.startswith(";")
    ]


def win(rel: str) -> str:
    return rel.replace("/", "\\")


@pytest.fixture
def lists(tmp_path: Path) -> tuple[Path, Path]:
    dist = make_dist(tmp_path)
    out = tmp_path / "nsis"
    nsis_files.write_lists(dist, out)
    return dist, out


# -- the generator --------------------------------------------------------------------------------


def test_every_file_is_installed_into_its_folder(lists: tuple[Path, Path]) -> None:
    _dist, out = lists
    outpath = None
    installed: dict[str, str] = {}
    created: list[str] = []
    for line in nsh_lines(out / "install_files.nsh"):
        if m := re.fullmatch(r'SetOutPath "(.*)"', line):
            outpath = m[1]
            created.append(outpath)
        elif m := re.fullmatch(r'File "\$\{DISTDIR\}/(.*)"', line):
            assert outpath is not None
            installed[m[1]] = outpath
        else:
            assert line.startswith("!define MEIKE_PAYLOAD_KB "), line
    assert set(installed) == set(FAKE_FILES)
    for rel, folder in installed.items():
        parent = str(PurePosixPath(rel).parent)
        expected = "$INSTDIR" if parent == "." else "$INSTDIR\\" + win(parent).replace("$", "$$")
        assert folder == expected, rel
    assert "$INSTDIR\\_internal\\empty" in created
    # A parent folder is made before the folders inside it, and the output path ends where it began.
    assert created.index("$INSTDIR\\_internal") < created.index("$INSTDIR\\_internal\\x")
    assert created[-1] == "$INSTDIR"


def test_uninstall_deletes_every_file_then_folders_deepest_first(lists: tuple[Path, Path]) -> None:
    _dist, out = lists
    lines = nsh_lines(out / "uninstall_files.nsh")
    deletes = [line for line in lines if line.startswith("Delete ")]
    rmdirs = [line for line in lines if line.startswith("RMDir")]
    assert len(deletes) + len(rmdirs) == len(lines)
    assert sorted(deletes) == sorted(
        f'Delete "$INSTDIR\\{win(rel).replace("$", "$$")}"' for rel in FAKE_FILES
    )
    assert lines.index(rmdirs[0]) > lines.index(deletes[-1])  # files first
    # Never recursive, never the install folder itself (installer.nsi removes it last, if empty).
    assert all(re.fullmatch(r'RMDir "\$INSTDIR\\[^"]+"', line) for line in rmdirs), rmdirs
    folders = [re.fullmatch(r'RMDir "\$INSTDIR\\(.*)"', line)[1] for line in rmdirs]  # type: ignore[index]
    assert set(folders) == {
        "_internal",
        "_internal\\x",
        "_internal\\x\\z",
        "_internal\\PySide6",
        "_internal\\PySide6\\plugins",
        "_internal\\PySide6\\plugins\\platforms",
        "_internal\\empty",
    }
    for i, folder in enumerate(folders):
        assert not any(later.startswith(folder + "\\") for later in folders[i + 1 :]), (
            f"{folder} before its child"
        )


def test_manifest_lists_what_the_next_setup_deletes(lists: tuple[Path, Path]) -> None:
    _dist, out = lists
    raw = (out / "installed-files.txt").read_bytes()
    assert raw.startswith(b"\xff\xfe")  # UTF-16LE with a BOM, read by FileReadUTF16LE
    text = raw.decode("utf-16")
    assert text.endswith("\r\n")
    entries = [line for line in text.split("\r\n") if line and not line.startswith(";")]
    files = [e for e in entries if not e.endswith("\\")]
    folders = [e[:-1] for e in entries if e.endswith("\\")]
    assert sorted(files) == sorted(win(rel) for rel in FAKE_FILES)  # raw names: no $$ in data
    assert entries.index(folders[0] + "\\") > entries.index(files[-1])
    assert folders.index("_internal\\x\\z") < folders.index("_internal\\x") < folders.index("_internal")


def test_payload_size(lists: tuple[Path, Path]) -> None:
    dist, out = lists
    total = sum((dist / rel).stat().st_size for rel in FAKE_FILES)
    assert f"!define MEIKE_PAYLOAD_KB {-(-total // 1024)}" in nsh_lines(out / "install_files.nsh")


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("_internal/a:b.dll", "not a valid file name"),
        ("_internal/aux.dll", "not a valid file name"),
        ("_internal/trailing.", "not a valid file name"),
        ("_internal/x/Y.dll", "differ in case"),
        ("Uninstall.exe", "writes a file of this name"),
        ("installed-files.txt", "writes a file of this name"),
        ("_internal/a..b", "'..'"),
        ("_internal/${DISTDIR}.txt", "define"),
    ],
)
def test_names_windows_or_nsis_cannot_take_are_refused(tmp_path: Path, bad: str, message: str) -> None:
    dist = make_dist(tmp_path)
    (dist / bad).write_text("x")
    with pytest.raises(nsis_files.LayoutError, match=re.escape(message)):
        nsis_files.scan(dist)


def test_a_folder_without_meike_exe_is_refused(tmp_path: Path) -> None:
    with pytest.raises(nsis_files.LayoutError, match="no Meike.exe"):
        nsis_files.scan(tmp_path)


def test_version_comes_from_pyproject(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with (ROOT / "pyproject.toml").open("rb") as fh:
        expected = tomllib.load(fh)["project"]["version"]
    assert nsis_files.main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == expected
    bad = tmp_path / "pyproject.toml"
    bad.write_text('[project]\nname = "meike"\nversion = "0.2.0rc1"\n')
    with pytest.raises(nsis_files.LayoutError, match="not x.y.z"):
        nsis_files.project_version(bad)


# -- installer.nsi --------------------------------------------------------------------------------


def nsi_code() -> str:
    """installer.nsi without its comments."""
    text = NSI.read_text(encoding="utf-8-sig")
    return "\n".join(
        re.sub(r"\s;.*$", "", line) for line in text.splitlines() if not line.lstrip().startswith(";")
    )


def function_body(code: str, name: str) -> str:
    m = re.search(rf"^Function {re.escape(name)}\n(.*?)^FunctionEnd", code, re.M | re.S)
    assert m, f"Function {name} not found"
    return m[1]


def test_nsi_never_deletes_recursively() -> None:
    code = nsi_code()
    assert 'RMDir /r "$INSTDIR"' not in code
    assert not re.search(r"RMDir\s+/r", code, re.I)
    assert "uninstall_files.nsh" in code and "install_files.nsh" in code
    assert "File /r" not in code


def test_nsi_installs_for_every_user_of_the_machine() -> None:
    code = nsi_code()
    assert NSI.read_bytes().startswith(b"\xef\xbb\xbf")  # makensis reads the Chinese text as UTF-8
    assert re.search(r"^Unicode true$", code, re.M)
    assert re.search(r"^RequestExecutionLevel admin$", code, re.M)
    assert 'InstallDir "$PROGRAMFILES64\\Meike"' in code
    for function in (".onInit", "un.onInit"):
        body = function_body(code, function)
        assert "SetShellVarContext all" in body, function
        assert "SetRegView 64" in body, function
        assert "CheckNotRunning" in body, function
    init = function_body(code, ".onInit")
    assert "${RunningX64}" in init and "${AtLeastWin10}" in init and "${VersionCompare}" in init
    assert '!insertmacro MUI_LANGUAGE "SimpChinese"' in code
    assert "*S-1-5-32-545:(OI)(CI)M" in code
    assert 'Exec \'"$WINDIR\\explorer.exe" "$INSTDIR\\${EXE}"\'' in function_body(code, "LaunchAsUser")


# -- makensis -------------------------------------------------------------------------------------

needs_makensis = pytest.mark.skipif(
    shutil.which("makensis") is None, reason="makensis (NSIS 3) not installed"
)


def run_makensis(*defines: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["makensis", "-V2", *(f"-D{d}" for d in defines), str(NSI)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@needs_makensis
def test_makensis_builds_the_setup_without_warnings(lists: tuple[Path, Path], tmp_path: Path) -> None:
    dist, out = lists
    version = nsis_files.project_version()
    result = run_makensis(
        f"VERSION={version}",
        f"DISTDIR={dist}",
        f"FILELISTS={out}",
        f"ICON={write_icon(tmp_path / 'test.ico')}",
        f"OUTDIR={tmp_path}",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "warning" not in (result.stdout + result.stderr).lower(), result.stdout + result.stderr
    setup = tmp_path / f"Meike-Setup-{version}.exe"
    assert setup.read_bytes()[:2] == b"MZ"
    # The version resource carries the version: ProductVersion as UTF-16 text in the PE.
    assert version.encode("utf-16-le") in setup.read_bytes()


@needs_makensis
@pytest.mark.parametrize("version", [None, "0.2", "0.2.0rc1", "01.2.0"])
def test_makensis_refuses_a_missing_or_bad_version(
    lists: tuple[Path, Path], tmp_path: Path, version: str | None
) -> None:
    dist, out = lists
    defines = [
        f"DISTDIR={dist}",
        f"FILELISTS={out}",
        f"ICON={write_icon(tmp_path / 'test.ico')}",
        f"OUTDIR={tmp_path}",
    ]
    if version is not None:
        defines.append(f"VERSION={version}")
    result = run_makensis(*defines)
    assert result.returncode != 0
    assert "VERSION" in result.stdout + result.stderr
    assert not list(tmp_path.glob("Meike-Setup-*.exe"))
