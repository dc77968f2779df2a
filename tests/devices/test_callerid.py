"""Caller-ID: record parsing of every format variant, and the serial adapter against the pty modem."""

from __future__ import annotations

import queue
import sys
from datetime import datetime

import pytest

from devices.callerid import Call, CallerIdError, CallerIdParser, SerialCallerId, call_time, compile_pattern

NOW = datetime(2026, 11, 23, 9, 20)

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the simulator needs a pseudo-terminal")


def parse(lines: list[str], *, now: datetime = NOW, pattern: str | None = None) -> list[Call]:
    parser = CallerIdParser(now=lambda: now, pattern=pattern)
    calls = [c for line in lines if (c := parser.feed(line)) is not None]
    last = parser.flush()
    return calls + ([last] if last else [])


def test_standard_record_with_spaces_and_name() -> None:
    lines = ["RING", "", "DATE = 1123", "TIME = 0915", "NMBR = 13800138000", "NAME = ZHANG SAN", "", "RING"]
    assert parse(lines) == [Call("13800138000", datetime(2026, 11, 23, 9, 15), "ZHANG SAN")]


def test_no_spaces_around_the_equals_sign() -> None:
    assert parse(["RING", "DATE=1123", "TIME=1430", "NMBR=13912345678", "RING"]) == [
        Call("13912345678", datetime(2026, 11, 23, 14, 30))]


def test_ddn_nmbr_variant() -> None:
    assert parse(["RING", "DATE = 0101", "TIME = 0000", "DDN_NMBR= 02167891234", "RING"]) == [
        Call("02167891234", datetime(2026, 1, 1, 0, 0))]


def test_nmbr_preferred_over_ddn_nmbr() -> None:
    calls = parse(["DATE=1123", "TIME=0900", "DDN_NMBR=013800138000", "NMBR=13800138000", "RING"])
    assert [c.number for c in calls] == ["13800138000"]


@pytest.mark.parametrize(("code", "private", "unavailable"), [("P", True, False), ("O", False, True), ("p", True, False)])
def test_private_and_unavailable(code: str, private: bool, unavailable: bool) -> None:
    [call] = parse(["RING", "DATE = 1123", "TIME = 0915", f"NMBR = {code}", "NAME = O", "RING"])
    assert (call.number, call.private, call.unavailable, call.name, call.withheld) == ("", private, unavailable, "", True)


def test_december_call_read_in_january_belongs_to_last_year() -> None:
    now = datetime(2027, 1, 1, 0, 0, 30)
    [call] = parse(["RING", "DATE = 1231", "TIME = 2359", "NMBR = 13800138000", "RING"], now=now)
    assert call.at == datetime(2026, 12, 31, 23, 59)
    assert call_time("0101", "0000", now) == datetime(2027, 1, 1, 0, 0)


def test_call_time_edge_cases() -> None:
    assert call_time("1124", "0800", NOW) == datetime(2026, 11, 24, 8, 0)  # a modem clock a little ahead
    assert call_time("0229", "1000", datetime(2027, 3, 1)) == datetime(2027, 3, 1)  # no 29 Feb: now
    assert call_time("0229", "1000", datetime(2028, 3, 1)) == datetime(2028, 2, 29, 10, 0)
    assert call_time("", "", NOW) == NOW
    assert call_time("1123", "xx", NOW) == datetime(2026, 11, 23, 9, 20)


def test_record_without_date_uses_now_and_numbers_lose_punctuation() -> None:
    assert parse(["NMBR = 138-0013 8000"]) == [Call("13800138000", NOW)]


def test_every_ring_after_the_record_gives_no_second_call() -> None:
    assert len(parse(["RING", "DATE=1123", "TIME=0915", "NMBR=13800138000", "RING", "RING", "RING"])) == 1


def test_two_records_back_to_back_without_ring() -> None:
    calls = parse(["DATE=1123", "TIME=0915", "NMBR=13800138000", "DATE=1123", "TIME=0916", "NMBR=13900000000"])
    assert [c.number for c in calls] == ["13800138000", "13900000000"]


def test_mesg_and_noise_are_ignored() -> None:
    assert parse(["OK", "MESG = 060342", "RING"]) == []


def test_custom_line_pattern() -> None:
    pattern = r"^CID:(?P<number>[\d-]+|P|O)(?:,(?P<name>.*))?$"
    assert parse(["CID:138-0013-8000,李小姐"], pattern=pattern) == [Call("13800138000", NOW, "李小姐")]
    assert parse(["CID:P"], pattern=pattern)[0].private
    assert parse(["CID:O"], pattern=pattern)[0].unavailable
    # modem records still work alongside the pattern
    assert parse(["NMBR=13800138000", "RING"], pattern=pattern)[0].number == "13800138000"


def test_bad_patterns_are_refused_clearly() -> None:
    with pytest.raises(ValueError, match="number"):
        compile_pattern(r"CID:(\d+)")
    with pytest.raises(ValueError, match="正则"):
        compile_pattern(r"CID:(?P<number>\d+")


# --- the adapter against the pty simulator ---------------------------------------------------------


@pytest.fixture
def modem():  # type: ignore[no-untyped-def]
    from devices.simulators.callerid_modem import CallerIdModem

    m = CallerIdModem()
    yield m
    m.close()


def start(port: str, **kw: object) -> tuple[SerialCallerId, queue.Queue[Call], queue.Queue[Exception]]:
    calls: queue.Queue[Call] = queue.Queue()
    errors: queue.Queue[Exception] = queue.Queue()
    adapter = SerialCallerId(port, calls.put, errors.put, **kw)  # type: ignore[arg-type]
    adapter.start()
    return adapter, calls, errors


def test_adapter_initialises_the_modem_and_delivers_a_ring(modem) -> None:  # type: ignore[no-untyped-def]
    adapter, calls, errors = start(modem.port)
    try:
        assert modem.commands == ["ATZ", "ATE0", "AT+VCID=1"]
        assert adapter.cid_command == "AT+VCID=1"
        modem.ring("13800138000", datetime(2026, 11, 23, 9, 15), name="LI")
        call = calls.get(timeout=3)
        assert call == Call("13800138000", datetime(2026, 11, 23, 9, 15), "LI")
        assert calls.empty() and errors.empty()
    finally:
        adapter.stop()
    assert not adapter.running


def test_ring_without_second_ring_is_delivered_when_the_line_goes_quiet(modem) -> None:  # type: ignore[no-untyped-def]
    adapter, calls, _errors = start(modem.port)
    try:
        modem.ring("P", final_ring=False)
        assert calls.get(timeout=3).private
    finally:
        adapter.stop()


def test_older_chipset_falls_back_to_cid_command() -> None:
    from devices.simulators.callerid_modem import CallerIdModem

    with CallerIdModem(vcid_error=True, style="compact") as modem:
        adapter, calls, _errors = start(modem.port)
        try:
            assert modem.commands[-2:] == ["AT+VCID=1", "AT#CID=1"]
            assert adapter.cid_command == "AT#CID=1"
            modem.ring("13912345678")
            assert calls.get(timeout=3).number == "13912345678"
        finally:
            adapter.stop()


def test_modem_without_caller_id_is_refused() -> None:
    from devices.simulators.callerid_modem import CallerIdModem

    with CallerIdModem(vcid_error=True, cid_error=True) as modem:
        adapter = SerialCallerId(modem.port, lambda _c: None)
        with pytest.raises(CallerIdError, match="不支持来电显示"):
            adapter.start()
        assert not adapter.running


def test_ddn_style_through_the_port(modem) -> None:  # type: ignore[no-untyped-def]
    from devices.simulators.callerid_modem import CallerIdModem

    with CallerIdModem(style="ddn") as ddn:
        adapter, calls, _errors = start(ddn.port)
        try:
            ddn.ring("013800138000")
            assert calls.get(timeout=3).number == "013800138000"
        finally:
            adapter.stop()


def test_custom_box_without_at_commands(modem) -> None:  # type: ignore[no-untyped-def]
    adapter, calls, _errors = start(modem.port, init=False, pattern=r"^TEL:(?P<number>\d+)$")
    try:
        assert modem.commands == []
        modem.send_line("TEL:13700001111")
        assert calls.get(timeout=3).number == "13700001111"
    finally:
        adapter.stop()


def test_port_vanishing_reports_an_error(modem) -> None:  # type: ignore[no-untyped-def]
    adapter, calls, errors = start(modem.port)
    modem.unplug()
    error = errors.get(timeout=3)
    assert isinstance(error, CallerIdError) and "已断开" in str(error)
    adapter.stop()
    assert not adapter.running and calls.empty()


def test_missing_port_is_a_clear_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(CallerIdError, match="无法打开来电盒端口"):
        SerialCallerId(str(tmp_path / "ttyNONE"), lambda _c: None).start()


def test_check_connection(modem, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from devices.callerid import check_connection

    assert "应答 OK" in check_connection(modem.port)
    assert modem.commands == ["ATZ"]
    with pytest.raises(CallerIdError):
        check_connection(str(tmp_path / "nothing"))
