"""The JSON API under ``/api/v1``: cameras, recognition events, still-image recognition, model."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import datetime, timezone

from flask import Blueprint, Response, jsonify, request, send_file, url_for

from edgeface.cameras.urls import is_valid_camera_id
from edgeface.history import EventQuery, Visit
from edgeface.history.cameras import PRIVACY_SETTINGS, CameraSettingsError, parse_changes, parse_privacy
from edgeface.history.store import decode_cursor
from edgeface.live.interface import CameraStatus, RecognizerBusy
from edgeface.recognize import result_json
from webapp.auth import current_role, require_admin
from webapp.blueprints.common import given_name, service, wants_drawn
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
    return jsonify(cameras=[_camera_json(status) for status in service().cameras()])


@bp.get("/cameras/<camera_id>")
def get_camera(camera_id: str):
    status = service().camera(camera_id)
    if status is None:
        return _no_camera(camera_id)
    return jsonify(_camera_json(status))


@bp.patch("/cameras/<camera_id>")
@require_admin
def change_camera(camera_id: str):
    """``{"name"?, "enabled"?, "recognition"?, "min_face_px"?, "zone"?, "identify_url"?}``:
    persisted, applied live (``identify_url``: the main stream; null or "": none)."""
    status = service().camera(camera_id)
    if status is None:
        return _no_camera(camera_id)
    body = request.get_json(silent=True)
    identify = body.pop("identify_url", _UNCHANGED) if isinstance(body, dict) else _UNCHANGED
    if identify is not _UNCHANGED and (problem := _identify_problem(identify)):
        return problem
    try:
        changes = parse_changes(body) if not isinstance(body, dict) or body or identify is _UNCHANGED else {}
    except CameraSettingsError as err:
        return error_response(400, err.message, err.hint)
    if identify is not _UNCHANGED:
        service().set_identify(camera_id, str(identify) if identify else None)
    if changes:
        service().change_camera(camera_id, changes)
    return jsonify(_camera_json(service().camera(camera_id) or status))


_UNCHANGED = object()


def _identify_problem(url):
    """Why ``url`` cannot be a camera's identify stream over the API (None: it can): the detect
    URL's rules."""
    if url is None or url == "":
        return None
    if not isinstance(url, str):
        return error_response(400, "'identify_url' must be a URL string, or null for none",
                              '{"identify_url": "rtsp://192.168.1.20/stream1"}')
    if not url.strip().lower().startswith(API_URL_SCHEMES):
        return error_response(400, "only network camera URLs can be an identify stream",
                              "use http(s)://, rtsp(s):// or rtmp(s)://")
    return None


def _camera_json(status: CameraStatus) -> dict:
    """The camera's status, the operator's settings (``name`` defaults to the id) and its health."""
    options = {**service().camera_options(status.id).as_json(), "name": _camera_name(status.id),
               "from_site": service().camera_from_site(status.id)}
    state = "disabled" if not options["enabled"] else "online" if status.online else "offline"
    since = service().archive().camera_since(status.id, state, status.last_frame_age_s)
    health = service().camera_health(status.id)
    health = {**health, "people_local": service().local_now(status.id, health.get("people_now", []))}
    if state != "online":       # no picture, nothing to analyse: not a lag that grows while it is offline
        health = {**health, "analysis_lag_s": None}
    return {**status.as_json(), **options, "fps_in": status.fps, "fps_out": status.output_fps,
            **health, "state": state, "state_since": since}


@bp.post("/cameras")
def add_camera():
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("url"), str):
        return error_response(400, "expected a JSON object with a 'url' string",
                              'POST {"url": "rtsp://192.168.1.20/stream", "id": "door"} (id optional)')
    url, camera_id, identify = body["url"].strip(), body.get("id"), body.get("identify_url")
    if not url.lower().startswith(API_URL_SCHEMES):
        return error_response(400, "only network camera URLs can be added over the API",
                              "use http(s)://, rtsp(s):// or rtmp(s)://; local files go in EDGEFACE_CAMERAS")
    if camera_id is not None and not isinstance(camera_id, str):
        return error_response(400, "'id' must be a string", "or leave it out to get one made from the URL")
    if problem := _identify_problem(identify):
        return problem
    try:        # checked before the camera is added: a refused setting adds nothing
        privacy = parse_privacy({k: v for k, v in body.items() if k in PRIVACY_SETTINGS})
    except CameraSettingsError as err:
        return error_response(400, err.message, err.hint)
    new_id = service().add_camera(url, camera_id, identify or None)
    if privacy:
        service().change_camera(new_id, privacy)
    status = service().camera(new_id)
    return jsonify(_camera_json(status) if status else {"id": new_id}), 201


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
    """The latest frame (for polling clients; streams use /video_feed/<id>); ``?boxes=drawn``: with
    the faces drawn in."""
    try:
        drawn = wants_drawn()
    except ValueError as err:
        return error_response(400, str(err), "leave it out for the camera's own frame, or boxes=drawn")
    feed = service().feed(camera_id, drawn)
    if feed is None:
        return _no_camera(camera_id)
    jpeg = feed.latest(FRAME_WAIT_S)
    if jpeg is None:
        return error_response(503, f"camera {camera_id} has no frame yet", "check the camera is online")
    return Response(jpeg, mimetype="image/jpeg", headers={"Cache-Control": "no-store"})


@bp.get("/cameras/<camera_id>/unblurred.jpg")
@require_admin
def camera_frame_unblurred(camera_id: str):
    """The camera's latest frame as it sent it: no face blurred, no box drawn. Admins only, on a
    camera whose ``unblurred`` is ``allowed``; every view is a row in the audit trail."""
    if service().camera(camera_id) is None:
        return _no_camera(camera_id)
    if service().camera_options(camera_id).unblurred != "allowed":
        return error_response(403, f"camera {camera_id} does not allow unblurred views",
                              'an admin sets {"unblurred": "allowed"} on the camera first (docs/privacy.md)')
    jpeg = service().unblurred_frame(camera_id)
    if jpeg is None:
        return error_response(503, f"camera {camera_id} has no frame yet", "check the camera is online")
    return Response(jpeg, mimetype="image/jpeg", headers={"Cache-Control": "no-store"})


def _no_camera(camera_id: str):
    shown = camera_id if is_valid_camera_id(camera_id) else "(invalid id)"
    return error_response(404, f"no camera {shown}", "GET /api/v1/cameras lists them")


# -- events (visits) -------------------------------------------------------------------------------
EVENT_FILTERS = ("camera", "group", "name", "unknown", "reviewed", "since", "until", "model_version", "limit",
                 "cursor")
TIME_HINT = "times are epoch seconds or ISO 8601, e.g. 2024-05-01T12:00:00Z"


@bp.get("/events")
def list_events():
    try:
        query = _event_query(request.args)
    except ValueError as err:
        return error_response(400, str(err), f"filters: {', '.join(EVENT_FILTERS)}; {TIME_HINT}")
    group = request.args.get("group", "").strip()
    if group:       # the cameras the operator put in this group, now
        query = replace(query, cameras=tuple(c for c in service().camera_ids()
                                             if service().camera_options(c).group == group))
    page = service().query_events(query)
    names = {camera: _camera_name(camera) for camera in {v.camera for v in page.events}}
    local = service().local_visits(page.events)
    return jsonify(events=[visit_json(v, names[v.camera], local) for v in page.events], next_cursor=page.next_cursor)


def visit_json(visit: Visit, camera_name: str, local: set[str]) -> dict:
    """A visit as the API shows it; ``local``: the ids of visits named with the site's corrections (a name no
    model version knows, or with the help of an example the site added)."""
    return {**visit.as_json(camera_name), "local": visit.id in local}


def _event_query(args) -> EventQuery:
    """The filters of ``/api/v1/events`` (and of the timeline page); ValueError says what is wrong."""
    unknown_args = sorted(set(args) - set(EVENT_FILTERS))
    if unknown_args:
        raise ValueError(f"unknown parameter(s): {', '.join(a[:40] for a in unknown_args)}")
    text = {k: args.get(k, "").strip() or None for k in EVENT_FILTERS}
    limit_text = text["limit"] or "50"
    if not (limit_text.isascii() and limit_text.isdigit()) or not 1 <= int(limit_text) <= MAX_EVENTS_PER_PAGE:
        raise ValueError(f"'limit' must be 1-{MAX_EVENTS_PER_PAGE}")
    unknown, reviewed = _flag(text, "unknown"), _flag(text, "reviewed")
    since, until = _time_arg(text["since"]), _time_arg(text["until"])
    if since is not None and until is not None and since > until:
        raise ValueError("'since' is after 'until'")
    if text["cursor"] is not None:
        decode_cursor(text["cursor"])                    # a bad cursor is the client's error
    return EventQuery(camera=text["camera"], name=text["name"],
                      unknown=unknown, reviewed=reviewed, since=since, until=until,
                      model_version=text["model_version"], limit=int(limit_text), cursor=text["cursor"])


def _flag(text: dict, key: str) -> bool | None:
    value = text[key]
    if value is not None and value.lower() not in ("true", "false", "1", "0"):
        raise ValueError(f"'{key}' must be true or false")
    return None if value is None else value.lower() in ("true", "1")


def _camera_name(camera_id: str) -> str:
    """What the operator named the camera, else the name it announced, else its id."""
    return service().camera_name(camera_id)


@bp.get("/events/<event_id>")
def get_event(event_id: str):
    visit = service().event(event_id)
    if visit is None:
        return _no_event()
    clips = [c.as_json(url_for("api.event_clip", event_id=visit.id, clip_id=c.id))
             for c in service().event_clips(visit.id)]
    return jsonify({**visit_json(visit, _camera_name(visit.camera), service().local_visits([visit])), "clips": clips})


@bp.get("/events/<event_id>/clips/<int:clip_id>.webm")
def event_clip(event_id: str, clip_id: int):
    """One of the visit's clips (WebM); Range requests answered, as a video element seeks with them."""
    clip = next((c for c in service().event_clips(event_id) if c.id == clip_id), None)
    path = service().clip_file(clip) if clip is not None else None
    if path is None:
        return error_response(404, "no such clip for that visit", "it may have aged out; the visit page lists "
                              "the clips kept")
    return send_file(path, mimetype="video/webm", conditional=True, max_age=60)


@bp.get("/events/<event_id>/snapshot.jpg")
def event_snapshot(event_id: str):
    return _event_image(event_id, "snapshot")


@bp.get("/events/<event_id>/frame.jpg")
def event_frame(event_id: str):
    return _event_image(event_id, "frame")


def _event_image(event_id: str, kind: str):
    jpeg = service().event_image(event_id, kind)
    if jpeg is None:
        return error_response(404, f"no {kind} for that event", "it may have aged out; the event lists its URLs")
    return Response(jpeg, mimetype="image/jpeg", headers={"Cache-Control": "private, max-age=60"})


@bp.post("/events/<event_id>/label")
@require_admin
def label_event(event_id: str):
    name, refused = given_name()
    if name is None:
        return refused
    visit, queued = service().label_event(event_id, name, current_role() or "admin")
    if visit is None:
        return _no_event()
    return jsonify({**visit.as_json(_camera_name(visit.camera)),
                    "training_candidate": "outbox" if queued else "local"})


def _no_event():
    return error_response(404, "no such event", "it may have aged out or been deleted; the events list shows "
                          "what is kept")


# -- people ----------------------------------------------------------------------------------------
@bp.get("/people")
def list_people():
    return jsonify(service().people())


@bp.get("/people/<name>")
def get_person(name: str):
    """Someone the model knows, else someone operators labelled (``known_to_model``: false); any case."""
    known = next((p for p in service().people() if p["name"].lower() == name.strip().lower()), None)
    person: dict | None = known
    if known is None or not known["known_to_model"]:     # labelled by operators (and maybe corrected here)
        labelled = service().archive().person(name)
        person = {**known, **labelled} if known and labelled else (labelled or known)
    if person is None:
        return error_response(404, "nobody of that name: the model does not know it and no event is labelled so",
                              "the people page lists who the model knows; search the events by part of a name")
    return jsonify({**person, "cameras": service().person_cameras(person["name"])})


@bp.delete("/people/<name>/history")
@require_admin
def delete_person_history(name: str):
    """Privacy: every event and snapshot about ``name`` (named or labelled so), known to the model or not,
    what the uplink holds about them (retained MQTT state, captures here and in the core's bucket) and
    the site's corrections; counted per place in ``removed``. ``face_images`` and ``retrain``: the
    training photos only a new model version can take out of the fleet (docs/privacy.md)."""
    report = service().forget_person(name)
    removed = report["removed"]
    captures = None if removed.get("local") is None else {"local": removed["local"], "bucket": removed["bucket"]}
    return jsonify({**report, "deleted": removed["visits"], "captures": captures})



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
