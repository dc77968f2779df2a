"""Meike (美客): the clinic core — models, services and rules, free of Qt."""

__version__ = "0.1.0"
