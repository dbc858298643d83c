"""Who may do what: two roles, each with its own token.

- **admin** (``EDGEFACE_API_TOKEN``): everything. **viewer** (``EDGEFACE_VIEWER_TOKEN``): every
  page, feed and GET (watch and search); every change answers 403.
- With a token set, every page, feed and API call needs one of them — as ``Authorization: Bearer
  TOKEN`` (scripts, Prometheus) or through the login form (either token), which sets a session
  cookie (HttpOnly, SameSite=Strict) holding a fingerprint of the token, never the token.
  Cookie-authenticated changes also need the page's CSRF token.
- No token set: reading is open (a lab set-up), but every change (adding/removing cameras) is
  refused: an unauthenticated API must not be able to point the app at arbitrary URLs.
- ``require_admin`` / ``require_viewer`` state a view's role where it is written; the same rules
  also hold for every view through ``_check_access``.
- ``/healthz``, ``/readyz`` are open (probes); ``/register`` checks the camera token itself.
- Wrong secrets are limited per client address (``webapp.ratelimit``): after 10 wrong API or
  login tokens (or camera tokens, counted apart) in a minute, that address gets 429; past 5 a
  second from everyone together, only addresses that gave a right token before may try.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from collections.abc import Callable
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

from flask import Flask, current_app, jsonify, redirect, request, session, url_for
from itsdangerous import BadSignature
from werkzeug.http import parse_cookie

from edgeface.errors import ConfigError
from webapp.ratelimit import FailureLimiter

OPEN_ENDPOINTS = {"ops.healthz", "ops.readyz", "ops.register", "ui.login", "ui.favicon", "static"}
#: POSTs that change nothing: recognising an uploaded image, logging in or out.
READ_ONLY_POSTS = {"api.recognize", "ui.login", "ui.logout"}
MUTATING = {"POST", "PUT", "PATCH", "DELETE"}
#: Failure limiters by the secret they guard: the API token (bearer or login form), the camera token.
LIMITED_SECRETS = ("api", "camera")
MAX_NEXT_LENGTH = 2048

Role = Literal["admin", "viewer"]
#: Who may do what, lowest first: a role may do what every role before it may.
ROLES: tuple[Role, ...] = ("viewer", "admin")
View = TypeVar("View", bound=Callable[..., Any])


def init_auth(app: Flask, token: str | None, secure_cookies: bool, viewer_token: str | None = None) -> None:
    if viewer_token and token and token_matches(viewer_token, token):
        # One secret for both would make every viewer an admin.
        raise ConfigError("EDGEFACE_VIEWER_TOKEN is the same as EDGEFACE_API_TOKEN",
                          "give viewers a token of their own: with one secret for both, every viewer is an admin")
    app.config["API_TOKEN"] = token
    app.config["VIEWER_TOKEN"] = viewer_token
    secret = "\0".join(t or "" for t in (token, viewer_token))
    # Derived from the tokens: sessions survive restarts and die when a token changes.
    app.secret_key = (hmac.new(secret.encode(), b"edgeface-session-key", hashlib.sha256).digest()
                      if token or viewer_token else secrets.token_bytes(32))
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


def count_success(kind: str) -> None:
    limiter(kind).succeeded(request.remote_addr or "")


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


def _tokens(config: Any = None) -> dict[Role, str]:
    """The configured tokens by role (of the current app, or of the app ``config`` belongs to)."""
    config = current_app.config if config is None else config
    pairs: tuple[tuple[Role, str | None], ...] = (("admin", config.get("API_TOKEN")),
                                                   ("viewer", config.get("VIEWER_TOKEN")))
    return {role: token for role, token in pairs if token}


def role_of_token(given: str | None) -> Role | None:
    """The role ``given`` is the token of, or None (each compare in constant time)."""
    found: Role | None = None
    for role, token in _tokens().items():
        if token_matches(given, token):
            found = role
    return found


def head_authenticated(app: Flask, authorization: str | None, cookie: str | None) -> bool:
    """Whether a request head (not yet its body) carries a configured token, as a bearer or a
    session of it; True when no token is configured (reading is open). The server asks before
    it reads a body larger than ``webapp.server.PREAUTH_BODY_BYTES``."""
    tokens = _tokens(app.config)
    if not tokens:
        return True
    scheme, _, value = (authorization or "").partition(" ")
    if scheme.lower() == "bearer" and any(token_matches(value.strip(), t) for t in tokens.values()):
        return True
    raw = parse_cookie(cookie or "").get(app.config["SESSION_COOKIE_NAME"])
    serializer = app.session_interface.get_signing_serializer(app)   # type: ignore[attr-defined]
    if not raw or serializer is None:
        return False
    try:
        stored = serializer.loads(raw).get("auth")
    except (BadSignature, AttributeError):
        return False
    return isinstance(stored, str) and any(hmac.compare_digest(stored, _fingerprint(t)) for t in tokens.values())


def log_in(token: str) -> None:
    """Start a session for ``token`` (already checked with ``role_of_token``)."""
    session.clear()
    session["auth"] = _fingerprint(token)
    session["csrf"] = secrets.token_urlsafe(24)


def csrf_token() -> str:
    return session.get("csrf", "")


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def _credentials() -> tuple[str, Role] | None:
    """(how, role) of this request: ``"bearer"`` or ``"session"``; None when neither holds a
    configured token. No token configured: ``("open", "viewer")`` (reading only)."""
    tokens = _tokens()
    if not tokens:
        return "open", "viewer"
    role = role_of_token(_bearer())
    if role is not None:
        return "bearer", role
    stored = session.get("auth")
    if isinstance(stored, str):
        for role, token in tokens.items():
            if hmac.compare_digest(stored, _fingerprint(token)):
                return "session", role
    return None


def authenticated_by() -> str | None:
    """``"bearer"``, ``"session"`` or None; always ``"open"`` when no token is configured."""
    found = _credentials()
    return found[0] if found else None


def current_role() -> Role | None:
    """``"admin"``, ``"viewer"`` (also: anyone, when no token is configured) or None."""
    found = _credentials()
    return found[1] if found else None


def is_admin() -> bool:
    return current_role() == "admin"


def _refusal(needed: Role, changes: bool):
    """The response refusing this request unless its credentials hold the ``needed`` role (and,
    for a cookie-authenticated change, the CSRF token); None when it may go on."""
    found = _credentials()
    if found is None:
        if (request.endpoint or "").startswith("ui.") and request.method == "GET":
            return redirect(url_for("ui.login", next=request.full_path.rstrip("?")))
        return _deny(401, "authentication required",
                     "send 'Authorization: Bearer <EDGEFACE_API_TOKEN or EDGEFACE_VIEWER_TOKEN>'")
    how, role = found
    if ROLES.index(role) < ROLES.index(needed):
        if how == "open":
            return _deny(403, "changes are disabled because no API token is configured",
                         "set EDGEFACE_API_TOKEN on the server and send it as a bearer token")
        return _deny(403, "the viewer token can watch and search but not change anything",
                     "log in with the admin token (EDGEFACE_API_TOKEN)")
    if (how == "session" and changes
            and not token_matches(request.headers.get("X-CSRF-Token"), csrf_token() or "\0")):
        return _deny(403, "missing or wrong CSRF token", "reload the page and try again")
    return None


def _requiring(needed: Role) -> Callable[[View], View]:
    def decorate(view: View) -> View:
        @functools.wraps(view)
        def checked(*args: Any, **kwargs: Any) -> Any:
            refused = _refusal(needed, request.method in MUTATING)
            return refused if refused is not None else view(*args, **kwargs)
        return checked  # type: ignore[return-value]
    return decorate


#: View decorators: the request must hold the admin token / either token (see the module doc).
require_admin = _requiring("admin")
require_viewer = _requiring("viewer")


def _check_access():
    endpoint = request.endpoint or ""
    limited = _limit_token_guesses(endpoint)
    if limited is not None:
        return limited
    if endpoint in OPEN_ENDPOINTS:
        return None
    changes = request.method in MUTATING and endpoint not in READ_ONLY_POSTS
    return _refusal("admin" if changes else "viewer", changes)


def _limit_token_guesses(endpoint: str):
    """429 for a client out of guesses; otherwise count this request's wrong API token, if any.

    Attempts are a bearer header on any route, and the login form's POST (the view checks the
    token again to answer it). Either role's token is a right guess.
    """
    login = endpoint == "ui.login" and request.method == "POST"
    given = request.form.get("token", "") if login else _bearer()
    if not _tokens() or (given is None and not login):
        return None
    limited = too_many_failures("api")
    if limited is None:
        if role_of_token(given) is None:
            count_failure("api")
        else:
            count_success("api")
    return limited


def _deny(status: int, message: str, hint: str):
    response = jsonify(error=message, hint=hint)
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="edgeface"'
    return response
