"""Small helpers the blueprints share."""

from __future__ import annotations

from flask import current_app, request

from edgeface.live.interface import LiveApi


def service() -> LiveApi:
    """The live service, as views may use it (``edgeface.live.interface.LiveApi``)."""
    return current_app.extensions["edgeface"]


BOXES = ("camera", "drawn")    # ?boxes=: the camera's frames as they came (default), or faces drawn in


def wants_drawn() -> bool:
    """``?boxes=drawn``: the faces drawn into the frames; ValueError for a value we do not know."""
    boxes = request.args.get("boxes", "camera")
    if boxes not in BOXES:
        raise ValueError(f"boxes={boxes[:20]!r} is not one of {', '.join(BOXES)}")
    return boxes == "drawn"
