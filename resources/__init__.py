"""The program's own files (the application icon), installed as the package ``ui.resources``."""
