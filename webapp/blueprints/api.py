"""The JSON API under ``/api/v1``: cameras, recognition events, still-image recognition, model."""

from __future__ import annotations

import math
from datetime import datetime, timezone

from flask import Blueprint, Response, jsonify, request

from edgeface.cameras.urls import is_valid_camera_id
from edgeface.live.service import RecognizerBusy
from edgeface.recognize import result_json
from webapp.blueprints.common import service
from webapp.errors import error_response

bp = Blueprint("api", __name__, url_prefix="/api/v1")

#: Cameras added over HTTP must be network streams: a file path or device would let an API
#: client read files of the server (local sources belong in EDGEFACE_CAMERAS).
API_URL_SCHEMES = ("http://", "https://", "rtsp://", "rtsps://", "rtmp://", "rtmps://")
MAX_EVENTS_PER_PAGE = 1000
FRAME_WAIT_S = 2.0


# -- cameras ---------------------------------------------------------------------------------
@bp.get("/cameras")
def list_cameras():
    return jsonify(cameras=[status.as_json() for status in service().cameras()])


@bp.get("/cameras/<camera_id>")
def get_camera(camera_id: str):
    status = service().camera(camera_id)
    if status is None:
        return _no_camera(camera_id)
    return jsonify(status.as_json())


@bp.post("/cameras")
def add_camera():
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("url"), str):
        return error_response(400, "expected a JSON object with a 'url' string",
                              'POST {"url": "rtsp://192.168.1.20/stream", "id": "door"} (id optional)')
    url, camera_id = body["url"].strip(), body.get("id")
    if not url.lower().startswith(API_URL_SCHEMES):
        return error_response(400, "only network camera URLs can be added over the API",
                              "use http(s)://, rtsp(s):// or rtmp(s)://; local files go in EDGEFACE_CAMERAS")
    if camera_id is not None and not isinstance(camera_id, str):
        return error_response(400, "'id' must be a string", "or leave it out to get one made from the URL")
    new_id = service().add_camera(url, camera_id)
    status = service().camera(new_id)
    return jsonify(status.as_json() if status else {"id": new_id}), 201


@bp.delete("/cameras/<camera_id>")
def remove_camera(camera_id: str):
    if not service().remove_camera(camera_id):
        return _no_camera(camera_id)
    return jsonify(removed=camera_id)


@bp.delete("/cameras")
def remove_camera_by_query():
    camera_id = request.args.get("id", "")
    if not camera_id:
        return error_response(400, "missing 'id' parameter", "DELETE /api/v1/cameras/<id> or ?id=<id>")
    return remove_camera(camera_id)


@bp.get("/cameras/<camera_id>/frame.jpg")
def camera_frame(camera_id: str):
    """The latest annotated frame (for polling clients; streams use /video_feed/<id>)."""
    feed = service().feed(camera_id)
    if feed is None:
        return _no_camera(camera_id)
    jpeg = feed.latest(FRAME_WAIT_S)
    if jpeg is None:
        return error_response(503, f"camera {camera_id} has no frame yet", "check the camera is online")
    return Response(jpeg, mimetype="image/jpeg", headers={"Cache-Control": "no-store"})


def _no_camera(camera_id: str):
    shown = camera_id if is_valid_camera_id(camera_id) else "(invalid id)"
    return error_response(404, f"no camera {shown}", "GET /api/v1/cameras lists them")


# -- events ----------------------------------------------------------------------------------
@bp.get("/events")
def list_events():
    args = request.args
    try:
        limit = int(args.get("limit", 50))
        since, until = _time_arg(args.get("since")), _time_arg(args.get("until"))
    except ValueError as err:
        return error_response(400, str(err), "times are epoch seconds or ISO 8601, e.g. 2024-05-01T12:00:00Z")
    if not 1 <= limit <= MAX_EVENTS_PER_PAGE:
        return error_response(400, f"'limit' must be 1-{MAX_EVENTS_PER_PAGE}", "e.g. limit=50")
    events = service().query_events(camera=args.get("camera") or None, name=args.get("name") or None,
                                    since=since, until=until, limit=limit)
    return jsonify(events=[e.as_json() for e in events])


@bp.get("/events/<event_id>")
def get_event(event_id: str):
    event = service().event(event_id)
    if event is None:
        return error_response(404, "no such event", "it may have aged out; GET /api/v1/events lists recent ones")
    return jsonify(event.as_json())


@bp.get("/events/<event_id>/snapshot.jpg")
def event_snapshot(event_id: str):
    jpeg = service().event_snapshot(event_id)
    if jpeg is None:
        return error_response(404, "no snapshot for that event", "it may have aged out")
    return Response(jpeg, mimetype="image/jpeg", headers={"Cache-Control": "private, max-age=86400"})


def _time_arg(text: str | None) -> float | None:
    if text is None or text == "":
        return None
    try:
        value = float(text)
    except ValueError:
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"{text!r} is not a time") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=timezone.utc)
        return parsed.timestamp()
    if not math.isfinite(value):
        raise ValueError(f"{text!r} is not a time")
    return value


# -- recognition and model ---------------------------------------------------------------------
@bp.post("/recognize")
def recognize():
    upload = request.files.get("image")
    if upload is None:
        return error_response(400, "missing multipart field 'image'",
                              "curl -F image=@photo.jpg http://HOST/api/v1/recognize")
    if not service().model_status().loaded:
        return error_response(503, "no model is loaded yet", "see /readyz; check the model file or store")
    name = upload.filename or "image"
    try:
        faces = service().recognize_upload(upload.read(), name)   # ImageError -> 400 with the reason
    except RecognizerBusy as busy:
        response = error_response(503, busy.message, busy.hint)
        response.headers["Retry-After"] = str(busy.retry_after_s)
        return response
    return jsonify(result_json(name, faces))


@bp.get("/model")
def model():
    return jsonify(service().model_status().as_json())
