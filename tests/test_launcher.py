"""Starting the program: the console commands, and a clear word when there is no desktop to open on."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ui.launcher import NO_DISPLAY, display_problem

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(sys.platform in ("win32", "darwin"), reason="X11 / Wayland only")
def test_no_display_is_said_in_words() -> None:
    assert display_problem([], {}) == NO_DISPLAY
    assert display_problem([], {"DISPLAY": ":0"}) is None
    assert display_problem([], {"WAYLAND_DISPLAY": "wayland-0"}) is None
    assert display_problem([], {"QT_QPA_PLATFORM": "offscreen"}) is None
    env: dict[str, str] = {}
    assert display_problem(["--demo", "--screenshot", "/tmp/x"], env) is None  # renders offscreen
    assert env["QT_QPA_PLATFORM"] == "offscreen"


@pytest.mark.skipif(sys.platform in ("win32", "darwin"), reason="X11 / Wayland only")
def test_make_run_without_a_desktop_prints_one_line_instead_of_aborting(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env.update(MEIKE_DATA_DIR=str(tmp_path / "data"), MEIKE_CONFIG_DIR=str(tmp_path / "config"))
    done = subprocess.run([sys.executable, str(ROOT / "main.py"), "--demo"], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr.strip() == NO_DISPLAY
    assert "xcb" not in done.stderr and "Aborted" not in done.stderr
    assert not (tmp_path / "data" / "meike-demo.sqlite3").exists()  # nothing was created


def test_the_selftest_passes_from_the_source_tree() -> None:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    done = subprocess.run([sys.executable, str(ROOT / "main.py"), "--selftest"], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert lines[-1].endswith("全部通过")
    for part in ("数据库迁移", "收据 PDF", "ESC/POS", "拼音", "密码", "定时任务", "串口", "时区", "PostgreSQL",
                 "Excel", "录音", "Qt 界面", "所有页面"):
        assert any(line.startswith("通过") and part in line for line in lines), part


def test_the_selftest_reports_a_missing_part(monkeypatch: pytest.MonkeyPatch) -> None:
    from ui import selftest

    def missing(_work: Path) -> str:
        raise ModuleNotFoundError("No module named 'reportlab.graphics.barcode.code93'")

    results = selftest.run_parts([("收据 PDF（中文、条码）", missing), ("拼音首字母", lambda _w: selftest._pinyin())])
    assert [r.ok for r in results] == [False, True]
    assert results[0].line().startswith("失败  收据 PDF") and "code93" in results[0].line()
    monkeypatch.setattr(selftest, "PARTS", [("收据 PDF（中文、条码）", missing)])
    assert selftest.selftest_main([]) == 1


def test_a_console_command_of_the_windowed_program_writes_its_report_somewhere(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Meike.exe is windowed (no stdout): --check writes to the console it was started from or, with none,
    to logs/console.txt instead of failing on a missing stream."""
    import sqlite3

    from ui import launcher

    sqlite3.connect(tmp_path / "new.sqlite3").close()  # an empty database, never started
    monkeypatch.setattr(sys, "stdout", None)
    monkeypatch.setattr(sys, "stderr", None)
    code = launcher.main(["--check", "--database", f"sqlite:///{tmp_path / 'new.sqlite3'}"])
    assert sys.stdout is not None and sys.stdout is sys.stderr
    sys.stdout.close()
    report = (tmp_path / "data" / "logs" / "console.txt").read_text(encoding="utf-8")
    assert code == 1 and "美客数据检查" in report and "请先正常启动一次程序完成升级" in report


def test_a_data_folder_that_cannot_be_made_is_said_in_chinese(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", MEIKE_DATA_DIR=str(blocker / "Meike"),
               MEIKE_CONFIG_DIR=str(tmp_path / "config"))
    done = subprocess.run([sys.executable, "-c", "import sys; sys.argv=['main.py','--demo']; "
                           "from PySide6.QtWidgets import QMessageBox; "
                           "QMessageBox.critical = staticmethod(lambda *a: print('BOX', a[1], a[2]))\n"
                           "from ui.launcher import main; sys.exit(main())"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "BOX 美客无法启动 美客无法启动：无法读写" in done.stdout and "Meike" in done.stdout


def test_check_of_a_mistyped_path_creates_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from ui import launcher

    missing = tmp_path / "typo.sqlite3"
    assert launcher.check_program(["--database", f"sqlite:///{missing}"]) == 2
    assert f"数据库文件不存在：{missing}" in capsys.readouterr().out and not missing.exists()
