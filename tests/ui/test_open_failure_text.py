"""The start-up box for a database that cannot be opened (issue 14/24): the service's Chinese text and
where the log is, never SQLAlchemy's English."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from sqlalchemy.exc import DatabaseError

from meike.clinic_setup import OpenFailed, open_clinic
from meike.db import sqlite_url
from meike.db.location import NetworkShareError
from ui.app import open_failure_text


def test_a_damaged_file_is_explained_with_the_way_back_through_a_backup(tmp_path: Path) -> None:
    noise = tmp_path / "meike.sqlite3"
    noise.write_bytes(random.Random(24).randbytes(4096))
    with pytest.raises(OpenFailed) as e:
        open_clinic(sqlite_url(noise))
    text = open_failure_text(e.value, tmp_path / "logs" / "meike.log")
    assert text.startswith("这个文件不是美客的数据库")
    assert "“备份与恢复”" in text and text.endswith(f"详细情况已写入日志：{tmp_path / 'logs' / 'meike.log'}")
    assert "file is not a database" not in text and "sqlalche" not in text


def test_other_messages_of_our_own_and_unknown_errors() -> None:
    assert open_failure_text(NetworkShareError("在网络共享上"), Path("/x.log")) == "在网络共享上"
    unknown = open_failure_text(DatabaseError("SELECT", {}, Exception("something odd")), Path("/x.log"))
    assert "something odd" not in unknown and unknown.startswith("无法打开或升级诊所的数据库")
