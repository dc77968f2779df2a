"""The SMS platforms' secrets are sealed in the database with this PC's key, kept outside it (issue 14/5)."""

from __future__ import annotations

import base64
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from meike import backup, secret_box
from meike.clinic_setup import after_upgrade
from meike.db import Clinic
from meike.errors import ValidationError
from meike.models import AuditEntry, SystemSetting
from meike.permissions import Actor
from meike.secret_box import SecretUnavailable
from meike.services import sms

SECRET = "s3cr3t-Aliyun-value-9876"
TENCENT = "tencent-SecretKey-5432"


@pytest.fixture(autouse=True)
def _fresh_keys() -> Iterator[None]:
    secret_box.forget_cached_keys()
    yield
    secret_box.forget_cached_keys()


def _stored(clinic: Clinic, key: str) -> str | None:
    with clinic.read() as s:
        row = s.get(SystemSetting, key)
        return row.value if row is not None else None


def _save_aliyun(clinic: Clinic, user: Actor, **extra: str) -> sms.ChannelView:
    return sms.save_channel_settings(clinic, user, {"channel": "aliyun", "aliyun_key_id": "LTAI5tAbc",
                                                    "aliyun_secret": SECRET, "aliyun_sign": "美客", **extra},
                                     hostname="front-desk")


def _another_pc(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str = "config-of-pc2") -> None:
    monkeypatch.setenv("MEIKE_CONFIG_DIR", str(tmp_path / name))
    secret_box.forget_cached_keys()


def test_platform_secrets_are_never_stored_in_clear(clinic: Clinic, user: Actor) -> None:
    _save_aliyun(clinic, user)
    sms.save_channel_settings(clinic, user, {"channel": "tencent", "tencent_secret_id": "AKID-x",
                                             "tencent_secret_key": TENCENT, "tencent_app_id": "1400123456",
                                             "tencent_sign": "美客"})
    for key, plain in (("sms.aliyun_secret", SECRET), ("sms.tencent_secret_key", TENCENT)):
        stored = _stored(clinic, key)
        assert stored is not None and stored.startswith("enc1:") and plain not in stored
    settings = sms.read_channel(clinic)  # this PC opens them for its sender
    assert (settings.aliyun_secret, settings.tencent_secret_key) == (SECRET, TENCENT)
    with clinic.read() as s:  # nothing in clear anywhere in the database: settings or audit
        texts = [v for (v,) in s.execute(select(SystemSetting.value))]
        texts += [f"{e.before}{e.after}" for e in s.scalars(select(AuditEntry))]
    assert not any(SECRET in t or TENCENT in t for t in texts)
    view = sms.channel_settings(clinic, user)  # the settings tab: masked, the last 4 at most
    assert view.settings.aliyun_secret == "" and view.secret_hints["aliyun_secret"] == "已保存（••••••9876）"
    assert "本机" in view.secret_note


@pytest.mark.sqlite_only
def test_a_backup_holds_no_platform_secret_in_clear(clinic: Clinic, user: Actor, tmp_path: Path) -> None:
    _save_aliyun(clinic, user)
    assert clinic.path is not None
    copy = backup.make_backup(clinic.path, tmp_path / "b", kind="manual").path
    assert SECRET.encode() not in copy.read_bytes()
    assert SECRET.encode() not in clinic.path.read_bytes() + Path(f"{clinic.path}-wal").read_bytes()


def test_a_secret_sealed_on_another_pc_is_kept_and_only_that_pc_sends(
        clinic: Clinic, user: Actor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _save_aliyun(clinic, user)
    sealed = _stored(clinic, "sms.aliyun_secret")
    _another_pc(monkeypatch, tmp_path)
    settings = sms.read_channel(clinic)
    assert settings.channel == "aliyun" and settings.aliyun_secret == "" and settings.secret_host == "front-desk"
    assert sms.make_sender(settings) is None  # this PC's pump leaves the queue to the PC with the key
    with pytest.raises(ValidationError) as e:
        sms.test_channel(clinic, user)
    assert "front-desk" in e.value.errors["aliyun_secret"] and "重新填写" in e.value.errors["aliyun_secret"]
    view = sms.channel_settings(clinic, user)
    assert "另一台电脑" in view.secret_hints["aliyun_secret"] and "front-desk" in view.secret_note
    # Other settings saved here keep the sealed secret as it was (no "required" error either).
    sms.save_channel_settings(clinic, user, {"daily_limit": "120"}, hostname="pc2")
    assert _stored(clinic, "sms.aliyun_secret") == sealed and sms.read_channel(clinic).secret_host == "front-desk"
    # Typed again here: sealed with this PC's key, this PC sends from now on.
    sms.save_channel_settings(clinic, user, {"aliyun_secret": SECRET}, hostname="pc2")
    here = sms.read_channel(clinic)
    assert (here.aliyun_secret, here.secret_host) == (SECRET, "pc2") and sms.make_sender(here) is not None
    assert _stored(clinic, "sms.aliyun_secret") != sealed


def test_secrets_an_older_version_stored_in_clear_are_sealed_on_start(clinic: Clinic, user: Actor) -> None:
    with clinic.write() as s:  # what an older version left
        for key, value in (("sms.channel", "aliyun"), ("sms.aliyun_key_id", "LTAI5tAbc"),
                           ("sms.aliyun_secret", SECRET), ("sms.aliyun_sign", "美客")):
            s.add(SystemSetting(key=key, value=value))
    assert sms.read_channel(clinic).aliyun_secret == SECRET  # still works before the start seals it

    after_upgrade(clinic)

    stored = _stored(clinic, "sms.aliyun_secret")
    assert stored is not None and secret_box.is_sealed(stored) and SECRET not in stored
    assert sms.read_channel(clinic).aliyun_secret == SECRET and sms.read_channel(clinic).secret_host
    assert sms.seal_stored_secrets(clinic) == 0  # once
    with clinic.read() as s:
        assert s.scalar(select(AuditEntry.action).where(AuditEntry.action == "sms.secrets.sealed"))


def test_the_key_file_is_private_and_a_lost_key_is_said_in_chinese(tmp_path: Path) -> None:
    value = secret_box.seal("abc")
    path = secret_box.key_file()
    assert secret_box.open_value(value) == "abc" and value != secret_box.seal("abc")  # a fresh token each time
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert secret_box.open_value("clear text of an older version") == "clear text of an older version"
    path.unlink()
    secret_box.forget_cached_keys()
    with pytest.raises(SecretUnavailable, match="另一台电脑"):
        secret_box.open_value(value)
    tampered = value[:-6] + ("AAAAAA" if not value.endswith("AAAAAA") else "BBBBBB")
    secret_box.seal("x")  # a new key: the old value is still someone else's
    assert not secret_box.key_matches(value)
    with pytest.raises(SecretUnavailable):
        secret_box.open_value(tampered)


def test_on_windows_the_key_file_holds_the_key_sealed_by_dpapi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """DPAPI itself needs Windows (the frozen build's --selftest runs it there); here: the file's form."""
    calls: list[bool] = []

    def fake_dpapi(data: bytes, *, protect: bool) -> bytes:
        calls.append(protect)
        return bytes(b ^ 0x5A for b in data)

    monkeypatch.setattr(secret_box, "_windows", lambda: True)
    monkeypatch.setattr(secret_box, "_dpapi", fake_dpapi)
    monkeypatch.setattr(secret_box.paths, "windows_acl", lambda _p: True)
    value = secret_box.seal("abc")
    text = secret_box.key_file().read_text(encoding="ascii")
    assert text.startswith("dpapi1:") and calls == [True, False]  # made, then read back as any start does
    secret_box.forget_cached_keys()
    assert secret_box.open_value(value) == "abc" and calls == [True, False, False]
    raw = bytes(b ^ 0x5A for b in base64.b64decode(text[len("dpapi1:"):]))
    assert base64.b64encode(raw).decode() not in text  # the key itself is not in the file


def test_selftest_seals_in_its_own_folder(tmp_path: Path) -> None:
    assert "Fernet" in secret_box.selftest(tmp_path)
    assert (tmp_path / secret_box.KEY_FILE).exists() and not secret_box.key_file().exists()
