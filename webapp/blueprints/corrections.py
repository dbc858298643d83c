"""An operator's corrections, in effect at this site at once (``edgeface.overlay``).

"This is X" is the label of a visit (``POST /api/v1/events/<id>/label``, in the API blueprint):
its face joins X's here and goes to the core as a labelled capture. "This is not X", a person's
enrolment photos (one left out here: "not X"), and the list of corrections in effect are here.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

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


@bp.get("/people/<name>/photos")
@require_viewer
def photos(name: str):
    """The enrolment photos the model in use holds of ``name`` (row, file, left out here or not)."""
    found = service().photos(name)
    if found is None:
        return _no_person()
    base = f"/api/v1/people/{name}/photos"
    return jsonify(name=name, model=service().model_status().version,
                   photos=[{**p, "image_url": f"{base}/{p['row']}.jpg" if p["has_image"] else None} for p in found])


@bp.get("/people/<name>/photos/<int:row>.jpg")
@require_viewer
def photo_image(name: str, row: int):
    jpeg = service().photo_image(name, row)
    if jpeg is None:
        return error_response(404, "this site has no copy of that enrolment photo",
                              "the photos are shown where the training folder (EDGEFACE_IMAGES) is at the site")
    return Response(jpeg, mimetype="image/jpeg", headers={"Cache-Control": "private, max-age=300"})


@bp.delete("/people/<name>/photos/<int:row>")
@require_admin
def drop_photo(name: str, row: int):
    """The photo is not ``name``: left out of the model here from now on (undo: remove the correction)."""
    correction = service().drop_photo(name, row, current_role() or "admin")
    if correction is None:
        return _no_person()
    return jsonify(correction), 201


def _no_person():
    return error_response(404, "the model in use has no such person or photo", "the people page lists who it knows")
