"""Login and API-token attacks: open redirects, header injection, token guessing."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hostile_helpers import API_TOKEN, assert_no_traceback, assert_still_streaming, request_from

from webapp.auth import safe_next
from webapp.ratelimit import FailureLimiter

FORM = {"Content-Type": "application/x-www-form-urlencoded"}

#: next= values as sent on the wire, after a correct login: each must land on this site.
HOSTILE_NEXT = [
    "/%09/evil.example",        # the reproduction: the tab is dropped by browsers
    "/%0D%0A/x",                # CRLF: was a 500 (and the session cookie set anyway)
    "/%0D%0ASet-Cookie:%20a=b",
    "//evil.example",
    "///evil.example",
    "/%5Cevil.example",         # '/\\evil.example': browsers read the backslash as a slash
    "%5C%5Cevil.example",
    "https://evil.example/",
    "javascript:alert(1)",
    "/%00",
    "%20//evil.example",
    "/" + "a" * 5000,
    "http:evil.example",
]


@pytest.mark.parametrize("target", HOSTILE_NEXT)
def test_login_redirects_only_to_local_paths(hostile_app, target):
    reply = request_from("127.0.0.1", hostile_app.app, "POST", "/login",
                         body=f"token={quote(API_TOKEN)}&next={target}", headers=FORM)
    assert reply.status == 302, (reply.status, reply.body[:300])
    assert reply.headers["Location"] == "/", reply.headers["Location"]
    assert "edgeface_session=" in reply.headers.get("Set-Cookie", "")


@pytest.mark.parametrize("target", ["/cameras/good", "/cameras/good?x=1", "/api/v1/cameras"])
def test_login_keeps_local_targets(hostile_app, target):
    reply = request_from("127.0.0.1", hostile_app.app, "POST", "/login",
                         body=f"token={quote(API_TOKEN)}&next={quote(target)}", headers=FORM)
    assert reply.status == 302 and reply.headers["Location"] == target


@pytest.mark.parametrize("target", ["/%0D%0A/x", "//evil.example"])
def test_failed_login_sets_no_cookie(hostile_app, target):
    reply = request_from("127.0.0.6", hostile_app.app, "POST", "/login",
                         body=f"token=wrong&next={target}", headers=FORM)
    assert reply.status == 401
    assert "Set-Cookie" not in reply.headers


def test_wrong_bearer_tokens_are_limited_per_client(hostile_app):
    app = hostile_app.app
    wrong = {"Authorization": "Bearer guess"}
    statuses = [request_from("127.0.0.4", app, "GET", "/api/v1/cameras", headers=wrong).status for _ in range(10)]
    assert statuses == [401] * 10
    locked = request_from("127.0.0.4", app, "GET", "/api/v1/cameras", headers={"Authorization": f"Bearer {API_TOKEN}"})
    assert locked.status == 429 and int(locked.headers["Retry-After"]) >= 1
    assert "too many wrong tokens" in locked.json()["error"]
    other = request_from("127.0.0.5", app, "GET", "/api/v1/cameras", headers={"Authorization": f"Bearer {API_TOKEN}"})
    assert other.status == 200


def test_wrong_login_tokens_are_limited_per_client(hostile_app):
    app = hostile_app.app
    statuses = [request_from("127.0.0.7", app, "POST", "/login", body="token=guess", headers=FORM).status
                for _ in range(10)]
    assert statuses == [401] * 10
    locked = request_from("127.0.0.7", app, "POST", "/login", body=f"token={quote(API_TOKEN)}", headers=FORM)
    assert locked.status == 429 and "Set-Cookie" not in locked.headers
    other = request_from("127.0.0.8", app, "POST", "/login", body=f"token={quote(API_TOKEN)}", headers=FORM)
    assert other.status == 302


def test_the_good_camera_streamed_through_it_all(hostile_app):
    assert_still_streaming(hostile_app.app)
    assert_no_traceback(hostile_app.app)


# -- the pieces, with a clock the test controls ------------------------------------------------

@pytest.mark.parametrize("target", ["/\t/evil.example", "/\r\n/x", "/\\evil", "\\\\evil", "//x", "http://x/",
                                    "x", "", None, "/\u2028x", "/\u00a0x", "/" + "a" * 3000])
def test_safe_next_refuses(target):
    assert safe_next(target, "/home") == "/home"


def test_limiter_refills_and_forgets_the_oldest_clients():
    now = [0.0]
    limiter = FailureLimiter(10, 60.0, max_clients=3, clock=lambda: now[0])
    for _ in range(10):
        assert limiter.retry_after("a") is None
        limiter.failed("a")
    assert limiter.retry_after("a") == 6          # one guess back every 6 s
    assert limiter.retry_after("b") is None        # other clients are unaffected
    now[0] = 6.0
    assert limiter.retry_after("a") is None
    limiter.failed("a")
    assert limiter.retry_after("a") == 6
    for client in ("b", "c", "d"):
        limiter.failed(client)
    assert limiter.clients() == 3                  # "a" failed longest ago: forgotten
    assert limiter.retry_after("a") is None
