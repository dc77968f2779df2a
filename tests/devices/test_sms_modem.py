"""The GSM modem adapter against the pty simulator: sending, error codes, SIM faults, unplugging."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from devices.sms import SmsError
from devices.sms.modem import CME_ERRORS, CMS_ERRORS, GsmModem, modem_error

needs_pty = pytest.mark.skipif(sys.platform == "win32", reason="the simulator needs a pseudo-terminal")

LONG_CHINESE = "【美客诊所】王女士您好，您预约的皮肤检测在明天上午十点，请提前十分钟到店。" * 4  # 148 chars
INIT = ["AT", "ATE0", "AT+CMEE=1", "AT+CPIN?", "AT+CMGF=0"]


if sys.platform != "win32":
    from devices.simulators.gsm_modem import GsmModemSimulator


@pytest.fixture
def sim() -> Iterator[GsmModemSimulator]:
    s = GsmModemSimulator()
    yield s
    s.close()


@pytest.fixture
def modem(sim: GsmModemSimulator) -> Iterator[GsmModem]:
    m = GsmModem(sim.port, timeout=2.0, send_timeout=2.0)
    yield m
    m.close()


# --- the error table (no port needed) --------------------------------------------------------------


def test_error_lines_map_to_chinese_messages() -> None:
    e = modem_error("+CMS ERROR: 330")
    assert e is not None and (e.code, e.retryable) == ("CMS:330", False) and "短信中心号码" in e.message
    e = modem_error("+CMS ERROR: 332")
    assert e is not None and e.retryable and "网络超时" in str(e)
    e = modem_error("+CME ERROR: 10")
    assert e is not None and (e.code, e.retryable) == ("CME:10", False) and "SIM 卡" in e.message
    e = modem_error("+CMS ERROR: 42")  # a network cause
    assert e is not None and e.retryable
    e = modem_error("+CMS ERROR: 150")  # an SMSC cause not in the table
    assert e is not None and not e.retryable and "150" in e.message
    e = modem_error("+CMS ERROR: SIM not inserted")  # AT+CMEE=2 wording
    assert e is not None and "SIM not inserted" in e.message
    assert modem_error("ERROR") is not None
    assert modem_error("OK") is None and modem_error("+CMTI: \"SM\",3") is None


def test_error_table_covers_the_required_codes() -> None:
    required_cms = [*range(300, 306), *range(310, 319), *range(320, 323), 330, 331, 332, 500, *range(512, 519)]
    assert all(code in CMS_ERRORS for code in required_cms)
    assert all(code in CME_ERRORS for code in range(10, 18))
    assert not CMS_ERRORS[1][1] and not CMS_ERRORS[195][1]  # bad numbers: never retry
    assert CMS_ERRORS[331][1] and CMS_ERRORS[332][1] and CMS_ERRORS[512][1]  # network: retry
    assert not CMS_ERRORS[310][1] and not CME_ERRORS[10][1] and CME_ERRORS[14][1]  # SIM missing / busy
    for message, _ in [*CMS_ERRORS.values(), *CME_ERRORS.values()]:
        assert any("\u4e00" <= ch <= "\u9fff" for ch in message)


# --- sending ---------------------------------------------------------------------------------------


@needs_pty
def test_short_chinese_message_reaches_the_modem_as_the_checked_pdu(sim: GsmModemSimulator) -> None:
    with GsmModem(sim.port, timeout=2.0, status_report=True) as modem:
        assert modem.send("13800138000", "您好") == [1]
    assert sim.commands == [*INIT, "AT+CMGS=17"]
    assert sim.sent[0].pdu == "0021000BA13108108300F000080460A8597D"
    assert sim.messages() == [("13800138000", "您好")]


@needs_pty
def test_long_chinese_message_is_sent_in_parts(sim: GsmModemSimulator, modem: GsmModem) -> None:
    references = modem.send("+86 138 0013 8000", LONG_CHINESE)
    assert references == [1, 2, 3]
    assert [c for c in sim.commands if c.startswith("AT+CMGS")] == ["AT+CMGS=154", "AT+CMGS=154", "AT+CMGS=48"]
    parts = sim.sent
    assert {(p.reference, p.total) for p in parts} == {(parts[0].reference, 3)}
    assert [p.seq for p in parts] == [1, 2, 3] and [len(p.text) for p in parts] == [67, 67, 14]
    assert sim.messages() == [("+8613800138000", LONG_CHINESE)]
    modem.send("13800138000", "Your appointment is tomorrow at 10:00. " * 5)  # 195 GSM characters
    assert sim.messages()[-1][1] == "Your appointment is tomorrow at 10:00. " * 5
    assert sim.sent[-1].reference != parts[0].reference  # a new concatenation reference per message


@needs_pty
def test_connection_test_reports_sim_signal_and_operator(sim: GsmModemSimulator, modem: GsmModem) -> None:
    status = modem.test_connection()
    assert status.startswith("短信猫就绪") and "信号 20/31" in status and "中国移动" in status
    sim.signal, sim.operator = 99, ""
    status = modem.test_connection()
    assert "信号未知" in status and "未注册到网络" in status
    assert sim.commands.count("AT+CPIN?") == 1  # initialised once


@pytest.mark.parametrize(("code", "retryable", "words"), [
    (330, False, "短信中心号码"), (331, True, "没有网络信号"), (332, True, "网络超时"),
    (304, False, "PDU"), (500, True, "未知错误"), (512, True, "网络连接"), (21, False, "拒收"),
])
@needs_pty
def test_cms_errors_become_sms_errors(sim: GsmModemSimulator, modem: GsmModem, code: int, retryable: bool,
                                      words: str) -> None:
    sim.fail_with = code
    with pytest.raises(SmsError) as info:
        modem.send("13800138000", "您好")
    assert (info.value.code, info.value.retryable, info.value.sent_parts) == (f"CMS:{code}", retryable, 0)
    assert words in str(info.value)
    sim.fail_with = None
    assert modem.send("13800138000", "您好")  # the port stays usable after an error answer


@needs_pty
def test_error_on_a_later_part_reports_what_went_out(sim: GsmModemSimulator, modem: GsmModem) -> None:
    sim.fail_with, sim.fail_on_part = 332, 2
    with pytest.raises(SmsError) as info:
        modem.send("13800138000", LONG_CHINESE)
    assert info.value.sent_parts == 1 and info.value.retryable


@needs_pty
def test_bad_number_and_empty_text_are_not_retryable(sim: GsmModemSimulator, modem: GsmModem) -> None:
    for number, text in (("138-abc", "您好"), ("13800138000", "")):
        with pytest.raises(SmsError) as info:
            modem.send(number, text)
        assert not info.value.retryable
    assert sim.sent == []


# --- SIM faults ------------------------------------------------------------------------------------


@needs_pty
def test_missing_sim_is_a_clear_error_at_initialisation(sim: GsmModemSimulator, modem: GsmModem) -> None:
    sim.remove_sim()
    with pytest.raises(SmsError) as info:
        modem.test_connection()
    assert (info.value.code, info.value.retryable) == ("CME:10", False)
    assert "未检测到 SIM 卡" in str(info.value)
    assert "AT+CMGF=0" not in sim.commands


@needs_pty
def test_sim_removed_while_running(sim: GsmModemSimulator, modem: GsmModem) -> None:
    modem.send("13800138000", "您好")
    sim.remove_sim()
    with pytest.raises(SmsError) as info:
        modem.send("13800138000", "您好")
    assert (info.value.code, info.value.retryable) == ("CMS:310", False)
    assert "SIM 卡" in str(info.value)
    sim.insert_sim()
    assert modem.send("13800138000", "您好")


@needs_pty
def test_pin_locked_sim(sim: GsmModemSimulator, modem: GsmModem) -> None:
    sim.pin_required = True
    with pytest.raises(SmsError) as info:
        modem.send("13800138000", "您好")
    assert (info.value.code, info.value.retryable) == ("CME:11", False) and "PIN" in str(info.value)


# --- unplugging and silence ------------------------------------------------------------------------


@needs_pty
def test_unplugged_mid_send_raises_a_retryable_error_quickly(sim: GsmModemSimulator) -> None:
    sim.unplug_after = 1  # the pty closes when the second part's PDU arrives
    modem = GsmModem(sim.port, timeout=5.0, send_timeout=30.0)
    started = time.monotonic()
    with pytest.raises(SmsError) as info:
        modem.send("13800138000", LONG_CHINESE)
    assert time.monotonic() - started < 3
    assert (info.value.code, info.value.retryable, info.value.sent_parts) == ("DISCONNECTED", True, 1)
    assert "已断开" in str(info.value)
    started = time.monotonic()
    with pytest.raises(SmsError) as again:  # the modem is gone: the next send fails at once too
        modem.send("13800138000", "您好")
    assert again.value.retryable and time.monotonic() - started < 3
    modem.close()


@needs_pty
def test_unplugged_while_idle(sim: GsmModemSimulator, modem: GsmModem) -> None:
    modem.send("13800138000", "您好")
    sim.unplug()
    started = time.monotonic()
    with pytest.raises(SmsError) as info:
        modem.send("13800138000", "您好")
    assert info.value.retryable and time.monotonic() - started < 3


@needs_pty
def test_silent_modem_times_out_and_recovers(sim: GsmModemSimulator) -> None:
    sim.mute_after = 1
    modem = GsmModem(sim.port, timeout=0.5, send_timeout=0.5)
    started = time.monotonic()
    with pytest.raises(SmsError) as info:
        modem.send("13800138000", LONG_CHINESE)
    assert time.monotonic() - started < 3
    assert (info.value.code, info.value.retryable, info.value.sent_parts) == ("TIMEOUT", True, 1)
    assert "超时" in str(info.value)
    sim.mute_after = None
    assert modem.send("13800138000", "您好")  # reopened and initialised again
    assert sim.commands.count("AT") == 2
    modem.close()


@needs_pty
def test_missing_port_is_a_retryable_error(tmp_path: Path) -> None:
    with pytest.raises(SmsError) as info:
        GsmModem(str(tmp_path / "ttyNONE")).send("13800138000", "您好")
    assert (info.value.code, info.value.retryable) == ("PORT", True)
    assert "无法打开短信猫端口" in str(info.value)
