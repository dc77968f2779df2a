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

from meike.ports import SmsError  # the port's error type: devices raise what the clinic catches

__all__ = ["SmsError"]
