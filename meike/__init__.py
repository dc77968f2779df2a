"""Meike (美客): the clinic core — models, services and rules, free of Qt."""

from __future__ import annotations


def _version() -> str:
    """The one version of Meike is pyproject.toml's; installed (or frozen) it is read from the metadata."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("meike")
    except PackageNotFoundError:  # a source tree that was never installed: read pyproject.toml itself
        import tomllib
        from pathlib import Path

        pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
        try:
            return str(tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["version"])
        except (OSError, KeyError, tomllib.TOMLDecodeError):
            return "0+unknown"


__version__ = _version()
