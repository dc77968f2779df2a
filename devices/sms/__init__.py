"""SMS 短信: PDU encoding, a GSM modem (短信猫) adapter and the Aliyun / Tencent Cloud clients — no Qt.

- ``devices.sms.pdu``: ``encode_submit(number, text) -> list[SubmitPart]``, ``decode_submit(pdu)``,
  ``count_parts(text)``.
- ``devices.sms.modem``: ``GsmModem(port).send(number, text) -> list[int]``, ``test_connection()``.
- ``devices.sms.platforms``: ``AliyunSms`` / ``TencentSms`` ``.send(phone, template, params) -> str``
  and their pure signing functions.

Every failure of a send is an ``SmsError``: ``message`` is Chinese and shown as it is, ``retryable``
says whether sending the same message again later may succeed (network, throttling, unplugged
modem) or not (bad number, template, signature, SIM missing — a person must act first).
"""

from __future__ import annotations


class SmsError(Exception):
    """A send failed. ``code``: ``CMS:330``, ``CME:10``, ``TIMEOUT``, ``DISCONNECTED``, a platform code…

    ``sent_parts``: parts of a long message that had already gone out (modem only); ``detail``:
    the device's or platform's own words, for the log.
    """

    def __init__(self, code: str, message: str, retryable: bool, *, sent_parts: int = 0,
                 detail: str = "") -> None:
        super().__init__(message)
        self.code, self.message, self.retryable = code, message, retryable
        self.sent_parts, self.detail = sent_parts, detail

    def __repr__(self) -> str:
        return f"SmsError({self.code!r}, {self.message!r}, retryable={self.retryable})"
