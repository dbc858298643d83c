"""Small helpers the blueprints share."""

from __future__ import annotations

from flask import current_app

from edgeface.live.service import LiveService


def service() -> LiveService:
    return current_app.extensions["edgeface"]
