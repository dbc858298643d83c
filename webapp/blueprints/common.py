"""Small helpers the blueprints share."""

from __future__ import annotations

from flask import current_app, request

from edgeface.live.interface import LiveApi
from webapp.errors import error_response

MAX_NAME = 200


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


def given_name():
    """The request's ``{"name": "X"}`` stripped, or the 400 answer that says what was wrong."""
    body = request.get_json(silent=True)
    name = body.get("name") if isinstance(body, dict) else None
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME or not name.isprintable():
        return None, error_response(400, f"expected a JSON object with a 'name': printable text of 1-{MAX_NAME} "
                                         "characters", 'send {"name": "Jane Doe"}')
    return name.strip(), None
