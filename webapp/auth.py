"""Who may do what.

- ``EDGEFACE_API_TOKEN`` set: every page, feed and API call needs it — as ``Authorization: Bearer
  TOKEN`` (scripts, Prometheus) or through the login form, which sets a session cookie
  (HttpOnly, SameSite=Strict). Cookie-authenticated changes also need the page's CSRF token.
- Unset: reading is open (a lab set-up), but every change (adding/removing cameras) is refused:
  an unauthenticated API must not be able to point the app at arbitrary URLs.
- ``/healthz``, ``/readyz`` are open (probes); ``/register`` checks the camera token itself.
- Wrong secrets are limited per client address (``webapp.ratelimit``): after 10 wrong API or
  login tokens (or camera tokens, counted apart) in a minute, that address gets 429.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from urllib.parse import urlsplit

from flask import Flask, current_app, jsonify, redirect, request, session, url_for

from webapp.ratelimit import FailureLimiter

OPEN_ENDPOINTS = {"ops.healthz", "ops.readyz", "ops.register", "ui.login", "static"}
#: POSTs that change nothing: recognising an uploaded image, logging in or out.
READ_ONLY_POSTS = {"api.recognize", "ui.login", "ui.logout"}
MUTATING = {"POST", "PUT", "PATCH", "DELETE"}
#: Failure limiters by the secret they guard: the API token (bearer or login form), the camera token.
LIMITED_SECRETS = ("api", "camera")
MAX_NEXT_LENGTH = 2048


def init_auth(app: Flask, token: str | None, secure_cookies: bool) -> None:
    app.config["API_TOKEN"] = token
    # Derived from the token: sessions survive restarts and die when the token changes.
    app.secret_key = (hmac.new(token.encode(), b"edgeface-session-key", hashlib.sha256).digest()
                      if token else secrets.token_bytes(32))
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Strict",
                      SESSION_COOKIE_SECURE=secure_cookies, SESSION_COOKIE_NAME="edgeface_session")
    app.extensions["edgeface_limits"] = {kind: FailureLimiter() for kind in LIMITED_SECRETS}
    app.before_request(_check_access)


def limiter(kind: str) -> FailureLimiter:
    return current_app.extensions["edgeface_limits"][kind]


def too_many_failures(kind: str):
    """A 429 response if this client has used up its wrong guesses of ``kind``, else None."""
    wait = limiter(kind).retry_after(request.remote_addr or "")
    if wait is None:
        return None
    response = _deny(429, "too many wrong tokens from this address", f"wait {wait} s before trying again")
    response.headers["Retry-After"] = str(wait)
    return response


def count_failure(kind: str) -> None:
    limiter(kind).failed(request.remote_addr or "")


def safe_next(target: str | None, fallback: str = "/") -> str:
    """``target`` if it is a path on this site, else ``fallback``: a login link must not bounce
    the operator to another site, nor put a line break into a header.

    Browsers drop tabs and line breaks from URLs and read ``\\`` as ``/``, so ``/%09/evil.example``
    (a tab once decoded) means ``//evil.example``: control characters, whitespace and backslashes
    make the target refused.
    """
    if not target or len(target) > MAX_NEXT_LENGTH or target.startswith("//"):
        return fallback
    if any(ch == "\\" or ch.isspace() or not ch.isprintable() for ch in target):
        return fallback
    try:
        parts = urlsplit(target)
    except ValueError:
        return fallback
    if parts.scheme or parts.netloc or not parts.path.startswith("/"):
        return fallback
    return target


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
    limited = _limit_token_guesses(endpoint)
    if limited is not None:
        return limited
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


def _limit_token_guesses(endpoint: str):
    """429 for a client out of guesses; otherwise count this request's wrong API token, if any.

    Attempts are a bearer header on any route, and the login form's POST (the view checks the
    token again to answer it).
    """
    token = current_app.config.get("API_TOKEN")
    login = endpoint == "ui.login" and request.method == "POST"
    given = request.form.get("token", "") if login else _bearer()
    if not token or (given is None and not login):
        return None
    limited = too_many_failures("api")
    if limited is None and not token_matches(given, token):
        count_failure("api")
    return limited


def _deny(status: int, message: str, hint: str):
    response = jsonify(error=message, hint=hint)
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="edgeface"'
    return response
