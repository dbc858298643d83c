"""Requests into the audit trail (``edgeface.history.audit``): who, what, to what, from where.

``ACTIONS`` is the one table from endpoint to action: a new endpoint worth recording adds a line
there. A request is recorded after its view answered (its status says whether it was allowed);
an open live feed is one row, however many frames it then streams. A read repeated by the same
client — same token, endpoint, target, filters and answer — within a minute is one row: the live
page polls recent events every 2 s, a polled tile fetches 4 frames a second. Who: the role and the id of
its token (``token_id``: a hash prefix, never the token); a wrong token leaves no trace of itself.

Requests without valid credentials are recorded at most once a minute per client, action, target
and status, so a flood of them cannot push real rows out of the trail — except failed logins and
camera registrations with a wrong token, which ``webapp.auth`` already limits per client.

When a read cannot be recorded (the database is unwritable), it is refused (503): nothing is
shown that the trail does not show. A change has happened by then: it is logged as unrecorded.
Model changes are noticed at the next request and recorded once, whichever worker sees them.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask, Request, Response, current_app, g, request
from sqlalchemy.exc import SQLAlchemyError

from edgeface.history.audit import SYSTEM, AuditTrail, Entry, Row, token_id
from edgeface.history.cameras import SETTINGS as CAMERA_SETTINGS
from edgeface.live.service import LiveService
from edgeface.settings import EventSettings
from webapp.auth import authenticated_by, current_role
from webapp.blueprints import audit as audit_pages
from webapp.errors import error_response

log = logging.getLogger(__name__)

EXTENSION = "edgeface.audit"
THROTTLE_S = 60.0
THROTTLE_KEYS = 4096            # remembered (client, action, ...) keys at most, per process
#: The configured token of each role, by its app.config key (webapp.auth.init_auth).
TOKEN_KEYS = {"admin": "API_TOKEN", "viewer": "VIEWER_TOKEN"}
Part = Callable[[Request, Response], Any]


def view_arg(name: str) -> Part:
    """A part of the URL, as text (a group number too)."""
    def part(req: Request, _resp: Response) -> str | None:
        value = (req.view_args or {}).get(name)
        return None if value is None else str(value)
    return part


def query_arg(name: str) -> Part:
    return lambda req, _resp: req.args.get(name)


def answered(key: str) -> Part:
    """A field of the JSON the view answered (the id a camera got)."""
    def part(_req: Request, resp: Response) -> Any:
        body = resp.get_json(silent=True) if resp.is_json else None
        return body.get(key) if isinstance(body, dict) else None
    return part


def answered_fields(*names: str) -> Part:
    """These fields of the JSON the view answered (what a deletion removed, counted per place)."""
    def part(_req: Request, resp: Response) -> dict:
        body = resp.get_json(silent=True) if resp.is_json else None
        return {n: body[n] for n in names if n in body} if isinstance(body, dict) else {}
    return part


def body_fields(*names: str) -> Part:
    """These fields of the request's JSON body (never a URL or a password: name them, not the body)."""
    def part(req: Request, _resp: Response) -> dict:
        body = req.get_json(silent=True)
        return {n: body[n] for n in names if n in body} if isinstance(body, dict) else {}
    return part


def camera_changes(req: Request, _resp: Response) -> dict:
    """What a camera PATCH changes: each setting it gives, with its value; the identify stream as
    ``"set"`` or ``"removed"`` only (its URL may carry credentials). Fields the PATCH does not
    know are left out: it refuses them, and their text is anyone's."""
    body = req.get_json(silent=True)
    if not isinstance(body, dict):
        return {}
    changes = {n: body[n] for n in CAMERA_SETTINGS if n in body}
    if "identify_url" in body:
        changes["identify_url"] = "set" if body["identify_url"] else "removed"
    return changes


def filters(req: Request, _resp: Response) -> dict:
    """A search's filters (paging left out)."""
    return {k: v for k, v in req.args.items() if v and k not in ("cursor", "limit", "before")}


@dataclass(frozen=True)
class Action:
    name: str
    target: Part | None = None
    detail: Part | None = None
    methods: tuple[str, ...] = ()     # empty: every method of the route
    failed: str | None = None         # the action's name when refused (login.failed)
    limited: bool = False             # its wrong-secret refusals are rate limited already (webapp.auth)
    who_after: bool = False           # who is known only once the view ran (login)
    every_time: bool = False          # a read recorded each time, never throttled (an unblurred view)


#: Endpoint -> what it does, for the trail. Pages whose data comes from the API are recorded
#: through their API calls (the events page through its search, an event page through visit.view).
ACTIONS: dict[str, Action] = {
    "ui.login": Action("login", methods=("POST",), failed="login.failed", limited=True, who_after=True),
    "ui.logout": Action("logout"),
    "feeds.default_feed": Action("feed.view"),
    "feeds.camera_feed": Action("feed.view", target=view_arg("camera_id")),
    "api.camera_frame": Action("feed.frame", target=view_arg("camera_id")),
    "api.camera_frame_unblurred": Action("feed.unblurred", target=view_arg("camera_id"), every_time=True),
    "feeds.marks": Action("feed.faces", detail=lambda req, _resp: {"cameras": req.args.get("cameras", "all")}),
    "api.list_events": Action("search", detail=filters),
    "api.recognize": Action("search.face"),
    "api.get_event": Action("visit.view", target=view_arg("event_id")),
    "api.event_snapshot": Action("snapshot.view", target=view_arg("event_id")),
    "api.event_frame": Action("frame.view", target=view_arg("event_id")),
    "api.event_clip": Action("clip.view", target=view_arg("event_id"),
                             detail=lambda req, _resp: {"clip": (req.view_args or {}).get("clip_id")}),
    "api.get_person": Action("person.view", target=view_arg("name")),
    "api.label_event": Action("label", target=view_arg("event_id"), detail=body_fields("name")),
    "corrections.not_this": Action("correction", target=view_arg("event_id"), detail=body_fields("name")),
    "corrections.remove_correction": Action("correction.remove", target=view_arg("correction_id")),
    "corrections.drop_photo": Action("correction", target=view_arg("name"),
                                     detail=lambda req, _resp: {"photo_row": (req.view_args or {}).get("row")}),
    "corrections.photo_image": Action("person.view", target=view_arg("name")),
    "corrections.photos": Action("person.view", target=view_arg("name")),
    "strangers.list_strangers": Action("search", detail=lambda _req, _resp: {"strangers": True}),
    "strangers.get_stranger": Action("search", target=view_arg("group")),
    "strangers.name_stranger": Action("label", target=view_arg("group"), detail=body_fields("name")),
    "strangers.merge_strangers": Action("stranger.merge", target=view_arg("group"), detail=body_fields("into")),
    "api.change_camera": Action("camera.change", target=view_arg("camera_id"), detail=camera_changes),
    "api.add_camera": Action("camera.add", target=answered("id")),
    "discovery.add_discovered": Action("camera.add", target=answered("id"), detail=body_fields("name")),
    "ops.register": Action("camera.register", target=answered("camera"), limited=True),
    "api.remove_camera": Action("camera.remove", target=view_arg("camera_id")),
    "api.remove_camera_by_query": Action("camera.remove", target=query_arg("id")),
    "discovery.export_cameras": Action("export", target=lambda _req, _resp: "cameras.yaml"),
    "api.delete_person_history": Action("person.delete", target=view_arg("name"), detail=answered_fields("removed")),
    "review.mark_reviewed": Action("review", detail=body_fields("reviewed")),
    "review.delete_events": Action("visit.delete"),
    "review.export_events": Action("export", detail=filters),
    "review.present": Action("search"),
    "alerts.add_alert": Action("alert.add", target=answered("id"), detail=body_fields("who", "cameras", "hours")),
    "alerts.remove_alert": Action("alert.remove", target=view_arg("rule_id")),
    "audit.page": Action("audit.view", detail=filters),
    "audit.list_audit": Action("audit.view", detail=filters),
    "audit.verify": Action("audit.verify"),
}


class Throttle:
    """Whether a key was let through less than ``every_s`` ago (per process; forgets the oldest keys)."""

    def __init__(self, every_s: float, max_keys: int = THROTTLE_KEYS):
        self.every_s, self.max_keys = every_s, max_keys
        self._last: dict[tuple, float] = {}
        self._lock = threading.Lock()

    def holds(self, key: tuple, now: float) -> bool:
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self.every_s:
                return True
            self._last.pop(key, None)
            self._last[key] = now
            while len(self._last) > self.max_keys:
                del self._last[next(iter(self._last))]
            return False

    def forget(self, key: tuple) -> None:
        with self._lock:
            self._last.pop(key, None)


class Recorder:
    """One per app: the trail, the throttle, the model version last seen."""

    def __init__(self, trail: AuditTrail, service: LiveService):
        self.trail, self.service = trail, service
        self.throttle = Throttle(THROTTLE_S)
        self.model_seen: tuple[Any, ...] | None = None

    def note_model(self) -> None:
        """A new model in use: one ``model.change`` row, once for all workers."""
        status = self.service.model_status()
        seen = (status.version, status.loaded_at)
        if not status.loaded or seen == self.model_seen:
            return
        self.model_seen = seen
        self.trail.append(Entry("model.change", role=SYSTEM, target=status.version,
                                detail={"source": status.source, "loaded_at": status.loaded_at}),
                          unless_same_target=True)


def who() -> tuple[str | None, str | None, str | None]:
    """(role, how authenticated, token id) of this request."""
    how, role = authenticated_by(), current_role()
    if how not in ("bearer", "session") or role is None:
        return (role if how == "open" else None), how, None
    token = current_app.config.get(TOKEN_KEYS[role])
    return role, how, token_id(token) if token else None


def _before() -> None:
    recorder: Recorder = current_app.extensions[EXTENSION]
    g.audit_who = who()
    try:
        recorder.note_model()
    except (SQLAlchemyError, OSError) as err:
        log.error("audit: cannot record a model change: %s", err)


def _after(response: Response) -> Response:
    action = ACTIONS.get(request.endpoint or "")
    if action is None or (action.methods and request.method not in action.methods):
        return response
    recorder: Recorder = current_app.extensions[EXTENSION]
    role, how, tid = who() if action.who_after or "audit_who" not in g else g.audit_who
    status = response.status_code
    name = action.failed if action.failed and status >= 400 else action.name
    target = action.target(request, response) if action.target else None
    address = request.remote_addr
    detail = action.detail(request, response) if action.detail else {}
    # A read repeated (polled) and requests anyone can send without credentials: once a minute.
    anonymous = role is None and not (action.limited and status in (401, 403))
    key = (request.endpoint, address, tid, name, target, status, json.dumps(detail, sort_keys=True))
    throttled = (request.method in ("GET", "HEAD") and not action.every_time) or anonymous
    if throttled and recorder.throttle.holds(key, time.monotonic()):
        return response
    entry = Entry(name, role=role, auth=how, token_id=tid, address=address, target=target, status=status,
                  detail=detail)
    try:
        recorder.trail.append(entry)
    except (SQLAlchemyError, OSError) as err:
        log.error("audit: cannot record %s %s by %s: %s", name, target or "", role or "nobody", err)
        recorder.throttle.forget(key)      # not recorded: the next try is not "seen recently"
        if request.method in ("GET", "HEAD"):
            response.close()           # its close callbacks (a feed's slot) run
            return error_response(503, "this access cannot be recorded in the audit trail, so it is refused",
                                  "check the events volume is writable and has free space")
    return response


def install_audit(app: Flask, service: LiveService, events: EventSettings) -> AuditTrail:
    """Record this app's requests in the trail of ``service``'s history; rows go to the core over MQTT."""
    publisher = service.uplink.publisher

    def ship(row: Row) -> None:
        if publisher is not None:
            publisher.publish_audit(row.as_json())

    # ``service.history.engine``: the history's database (until LiveService offers an accessor).
    trail = AuditTrail(service.history.engine, max_rows=events.audit_max_rows,
                       retention_days=events.retention_days, on_append=ship)
    app.extensions[EXTENSION] = Recorder(trail, service)
    app.before_request(_before)
    app.after_request(_after)
    app.register_blueprint(audit_pages.bp)
    return trail
