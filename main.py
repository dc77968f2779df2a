"""美客 Meike — start the program: ``python main.py [--demo] [--simulate-devices] [--database URL] [--screenshot DIR]``."""

from __future__ import annotations

import sys

from ui.app import run

if __name__ == "__main__":
    sys.exit(run())
