"""SMS-SUBMIT PDUs: the checked vectors, GSM 7-bit packing and escapes, UCS2, concatenation, round trips."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.sms.pdu import (
    DCS_GSM7,
    DCS_UCS2,
    TYPE_UNKNOWN,
    count_parts,
    decode_submit,
    encode_submit,
    fits_gsm7,
    pack_septets,
    unpack_septets,
)


def user_data(pdu: str) -> bytes:
    """The TP-UD of an SMS-SUBMIT with no SMSC, no validity period."""
    data = bytes.fromhex(pdu)
    digits = data[3]
    return data[1 + 4 + (digits + 1) // 2 + 3:]


# --- the checked vectors ---------------------------------------------------------------------------


def test_checked_vector_nihao() -> None:
    """DEVICES.md: 13800138000 / 您好 → 00 (default SMSC) 21 (SUBMIT, SRR, no VP) 00 (MR) 0B A1 … 08 04 …"""
    [part] = encode_submit("13800138000", "您好")
    assert part.pdu == "0021000BA13108108300F000080460A8597D"
    assert part.tpdu_length == 17  # AT+CMGS=17: the leading 00 (SMSC length) is not counted
    assert part.tpdu_length == len(part.pdu) // 2 - 1
    decoded = decode_submit(part.pdu)
    assert (decoded.number, decoded.text, decoded.status_report, decoded.dcs) == ("13800138000", "您好", True, DCS_UCS2)
    assert decoded.reference is None and decoded.message_reference == 0


def test_reference_gsm7_vector_hellohello() -> None:
    """The classic SMS-SUBMIT example: +46708251358, relative validity AA, no status report."""
    [part] = encode_submit("+46708251358", "hellohello", status_report=False, validity=0xAA)
    assert part.pdu == "0011000B916407281553F80000AA0AE8329BFD4697D9EC37"
    assert part.tpdu_length == 23
    decoded = decode_submit(part.pdu)
    assert (decoded.number, decoded.text, decoded.dcs) == ("+46708251358", "hellohello", DCS_GSM7)


def test_number_formats() -> None:
    assert encode_submit("+8613800138000", "您好")[0].pdu.startswith("0021000D91683108108300F0")
    assert encode_submit("138-0013 8000", "您好")[0].pdu.startswith("0021000BA13108108300F0")
    assert encode_submit("13800138000", "您好", plain_type=TYPE_UNKNOWN)[0].pdu.startswith("0021000B81")
    assert encode_submit("10086", "hi")[0].pdu.startswith("00210005A10180F6")  # odd length: F padding
    for bad in ("", "+", "1380013800a", "１３８", "+86 138 0013 80001234567890"):
        with pytest.raises(ValueError):
            encode_submit(bad, "hi")


def test_explicit_smsc_is_not_counted_in_the_length() -> None:
    [part] = encode_submit("13800138000", "您好", smsc="+8613800100500")
    assert part.pdu == "0891683108100005F0" + "21000BA13108108300F000080460A8597D"
    assert part.tpdu_length == 17
    assert decode_submit(part.pdu).smsc == "+8613800100500"


# --- GSM 7-bit -------------------------------------------------------------------------------------


def test_septet_packing_vectors() -> None:
    septets = [ord(c) for c in "hellohello"]
    assert pack_septets(septets).hex().upper() == "E8329BFD4697D9EC37"
    assert unpack_septets(bytes.fromhex("E8329BFD4697D9EC37"), 10) == septets
    assert pack_septets([0x1B, 0x65]).hex().upper() == "9B32"  # € = ESC 0x65
    assert pack_septets([0x41], fill_bits=1).hex().upper() == "82"  # after a 6-octet UDH
    assert pack_septets([0x7F] * 8).hex().upper() == "FF" * 7


def test_extension_characters_take_two_septets() -> None:
    [part] = encode_submit("10086", "€[]")
    ud = bytes.fromhex(part.pdu)[-6:]  # 42 bits in 6 octets
    assert bytes.fromhex(part.pdu)[-7] == 6  # UDL: 3 escape pairs
    assert unpack_septets(ud, 6) == [0x1B, 0x65, 0x1B, 0x3C, 0x1B, 0x3E]
    assert decode_submit(part.pdu).text == "€[]"
    text = "^{}\\[~]|€\f"
    assert fits_gsm7(text) and decode_submit(encode_submit("10086", text)[0].pdu).text == text


def test_gsm7_alphabet_and_fallback_to_ucs2() -> None:
    assert fits_gsm7("Hello @£$¥ ÄÖÑÜ§ äöñüà ΔΦΓΛΩΠΨΣΘΞ ¤ ¿¡ \n\r")
    assert not fits_gsm7("`")  # backtick is not in the GSM alphabet
    assert not fits_gsm7("您好") and not fits_gsm7("\x1b")
    assert decode_submit(encode_submit("10086", "a`b")[0].pdu).dcs == DCS_UCS2
    assert decode_submit(encode_submit("10086", "$10 @ 5€")[0].pdu).dcs == DCS_GSM7


# --- concatenation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "parts"), [
    ("a" * 160, 1), ("a" * 161, 2), ("a" * 306, 2), ("a" * 307, 3),
    ("€" * 80, 1), ("€" * 81, 2),
    ("中" * 70, 1), ("中" * 71, 2), ("中" * 134, 2), ("中" * 135, 3),
    ("", 1),
])
def test_count_parts(text: str, parts: int) -> None:
    assert count_parts(text) == parts == len(encode_submit("10086", text))


def test_gsm7_concatenation_header_and_fill_bit() -> None:
    text = "".join(chr(ord("a") + i % 26) for i in range(200))
    parts = encode_submit("13800138000", text, reference=0x42)
    assert [p.text for p in parts] == [text[:153], text[153:]]
    for seq, part in enumerate(parts, start=1):
        data = bytes.fromhex(part.pdu)
        assert data[1] == 0x61  # SUBMIT + SRR + UDHI
        ud = user_data(part.pdu)
        assert ud[:6] == bytes([0x05, 0x00, 0x03, 0x42, 2, seq])
        septets = [ord(c) for c in part.text]
        # independent of pack_septets: the UDH's 48 bits, one fill bit, then 7 bits per septet
        expected = int.from_bytes(ud[:6], "little") | sum(s << (49 + 7 * i) for i, s in enumerate(septets))
        assert int.from_bytes(ud, "little") == expected
        assert data[-len(ud) - 1] == 7 + len(septets)  # UDL in septets, header included
        assert len(ud) <= 140 and part.tpdu_length == len(data) - 1
    assert parts[0].tpdu_length == 153
    assert [decode_submit(p.pdu).seq for p in parts] == [1, 2]
    assert "".join(decode_submit(p.pdu).text for p in parts) == text


def test_escape_pair_is_never_split() -> None:
    text = "a" * 152 + "€" + "b" * 20
    parts = encode_submit("10086", text)
    assert [p.text for p in parts] == ["a" * 152, "€" + "b" * 20]
    assert "".join(decode_submit(p.pdu).text for p in parts) == text


def test_ucs2_concatenation() -> None:
    text = "您好，这是一条很长的中文预约提醒短信。" * 8  # 152 characters
    parts = encode_submit("+8613800138000", text, reference=255)
    assert [len(p.text) for p in parts] == [67, 67, 18]
    for seq, part in enumerate(parts, start=1):
        ud = bytes.fromhex(part.pdu)[1 + 4 + 7 + 3:]  # 13 digits: 7 address octets
        assert ud[:6] == bytes([0x05, 0x00, 0x03, 255, 3, seq])
        assert len(ud) == 6 + 2 * len(part.text) <= 140
        decoded = decode_submit(part.pdu)
        assert (decoded.reference, decoded.total, decoded.seq, decoded.number) == (255, 3, seq, "+8613800138000")
    assert "".join(decode_submit(p.pdu).text for p in parts) == text


def test_surrogate_pairs_stay_in_one_part() -> None:
    text = "约" * 66 + "😀" + "好" * 10  # the emoji would straddle units 67/68
    parts = encode_submit("10086", text)
    assert [p.text for p in parts] == ["约" * 66, "😀" + "好" * 10]
    assert count_parts("😀" * 35) == 1 and count_parts("😀" * 36) == 2  # 70 / 72 UTF-16 units
    parts = encode_submit("10086", "😀" * 40)
    assert all(len(p.text.encode("utf-16-be")) <= 134 for p in parts)
    assert "".join(decode_submit(p.pdu).text for p in parts) == "😀" * 40


def test_too_long_and_bad_reference_are_refused() -> None:
    with pytest.raises(ValueError, match="过长"):
        encode_submit("10086", "中" * 67 * 255 + "中")
    assert len(encode_submit("10086", "中" * 67 * 255)) == 255
    with pytest.raises(ValueError):
        encode_submit("10086", "中" * 80, reference=256)


def test_decode_rejects_garbage() -> None:
    for bad in ("zz", "00", "0000", "0021000BA131"):
        with pytest.raises(ValueError):
            decode_submit(bad)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400), st.integers(0, 255))
def test_round_trip(text: str, reference: int) -> None:
    parts = encode_submit("+8613800138000", text, reference=reference)
    decoded = [decode_submit(p.pdu) for p in parts]
    assert "".join(d.text for d in decoded) == text
    assert all(d.number == "+8613800138000" for d in decoded)
    if len(parts) > 1:
        assert {(d.reference, d.total) for d in decoded} == {(reference, len(parts))}
        assert [d.seq for d in decoded] == list(range(1, len(parts) + 1))
    for p in parts:
        assert p.tpdu_length == len(p.pdu) // 2 - 1
        assert len(bytes.fromhex(p.pdu)[1 + 14:]) <= 140  # TP-UD after 14 octets of fields (7 for the number)
