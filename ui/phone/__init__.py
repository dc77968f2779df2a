"""电话管理: the page (``page``: call log with notes and recordings; ``sms``: the SMS log panel), the
caller pop-up (``caller_popup``) and the listener that follows the caller-ID box (``listener``). Every
read and write goes through ``ui/operations/phone.py`` and ``ui/operations/sms.py``."""

from __future__ import annotations

from ui.phone.page import PhonePage

__all__ = ["PhonePage"]
