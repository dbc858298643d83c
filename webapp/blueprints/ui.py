"""Operator pages: the live grid, one camera (full screen, with its settings), who is here now,
the events timeline (with bulk review) and one event, the face library and one person, the
Unknown queue, the train tab (the library in one place and what the next training would gain),
the login form.

The pages are shells rendered here; their data comes from the JSON API (``/api/v1``) through
small scripts in ``webapp/static``, with the page's filters as the same query parameters the API
takes — a filtered timeline is a URL that can be bookmarked or shared.
"""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, send_from_directory, session, url_for

from webapp.auth import authenticated_by, csrf_token, current_role, log_in, role_of_token, safe_next
from webapp.blueprints.common import service

bp = Blueprint("ui", __name__)

#: The timeline's filters: the names of ``GET /api/v1/events``'s query parameters.
EVENT_FILTERS = ("camera", "group", "name", "unknown", "reviewed", "since", "until", "model_version")


def _page(template: str, **context):
    role = current_role()
    return render_template(template, csrf=csrf_token(), model=service().model_status(), role=role,
                           tolerance=current_app.config["EDGEFACE_SETTINGS"].live.tolerance,
                           can_change=role == "admin" and bool(current_app.config.get("API_TOKEN")),
                           logged_in=authenticated_by() == "session", **context)


@bp.get("/")
def index():
    return _page("index.html", nav="live")


@bp.get("/cameras/<camera_id>")
def camera(camera_id: str):
    if service().camera(camera_id) is None:
        return _page("missing.html", nav="live", what="camera", key=camera_id,
                     back=url_for("ui.index"), back_text="All cameras"), 404
    return _page("camera.html", nav="live", camera_id=camera_id)


@bp.get("/alerts")
def alerts():
    return _page("alerts.html", nav="alerts")


@bp.get("/present")
def present():
    gap = current_app.config["EDGEFACE_SETTINGS"].events.visit_gap_s
    return _page("present.html", nav="present", gap_text=f"{gap:g} s" if gap < 120 else f"{gap / 60:g} min")


@bp.get("/events")
def events():
    filters = {key: request.args.get(key, "") for key in EVENT_FILTERS}
    return _page("events.html", nav="events", filters=filters)


@bp.get("/events/<event_id>")
def event(event_id: str):
    return _page("event.html", nav="events", event_id=event_id)


@bp.get("/timeline")
def timeline():
    """A camera's visits over one day, as bars on a 24 h axis (the day in the browser's time zone)."""
    return _page("timeline.html", nav="timeline", camera=request.args.get("camera", ""),
                 day=request.args.get("day", ""), name=request.args.get("name", ""))


@bp.get("/people")
def people():
    return _page("people.html", nav="people")


@bp.get("/people/<path:name>")
def person(name: str):
    return _page("person.html", nav="people", name=name)


@bp.get("/train")
def train():
    return _page("train.html", nav="train")


@bp.get("/unknown")
def unknown():
    return _page("unknown.html", nav="unknown")


@bp.get("/favicon.ico")
def favicon():
    # Browsers ask for /favicon.ico on every page; an SVG answers it (every current browser draws one).
    return send_from_directory(current_app.static_folder or "static", "favicon.svg", mimetype="image/svg+xml",
                               max_age=86400)


@bp.route("/login", methods=["GET", "POST"])
def login():
    target = _safe_next(request.values.get("next"))
    if not (current_app.config.get("API_TOKEN") or current_app.config.get("VIEWER_TOKEN")):
        return redirect(target)
    error = None
    if request.method == "POST":
        given = request.form.get("token", "")
        if role_of_token(given) is not None:
            log_in(given)
            return redirect(target)
        error = "That token is not right."
    return render_template("login.html", error=error, next=target), (401 if error else 200)


@bp.post("/logout")
def logout():
    session.clear()
    return redirect(url_for("ui.login"))


def _safe_next(target: str | None) -> str:
    """Only local paths: a login link must not bounce the operator to another site."""
    return safe_next(target, url_for("ui.index"))
