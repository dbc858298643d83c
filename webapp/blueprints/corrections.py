"""An operator's corrections, in effect at this site at once (``edgeface.overlay``).

"This is X" is the label of a visit (``POST /api/v1/events/<id>/label``, in the API blueprint):
its face joins X's here and goes to the core as a labelled capture. "This is not X" and the list
of corrections in effect are here.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from webapp.auth import current_role, require_admin, require_viewer
from webapp.blueprints.common import service
from webapp.errors import error_response

bp = Blueprint("corrections", __name__, url_prefix="/api/v1")
MAX_NAME = 200


@bp.post("/events/<event_id>/not")
@require_admin
def not_this(event_id: str):
    """``{"name"?: "X"}`` (default: the name the visit was given): the visit's face is not X;
    from now on that face is Unknown here."""
    body = request.get_json(silent=True)
    body = {} if body is None and not request.data else body
    name = body.get("name") if isinstance(body, dict) else ""
    if name is not None and (not isinstance(name, str) or len(name) > MAX_NAME or not name.isprintable()):
        return error_response(400, f"expected a JSON object whose 'name' (optional) is printable text of at most "
                                   f"{MAX_NAME} characters", 'send {"name": "Jane Doe"}, or nothing for the '
                                                             "name the visit was given")
    correction = service().not_event(event_id, (name or "").strip() or None, current_role() or "admin")
    if correction is None:
        return error_response(404, "no such visit", "it may have aged out of the history")
    return jsonify(correction), 201


@bp.get("/corrections")
@require_viewer
def list_corrections():
    return jsonify(corrections=service().corrections(), model=service().model_status().as_json())


@bp.delete("/corrections/<correction_id>")
@require_admin
def remove_correction(correction_id: str):
    if not service().uncorrect(correction_id):
        return error_response(404, "no such correction in effect", "see the list of corrections")
    return "", 204
