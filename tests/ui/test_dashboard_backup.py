"""操作台 shows the last successful backup and a red warning when the last backup failed (SQLite clinics)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QLabel

from meike import backup
from meike.backup import BackupError, BackupSettings
from meike.db import Clinic
from meike.permissions import Actor
from meike.services import accounts
from ui.front_desk.dashboard import DashboardPage

pytestmark = pytest.mark.gui


@pytest.fixture(autouse=True)
def _no_scheduler_thread_outlives_a_test(qtbot) -> Iterator[None]:  # type: ignore[no-untyped-def]
    yield
    qtbot.waitUntil(lambda: not [t for t in threading.enumerate() if t.name == "APScheduler"], timeout=5000)


def _page(qtbot, clinic: Clinic, actor: Actor) -> DashboardPage:  # type: ignore[no-untyped-def]
    page = DashboardPage(clinic, actor)
    qtbot.addWidget(page)
    page.resize(1186, 700)
    page.show()
    return page


def _label(page: DashboardPage, name: str) -> QLabel:
    label = page.findChild(QLabel, name)
    assert label is not None
    return label


@pytest.mark.sqlite_only
def test_a_failed_backup_shows_a_red_warning_to_every_dashboard_user(
        qtbot, demo_clinic: Clinic, gl: Actor, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    blocker = tmp_path / "a-file.txt"
    blocker.write_text("not a folder")
    backup.save_settings(demo_clinic, gl, BackupSettings(str(blocker / "backups")))
    with pytest.raises(BackupError):
        backup.daily_backup(demo_clinic)

    kf = accounts.authenticate(demo_clinic, "kf", "123")  # a consultant: no settings page, still warned
    for actor in (gl, kf):
        page = _page(qtbot, demo_clinic, actor)
        warning = _label(page, "dashboard_backup_warning")
        qtbot.waitUntil(lambda w=warning: w.isVisible(), timeout=5000)  # type: ignore[misc]
        assert "每日自动备份失败" in warning.text() and "备份文件夹不存在或无法写入" in warning.text()
        assert "系统管理 → 数据备份" in warning.text()
        assert _label(page, "dashboard_backup").text() == "上次成功备份：尚未备份"
        page.stop()


@pytest.mark.sqlite_only
def test_a_fresh_backup_shows_its_time_and_no_warning(qtbot, demo_clinic: Clinic, gl: Actor,  # type: ignore[no-untyped-def]
                                                      tmp_path: Path) -> None:
    backup.save_settings(demo_clinic, gl, BackupSettings(str(tmp_path / "backups")))
    info = backup.daily_backup(demo_clinic)
    assert info is not None
    page = _page(qtbot, demo_clinic, gl)
    line = _label(page, "dashboard_backup")
    qtbot.waitUntil(lambda: page.backup_status is not None, timeout=5000)
    assert line.isVisible()
    assert line.text() == f"上次成功备份：{info.taken_at:%Y-%m-%d %H:%M}（每日自动备份）"
    assert not _label(page, "dashboard_backup_warning").isVisible()
    page.stop()


def test_postgresql_clinics_show_no_backup_line(qtbot, demo_clinic: Clinic, gl: Actor) -> None:  # type: ignore[no-untyped-def]
    if demo_clinic.path is not None:
        pytest.skip("PostgreSQL only (MEIKE_TEST_DATABASE_URL)")
    page = _page(qtbot, demo_clinic, gl)
    qtbot.waitUntil(lambda: page.last_counts is not None, timeout=5000)
    assert not _label(page, "dashboard_backup").isVisible()
    assert not _label(page, "dashboard_backup_warning").isVisible()
    assert page.backup_status is None
    page.stop()
