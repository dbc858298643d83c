"""Tuning of per-camera recognition: the ``live`` section of the settings tree (edgeface.settings)."""

from edgeface.settings import LiveSettings

__all__ = ["LiveSettings"]
