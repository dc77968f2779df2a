"""美客 Meike — start the program: ``python main.py [--demo] [--simulate-devices] [--database URL] [--screenshot DIR]``;
``python main.py --check [--database URL]`` checks the database and its books and prints a report;
``python main.py --selftest`` checks that every part of the program is present and works (the frozen build)."""

from __future__ import annotations

import sys

if __name__ == "__main__":
    from ui.launcher import main

    sys.exit(main())
