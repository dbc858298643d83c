"""Roles: the admin token changes things, the viewer token watches and searches (403 on every
change), the login form takes either, and no token reaches a page or a log."""

from __future__ import annotations

import logging
import re

import pytest
from console_helpers import ADMIN, VIEWER
from flask import Flask, jsonify
from pydantic import ValidationError

from edgeface.errors import ConfigError
from edgeface.settings import HttpSettings, Settings, load
from webapp.auth import init_auth, require_admin, require_viewer

PAGES = ["/", "/events", "/events?camera=door&unknown=true", "/events/no-such-event", "/people",
         "/people/Barack Obama", "/unknown", "/timeline", "/timeline?camera=door&day=2026-12-07&name=Unknown"]
#: Every kind of change the API offers (some routes may answer 404 for the admin: the
#: point is that the viewer never gets past the role check).
CHANGES = [("POST", "/api/v1/cameras", {"url": "rtsp://127.0.0.1:9/x"}), ("DELETE", "/api/v1/cameras/door", None),
           ("PATCH", "/api/v1/cameras/door", {"name": "Front door"}),
           ("POST", "/api/v1/events/e1/label", {"name": "Jane Doe"}),
           ("DELETE", "/api/v1/people/Barack Obama/history", None),
           ("POST", "/api/v1/events/e1/not", {}), ("DELETE", "/api/v1/people/Barack Obama/photos/0", None),
           ("POST", "/api/v1/strangers/1/label", {"name": "Jane Doe"}),
           ("POST", "/api/v1/strangers/1/merge", {"into": 2}),
           ("DELETE", "/api/v1/corrections/abc", None)]


def bearer(token: str) -> dict:
    return {"Authorization": "Bearer " + token}


def log_in(client, token: str) -> str:
    """Log in through the form; the CSRF token of the page that follows."""
    response = client.post("/login", data={"token": token, "next": "/"})
    assert response.status_code == 302 and response.headers["Location"] == "/"
    page = client.get("/")
    assert page.status_code == 200
    found = re.search(r'name="csrf-token" content="([^"]+)"', page.text)
    assert found, "the page has no CSRF token"
    return found.group(1)


def test_viewer_bearer_reads_everything_and_changes_nothing(make_app, caplog):
    caplog.set_level(logging.DEBUG)
    client = make_app().test_client()
    assert client.get("/api/v1/cameras", headers=bearer(VIEWER)).status_code == 200
    assert client.get("/api/v1/events", headers=bearer(VIEWER)).status_code == 200
    assert client.get("/api/v1/model", headers=bearer(VIEWER)).status_code == 200
    for method, path, body in CHANGES:
        refused = client.open(path, method=method, json=body, headers=bearer(VIEWER))
        assert refused.status_code == 403, (method, path)
        assert "viewer" in refused.json["error"] and "EDGEFACE_API_TOKEN" in refused.json["hint"]
    added = client.post("/api/v1/cameras", json={"url": "rtsp://127.0.0.1:9/x", "id": "door"}, headers=bearer(ADMIN))
    assert added.status_code == 201, "the admin token no longer changes things"
    assert client.get("/api/v1/cameras", headers=bearer(VIEWER)).json["cameras"][0]["id"] == "door"
    assert client.delete("/api/v1/cameras/door", headers=bearer(VIEWER)).status_code == 403
    assert client.delete("/api/v1/cameras/door", headers=bearer(ADMIN)).status_code == 200
    assert client.get("/api/v1/cameras").status_code == 401
    assert client.get("/api/v1/cameras", headers=bearer("not-a-token")).status_code == 401
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert ADMIN not in logged and VIEWER not in logged


def test_viewer_session_sees_every_page_read_only(make_app):
    client = make_app().test_client()
    assert client.get("/events").status_code == 302, "a page was shown without logging in"
    csrf = log_in(client, VIEWER)
    for path in PAGES:
        page = client.get(path)
        assert page.status_code == 200, path
        assert VIEWER not in page.text and ADMIN not in page.text
        assert 'data-can-change=""' in page.text and "viewer (read-only)" in page.text, path
        assert 'id="add-camera"' not in page.text
    for method, path, body in CHANGES:   # even with the page's CSRF token
        assert client.open(path, method=method, json=body, headers={"X-CSRF-Token": csrf}).status_code == 403
    assert client.get("/cameras/nowhere").status_code == 404
    client.post("/logout")
    assert client.get("/api/v1/cameras").status_code == 401


def test_admin_session_changes_with_csrf_only(make_app):
    client = make_app().test_client()
    csrf = log_in(client, ADMIN)
    page = client.get("/")
    assert 'data-can-change="yes"' in page.text and 'id="add-camera"' in page.text
    body = {"url": "rtsp://127.0.0.1:9/x", "id": "door"}
    assert client.post("/api/v1/cameras", json=body).status_code == 403
    assert client.post("/api/v1/cameras", json=body, headers={"X-CSRF-Token": csrf}).status_code == 201
    camera_page = client.get("/cameras/door")
    assert camera_page.status_code == 200 and "<fieldset >" in camera_page.text, "settings not editable for admin"
    assert client.delete("/api/v1/cameras/door", headers={"X-CSRF-Token": csrf}).status_code == 200


def test_login_refuses_a_wrong_token_and_the_favicon_needs_none(make_app):
    client = make_app().test_client()
    wrong = client.post("/login", data={"token": "guess"})
    assert wrong.status_code == 401 and "not right" in wrong.text and "guess" not in wrong.text
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.mimetype == "image/svg+xml" and b"<svg" in icon.data
    login_page = client.get("/login")
    assert "admin or viewer" in login_page.text


def test_without_tokens_pages_are_open_and_read_only(make_app):
    client = make_app(api_token=None, viewer_token=None).test_client()
    page = client.get("/unknown")
    assert page.status_code == 200 and 'data-can-change=""' in page.text
    assert "Log out" not in page.text
    assert client.post("/api/v1/cameras", json={"url": "rtsp://127.0.0.1:9/x"}).status_code == 403


def test_only_a_viewer_token_makes_everything_read_only(make_app):
    client = make_app(api_token=None).test_client()
    assert client.get("/api/v1/cameras").status_code == 401
    assert client.get("/api/v1/cameras", headers=bearer(VIEWER)).status_code == 200
    refused = client.post("/api/v1/cameras", json={"url": "rtsp://127.0.0.1:9/x"}, headers=bearer(VIEWER))
    assert refused.status_code == 403


def test_one_token_for_both_roles_is_refused_at_start(sample_model):
    with pytest.raises(ConfigError, match="EDGEFACE_VIEWER_TOKEN") as refused:
        load({"EDGEFACE_API_TOKEN": ADMIN, "EDGEFACE_VIEWER_TOKEN": ADMIN})
    assert ADMIN not in str(refused.value)
    assert load({"EDGEFACE_API_TOKEN": ADMIN, "EDGEFACE_VIEWER_TOKEN": VIEWER}).http.viewer_token is not None
    with pytest.raises(ValidationError, match="EDGEFACE_API_TOKEN"):     # settings made in code: checked alike
        Settings(http=HttpSettings(api_token=ADMIN, viewer_token=ADMIN))


def test_role_decorators():
    app = Flask(__name__)
    init_auth(app, ADMIN, secure_cookies=False, viewer_token=VIEWER)

    @app.get("/watch")
    @require_viewer
    def watch():
        return jsonify(ok=True)

    @app.post("/change")
    @require_admin
    def change():
        return jsonify(ok=True)

    client = app.test_client()
    assert client.get("/watch").status_code == 401
    assert client.get("/watch", headers=bearer(VIEWER)).status_code == 200
    assert client.post("/change", headers=bearer(VIEWER)).status_code == 403
    assert client.post("/change", headers=bearer(ADMIN)).status_code == 200
    # Without the app-wide check the decorators alone still hold.
    app.before_request_funcs.clear()
    assert client.post("/change", headers=bearer(VIEWER)).status_code == 403
    assert client.get("/watch").status_code == 401
