"""Reviewing the history in bulk, and who is here now, under ``/api/v1``.

- ``POST /events/review`` ``{"ids": [...], "reviewed": true|false}`` (admin): mark visits reviewed;
- ``POST /events/delete`` ``{"ids": [...]}`` (admin): delete visits and their pictures;
- ``GET /events/export.zip?ids=a,b,…`` (admin or viewer): a zip of ``visits.csv`` and the faces;
- ``GET /present``: everyone with an open visit now, with their last sightings elsewhere.
"""

from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, Response, jsonify, request

from edgeface.history import Presence
from edgeface.history.review import MAX_BULK
from webapp.auth import current_role, require_admin
from webapp.blueprints.common import service
from webapp.errors import error_response

bp = Blueprint("review", __name__, url_prefix="/api/v1")

IDS_HINT = f'POST {{"ids": ["<event id>", …]}} with 1-{MAX_BULK} event ids'


def _ids(raw) -> list[str] | None:
    """1-MAX_BULK distinct short strings, else None."""
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_BULK:
        return None
    if not all(isinstance(i, str) and 0 < len(i) <= 64 and i.isprintable() for i in raw):
        return None
    return list(dict.fromkeys(raw))


@bp.post("/events/review")
@require_admin
def mark_reviewed():
    body = request.get_json(silent=True)
    ids = _ids(body.get("ids")) if isinstance(body, dict) else None
    reviewed = body.get("reviewed", True) if isinstance(body, dict) else None
    if ids is None or not isinstance(reviewed, bool):
        return error_response(400, "expected a JSON object with 'ids' (a list of event ids) and 'reviewed' (true "
                              "or false)", IDS_HINT.replace("]}", '], "reviewed": true}'))
    done = service().archive().mark(ids, reviewed, current_role() or "admin")
    return jsonify(marked=done, reviewed=reviewed)


@bp.post("/events/delete")
@require_admin
def delete_events():
    body = request.get_json(silent=True)
    ids = _ids(body.get("ids")) if isinstance(body, dict) else None
    if ids is None:
        return error_response(400, "expected a JSON object with 'ids': a list of event ids", IDS_HINT)
    return jsonify(deleted=service().archive().delete(ids))


@bp.get("/events/export.zip")
def export_events():
    ids = _ids([i for i in request.args.get("ids", "").split(",") if i])
    if ids is None:
        return error_response(400, f"'ids' must list 1-{MAX_BULK} event ids, separated by commas",
                              "choose the events to export on the events page")
    archive = service().archive()
    visits = archive.visits(ids)
    if not visits:
        return error_response(404, "none of these events is in the history", "they may have aged out or been deleted")
    body = archive.export(visits, service().camera_name)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    return Response(body, mimetype="application/zip", headers={
        "Content-Disposition": f'attachment; filename="edgeface-events-{stamp}.zip"', "Cache-Control": "no-store"})


@bp.get("/present")
def present():
    return jsonify(present=[_presence_json(p) for p in service().archive().present()])


def _presence_json(p: Presence) -> dict:
    return {"name": p.name, "unknown": p.unknown, "local": bool(service().local_visits(p.here)),
            "stranger": p.here[0].stranger if p.unknown else None,
            "here": [v.as_json(service().camera_name(v.camera)) for v in p.here],
            "elsewhere": [{"camera": camera, "camera_name": service().camera_name(camera), "last_seen": last}
                          for camera, last in p.elsewhere]}
