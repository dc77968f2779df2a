"""The frozen build's starter (main.py's twin): PyInstaller analyses the installed Meike from here, so
the packages it finds are the installed ones (meike.migrations, ui.resources), not the source tree."""

from __future__ import annotations

import sys

from ui.launcher import main

sys.exit(main())
