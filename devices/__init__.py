"""Hardware adapters (caller-ID, call recording, SMS, receipt printers) — no Qt; events via callbacks."""


def plug() -> None:
    """Plug these adapters into ``meike.ports`` (the composition root calls it once at start)."""
    from devices import callerid_dll, printer
    from devices.sms import pdu
    from devices.sms.modem import GsmModem
    from devices.sms.platforms import AliyunSms, TencentSms
    from meike import ports

    ports.plug(ports.Adapters(
        print_raw=printer.send, sms_parts=pdu.count_parts, modem=GsmModem, aliyun=AliyunSms, tencent=TencentSms,
        callerid_families=frozenset(callerid_dll.FAMILIES), dll_problem=callerid_dll.untrusted_dll_reason))
