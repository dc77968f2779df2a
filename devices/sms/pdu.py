"""GSM 03.40 SMS-SUBMIT PDUs: GSM 7-bit or UCS2, long messages split with a concatenation header.

Public API::

    encode_submit(number, text, *, reference=0, smsc=None, status_report=True, validity=None,
                  plain_type=TYPE_NATIONAL) -> list[SubmitPart]   # SubmitPart(pdu, tpdu_length, text)
    decode_submit(pdu, *, with_smsc=True) -> DecodedSubmit
    count_parts(text) -> int
    fits_gsm7(text) -> bool

``pdu`` is the hex string sent after the ``> `` prompt (the SMSC part first: ``00`` = the SIM's
default SMSC); ``tpdu_length`` is what goes in ``AT+CMGS=<n>`` (octets, SMSC part excluded).

The default arguments reproduce the checked vector ``13800138000`` / ``您好`` →
``0021000BA13108108300F000080460A8597D`` (length 17): first octet ``21`` = SMS-SUBMIT with a status
report requested and no validity period, TP-MR ``00``, number type ``A1`` (national, ISDN) for a
number without ``+`` (``91`` with ``+``; pass ``plain_type=TYPE_UNKNOWN`` for ``81``), PID ``00``,
DCS ``08`` (UCS2).

Limits: one part holds 160 GSM septets or 70 UCS2 units; with the 6-octet header
``05 00 03 <ref> <total> <seq>`` 153 septets (one fill bit) or 67 units. An escape pair (``€``,
``[`` …) and a UTF-16 surrogate pair (emoji) are never split between parts. At most 255 parts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

TYPE_INTERNATIONAL, TYPE_NATIONAL, TYPE_UNKNOWN = 0x91, 0xA1, 0x81
DCS_GSM7, DCS_UCS2 = 0x00, 0x08
MAX_PARTS = 255

# 3GPP 23.038 default alphabet; index = septet value. 0x1B (escape) is not a character.
GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = {"\f": 0x0A, "^": 0x14, "{": 0x28, "}": 0x29, "\\": 0x2F, "[": 0x3C, "~": 0x3D,
                  "]": 0x3E, "|": 0x40, "€": 0x65}
ESCAPE = 0x1B
assert len(GSM7_BASIC) == 128

_BASIC = {ch: i for i, ch in enumerate(GSM7_BASIC) if i != ESCAPE}
_BASIC_REVERSE = dict(enumerate(GSM7_BASIC))
_EXTENSION_REVERSE = {v: k for k, v in GSM7_EXTENSION.items()}

_SINGLE = {DCS_GSM7: 160, DCS_UCS2: 70}  # septets / UTF-16 units in a message of one part
_PER_PART = {DCS_GSM7: 153, DCS_UCS2: 67}  # … in each part of a concatenated message
_CONCAT_UDH_LEN = 6  # 05 00 03 ref total seq


@dataclass(frozen=True)
class SubmitPart:
    """One part to send: ``AT+CMGS=<tpdu_length>``, then ``pdu`` + Ctrl-Z. ``text``: this part's text."""

    pdu: str
    tpdu_length: int
    text: str


@dataclass(frozen=True)
class DecodedSubmit:
    """An SMS-SUBMIT read back; ``reference`` is None for a message of one part."""

    number: str
    text: str
    reference: int | None = None
    total: int = 1
    seq: int = 1
    message_reference: int = 0
    smsc: str = ""
    status_report: bool = False
    dcs: int = DCS_GSM7


# --- alphabets -------------------------------------------------------------------------------------


def fits_gsm7(text: str) -> bool:
    """True when every character is in the GSM default alphabet or its extension table."""
    return all(ch in _BASIC or ch in GSM7_EXTENSION for ch in text)


def _septets(ch: str) -> list[int]:
    return [_BASIC[ch]] if ch in _BASIC else [ESCAPE, GSM7_EXTENSION[ch]]


def _split_gsm7(text: str) -> list[str]:
    units = sum(len(_septets(ch)) for ch in text)
    if units <= _SINGLE[DCS_GSM7]:
        return [text]
    parts: list[str] = []
    current: list[str] = []
    used = 0
    for ch in text:
        size = len(_septets(ch))
        if used + size > _PER_PART[DCS_GSM7]:  # an escape pair moves whole to the next part
            parts.append("".join(current))
            current, used = [], 0
        current.append(ch)
        used += size
    parts.append("".join(current))
    return parts


def _split_ucs2(text: str) -> list[str]:
    data = text.encode("utf-16-be")
    if len(data) // 2 <= _SINGLE[DCS_UCS2]:
        return [text]
    parts, start, units = [], 0, len(data) // 2
    while start < units:
        end = min(start + _PER_PART[DCS_UCS2], units)
        if end < units and 0xD800 <= int.from_bytes(data[2 * end - 2:2 * end], "big") <= 0xDBFF:
            end -= 1  # a high surrogate stays with its low surrogate
        parts.append(data[2 * start:2 * end].decode("utf-16-be"))
        start = end
    return parts


def count_parts(text: str) -> int:
    """How many SMS the text needs (what the operator will bill)."""
    return len(_split_gsm7(text) if fits_gsm7(text) else _split_ucs2(text))


def pack_septets(septets: list[int], fill_bits: int = 0) -> bytes:
    """Pack 7-bit values LSB first, after ``fill_bits`` zero bits (to align after a UDH)."""
    out, acc, nbits = bytearray(), 0, fill_bits
    for s in septets:
        acc |= (s & 0x7F) << nbits
        nbits += 7
        while nbits >= 8:
            out.append(acc & 0xFF)
            acc >>= 8
            nbits -= 8
    if nbits > 0:
        out.append(acc & 0xFF)
    return bytes(out)


def unpack_septets(data: bytes, count: int, fill_bits: int = 0) -> list[int]:
    value = int.from_bytes(data, "little") >> fill_bits
    return [(value >> (7 * i)) & 0x7F for i in range(count)]


def _gsm7_text(septets: list[int]) -> str:
    chars, escaped = [], False
    for s in septets:
        if escaped:
            chars.append(_EXTENSION_REVERSE.get(s, " "))
            escaped = False
        elif s == ESCAPE:
            escaped = True
        else:
            chars.append(_BASIC_REVERSE[s])
    return "".join(chars)


# --- addresses -------------------------------------------------------------------------------------


def _semi_octets(digits: str) -> bytes:
    if len(digits) % 2:
        digits += "F"
    return bytes.fromhex("".join(digits[i + 1] + digits[i] for i in range(0, len(digits), 2)))


def _address(number: str, plain_type: int) -> tuple[str, int]:
    """(digits, type of address); ValueError when it is not a phone number."""
    cleaned = re.sub(r"[\s\-()]", "", number)
    international = cleaned.startswith("+")
    digits = cleaned[1:] if international else cleaned
    if not digits.isdigit() or not 1 <= len(digits) <= 20 or not digits.isascii():
        raise ValueError(f"号码格式不正确：{number!r}")
    return digits, TYPE_INTERNATIONAL if international else plain_type


def _read_digits(data: bytes, count: int) -> str:
    return "".join(f"{b & 0x0F:X}{b >> 4:X}" for b in data)[:count].rstrip("F")


# --- encoding --------------------------------------------------------------------------------------


def encode_submit(number: str, text: str, *, reference: int = 0, smsc: str | None = None,
                  status_report: bool = True, validity: int | None = None,
                  plain_type: int = TYPE_NATIONAL) -> list[SubmitPart]:
    """The SMS-SUBMIT PDUs for ``text`` to ``number``, one per part.

    Args:
        reference: the concatenation reference (0–255) shared by the parts of a long message.
        smsc: the SMS centre (``+8613800100500``); None uses the SIM's (``00`` prefix).
        status_report: ask for a delivery report (TP-SRR).
        validity: a relative validity period octet (TP-VP, e.g. 0xA7 = 24 h); None = none.
        plain_type: the type of address for a number without ``+``.
    """
    digits, toa = _address(number, plain_type)
    if not 0 <= reference <= 255:
        raise ValueError("concatenation reference must be 0–255")
    gsm7 = fits_gsm7(text)
    dcs = DCS_GSM7 if gsm7 else DCS_UCS2
    texts = _split_gsm7(text) if gsm7 else _split_ucs2(text)
    if len(texts) > MAX_PARTS:
        raise ValueError(f"短信过长：需要 {len(texts)} 条，最多 {MAX_PARTS} 条")
    smsc_hex = "00"
    if smsc:
        smsc_digits, smsc_toa = _address(smsc, TYPE_UNKNOWN)
        body = bytes([smsc_toa]) + _semi_octets(smsc_digits)
        smsc_hex = (bytes([len(body)]) + body).hex().upper()
    concatenated = len(texts) > 1
    parts = []
    for seq, chunk in enumerate(texts, start=1):
        first = 0x01 | (0x20 if status_report else 0) | (0x40 if concatenated else 0)
        first |= 0x10 if validity is not None else 0  # VPF = relative
        tpdu = bytearray([first, 0x00, len(digits), toa]) + _semi_octets(digits)
        tpdu += bytes([0x00, dcs])
        if validity is not None:
            tpdu.append(validity & 0xFF)
        udh = bytes([0x05, 0x00, 0x03, reference, len(texts), seq]) if concatenated else b""
        if gsm7:
            septets = [s for ch in chunk for s in _septets(ch)]
            fill = (7 - len(udh) * 8 % 7) % 7
            header_septets = (len(udh) * 8 + fill) // 7
            tpdu.append(header_septets + len(septets))
            tpdu += udh + pack_septets(septets, fill if udh else 0)
        else:
            data = chunk.encode("utf-16-be")
            tpdu.append(len(udh) + len(data))
            tpdu += udh + data
        parts.append(SubmitPart(smsc_hex + tpdu.hex().upper(), len(tpdu), chunk))
    return parts


# --- decoding --------------------------------------------------------------------------------------


def decode_submit(pdu: str, *, with_smsc: bool = True) -> DecodedSubmit:
    """Read back an SMS-SUBMIT (what a modem receives after ``> ``); ValueError when malformed."""
    try:
        data = bytes.fromhex(pdu.strip())
        return _decode(data, with_smsc)
    except (IndexError, KeyError, UnicodeDecodeError) as e:
        raise ValueError(f"malformed SMS-SUBMIT PDU: {e}") from None


def _decode(data: bytes, with_smsc: bool) -> DecodedSubmit:
    pos, smsc = 0, ""
    if with_smsc:
        length = data[0]
        if length:
            smsc = _read_digits(data[2:1 + length], 2 * (length - 1))
            smsc = ("+" if data[1] == TYPE_INTERNATIONAL else "") + smsc
        pos = 1 + length
    first = data[pos]
    if first & 0x03 != 0x01:
        raise ValueError("not an SMS-SUBMIT (TP-MTI)")
    mr, digits_count, toa = data[pos + 1], data[pos + 2], data[pos + 3]
    pos += 4
    addr_len = (digits_count + 1) // 2
    number = _read_digits(data[pos:pos + addr_len], digits_count)
    number = ("+" if toa == TYPE_INTERNATIONAL else "") + number
    pos += addr_len
    dcs = data[pos + 1]
    pos += 2
    vpf = (first >> 3) & 0x03
    pos += {0: 0, 2: 1, 1: 7, 3: 7}[vpf]
    udl = data[pos]
    ud = data[pos + 1:]
    reference, total, seq = None, 1, 1
    header = b""
    if first & 0x40:
        header = ud[:1 + ud[0]]
        i = 1
        while i < len(header):
            iei, iel = header[i], header[i + 1]
            value = header[i + 2:i + 2 + iel]
            if iei == 0x00 and iel == 3:
                reference, total, seq = value[0], value[1], value[2]
            elif iei == 0x08 and iel == 4:
                reference, total, seq = int.from_bytes(value[:2], "big"), value[2], value[3]
            i += 2 + iel
    alphabet = (dcs >> 2) & 0x03 if dcs & 0xC0 == 0 else (1 if dcs & 0x04 else 0)
    if alphabet == 0:
        header_bits = len(header) * 8
        header_septets = (header_bits + 6) // 7
        fill = header_septets * 7 - header_bits
        septets = unpack_septets(ud[len(header):], udl - header_septets, fill)
        text = _gsm7_text(septets)
    elif alphabet == 2:
        text = ud[len(header):udl].decode("utf-16-be")
    else:
        text = ud[len(header):udl].hex().upper()
    return DecodedSubmit(number, text, reference, total, seq, mr, smsc, bool(first & 0x20), dcs)
