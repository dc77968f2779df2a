"""美客 Meike — start the program: ``python main.py [--demo] [--simulate-devices] [--database URL] [--screenshot DIR]``;
``python main.py --check [--database URL]`` checks the database and its books and prints a report."""

from __future__ import annotations

import sys

if __name__ == "__main__":
    if "--check" in sys.argv[1:]:  # no window, no Qt
        from meike.cli import check_main

        sys.exit(check_main(sys.argv[1:]))
    from ui.app import run

    sys.exit(run())
