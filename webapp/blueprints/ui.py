"""Operator pages: the camera grid, one page per camera, and the login form."""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for

from webapp.auth import csrf_token, log_in, safe_next, token_matches
from webapp.blueprints.common import service

bp = Blueprint("ui", __name__)


def _page(template: str, **context):
    return render_template(template, csrf=csrf_token(), model=service().model_status(),
                           can_change=bool(current_app.config.get("API_TOKEN")), **context)


@bp.get("/")
def index():
    return _page("index.html")


@bp.get("/cameras/<camera_id>")
def camera(camera_id: str):
    if service().camera(camera_id) is None:
        return _page("missing.html", camera_id=camera_id), 404
    return _page("camera.html", camera_id=camera_id)


@bp.route("/login", methods=["GET", "POST"])
def login():
    token = current_app.config.get("API_TOKEN")
    target = _safe_next(request.values.get("next"))
    if not token:
        return redirect(target)
    error = None
    if request.method == "POST":
        if token_matches(request.form.get("token", ""), token):
            log_in(token)
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
