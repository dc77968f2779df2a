"""``python -m meike.check [--database URL] [--demo]``: the same as ``main.py --check``."""

from __future__ import annotations

import sys

from meike.cli import check_main

if __name__ == "__main__":
    sys.exit(check_main(["--check", *sys.argv[1:]]))
