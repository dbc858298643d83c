"""Small helpers the blueprints share."""

from __future__ import annotations

from flask import current_app

from edgeface.live.interface import LiveApi


def service() -> LiveApi:
    """The live service, as views may use it (``edgeface.live.interface.LiveApi``)."""
    return current_app.extensions["edgeface"]
