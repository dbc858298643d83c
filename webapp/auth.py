"""Who may do what.

- ``EDGEFACE_API_TOKEN`` set: every page, feed and API call needs it — as ``Authorization: Bearer
  TOKEN`` (scripts, Prometheus) or through the login form, which sets a session cookie
  (HttpOnly, SameSite=Strict). Cookie-authenticated changes also need the page's CSRF token.
- Unset: reading is open (a lab set-up), but every change (adding/removing cameras) is refused:
  an unauthenticated API must not be able to point the app at arbitrary URLs.
- ``/healthz``, ``/readyz`` are open (probes); ``/register`` checks the camera token itself.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from flask import Flask, current_app, jsonify, redirect, request, session, url_for

OPEN_ENDPOINTS = {"ops.healthz", "ops.readyz", "ops.register", "ui.login", "static"}
#: POSTs that change nothing: recognising an uploaded image, logging in or out.
READ_ONLY_POSTS = {"api.recognize", "ui.login", "ui.logout"}
MUTATING = {"POST", "PUT", "PATCH", "DELETE"}


def init_auth(app: Flask, token: str | None, secure_cookies: bool) -> None:
    app.config["API_TOKEN"] = token
    # Derived from the token: sessions survive restarts and die when the token changes.
    app.secret_key = (hmac.new(token.encode(), b"edgeface-session-key", hashlib.sha256).digest()
                      if token else secrets.token_bytes(32))
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Strict",
                      SESSION_COOKIE_SECURE=secure_cookies, SESSION_COOKIE_NAME="edgeface_session")
    app.before_request(_check_access)


def token_matches(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def _fingerprint(token: str) -> str:
    return hashlib.sha256(b"edgeface-login:" + token.encode()).hexdigest()[:32]


def log_in(token: str) -> None:
    session.clear()
    session["auth"] = _fingerprint(token)
    session["csrf"] = secrets.token_urlsafe(24)


def csrf_token() -> str:
    return session.get("csrf", "")


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def authenticated_by() -> str | None:
    """``"bearer"``, ``"session"`` or None; always ``"open"`` when no token is configured."""
    token = current_app.config.get("API_TOKEN")
    if not token:
        return "open"
    if token_matches(_bearer(), token):
        return "bearer"
    if session.get("auth") and hmac.compare_digest(session["auth"], _fingerprint(token)):
        return "session"
    return None


def _check_access():
    endpoint = request.endpoint or ""
    if endpoint in OPEN_ENDPOINTS:
        return None
    how = authenticated_by()
    if how is None:
        if endpoint.startswith("ui."):
            return redirect(url_for("ui.login", next=request.full_path.rstrip("?")))
        return _deny(401, "authentication required", "send 'Authorization: Bearer <EDGEFACE_API_TOKEN>'")
    if request.method in MUTATING and endpoint not in READ_ONLY_POSTS:
        if how == "open":
            return _deny(403, "changes are disabled because no API token is configured",
                         "set EDGEFACE_API_TOKEN on the server and send it as a bearer token")
        if how == "session" and not token_matches(request.headers.get("X-CSRF-Token"), csrf_token() or "\0"):
            return _deny(403, "missing or wrong CSRF token", "reload the page and try again")
    return None


def _deny(status: int, message: str, hint: str):
    response = jsonify(error=message, hint=hint)
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="edgeface"'
    return response
