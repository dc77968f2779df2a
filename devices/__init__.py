"""Hardware adapters (caller-ID, call recording, SMS, receipt printers) — no Qt; events via callbacks."""
