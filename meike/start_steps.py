"""What every start (and a restore) does once the schema is current."""

from __future__ import annotations

import logging

from meike import numbering
from meike.db import Clinic
from meike.services import sms

log = logging.getLogger(__name__)


def after_upgrade(clinic: Clinic) -> None:
    """Platform secrets an older version stored in clear are sealed (``meike.secret_box``), and receipt
    counters are raised past every number this PC saw issued (``meike.numbering``: a database copied back
    by hand). Never stops a start."""
    for step in (sms.seal_stored_secrets, numbering.apply_mark):
        try:
            step(clinic)
        except Exception:  # noqa: BLE001 (logged; the clinic opens all the same)
            log.warning("start-up step %s failed", step.__qualname__, exc_info=True)
