"""Repeat strangers (``edgeface.history.strangers``): Unknown faces grouped by a stable site-local
id ("Unknown 17"); the admin names a whole group (its visits labelled, its best faces in effect here
at once) or merges two groups that are one person."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from edgeface.history.strangers import StrangerGroup
from webapp.auth import current_role, require_admin, require_viewer
from webapp.blueprints.common import given_name, service
from webapp.errors import error_response

bp = Blueprint("strangers", __name__, url_prefix="/api/v1")
MAX_GROUPS = 200


@bp.get("/strangers")
@require_viewer
def list_strangers():
    text = request.args.get("limit", "50")
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_GROUPS:
        return error_response(400, f"'limit' must be 1-{MAX_GROUPS}", "e.g. ?limit=50")
    return jsonify(strangers=[_group_json(g) for g in service().strangers(int(text))])


@bp.get("/strangers/<int:group>")
@require_viewer
def get_stranger(group: int):
    found = service().strangers(1, [group])
    return jsonify(_group_json(found[0])) if found else _no_group()


@bp.post("/strangers/<int:group>/label")
@require_admin
def name_stranger(group: int):
    """``{"name": "X"}``: every visit of the group is X's; its best faces name X here at once."""
    name, refused = given_name()
    done = None if name is None else service().name_stranger(group, name, current_role() or "admin")
    if done is None:
        return refused or _no_group()
    return jsonify(done)


@bp.post("/strangers/<int:group>/merge")
@require_admin
def merge_strangers(group: int):
    """``{"into": 17}``: the group's visits join Unknown 17 (the same person)."""
    body = request.get_json(silent=True)
    into = body.get("into") if isinstance(body, dict) else None
    if not isinstance(into, int) or isinstance(into, bool) or into == group:
        return error_response(400, "expected a JSON object with 'into': the number of another Unknown group",
                              'send {"into": 17} to merge this group into Unknown 17')
    if not service().merge_strangers(group, into):
        return _no_group()
    return jsonify(merged=group, into=into)


def _group_json(group: StrangerGroup) -> dict:
    faces = {v.id: v for v in service().archive().visits(group.faces)}
    return {**group.as_json(), "camera_names": [service().camera_name(c) for c in group.cameras],
            "faces": [faces[i].as_json(service().camera_name(faces[i].camera)) for i in group.faces if i in faces]}


def _no_group():
    return error_response(404, "no such Unknown group", "its visits may have aged out, or it was merged into another")
