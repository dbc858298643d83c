"""``GET /register`` (unauthenticated by design) against hostile addresses, ports and tokens.

The app allows registration from ``::1/128`` only; a trap listener on 127.0.0.1 records any
connection the app makes to it. Every hostile call must get a 4xx, the trap must stay silent,
and the good camera must keep streaming.
"""

from __future__ import annotations

import socket
from urllib.parse import quote

import pytest
from hostile_helpers import CAMERA_TOKEN, assert_no_traceback, assert_still_streaming, request_from

#: ip= values, written as sent on the wire (already percent-encoded where a browser would).
HOSTILE_IPS = [
    "::1%25x@%5B127.0.0.1",          # the SSRF: scoped IPv6 whose zone text moves the host
    "::1%25x@%5Blocalhost",          # ... to a host name
    "::1%25eth0",                    # any zone id at all
    "%5B::1%5D@127.0.0.1",
    "::1@127.0.0.1",
    "localhost",
    "127.0.0.1",                     # a plain IP, but not in ::1/128
    "::ffff:127.0.0.1",              # IPv4-mapped: unwrapped, then outside ::1/128
    "127.0.0.1:{trap}",
    "127.0.0.1/32",
    "::1/128",
    "%EF%BC%911",                    # a full-width digit '１'
    "127.0.0.%C2%B2",                # '²'
    "0x7f.0.0.1",
    "2130706433",                    # 127.0.0.1 as one number
    "0177.0.0.1",
    "169.254.169.254",
    "0.0.0.0",
    "::",
    "ff02::1",
    "%20",
    "1" * 300,
]

HOSTILE_PORTS = ["%C2%B2", "%D9%A3", "99999", "0", "-1", "%2B80", "%2080", "80%20", "1e3", "0x50", "8" * 40, ""]


@pytest.fixture(scope="module")
def trap():
    """A listener on 127.0.0.1 that the app must never connect to."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.setblocking(False)
    yield listener
    listener.close()


def _trap_untouched(trap: socket.socket) -> None:
    try:
        conn, peer = trap.accept()
    except BlockingIOError:
        return
    request = conn.recv(4096)
    conn.close()
    raise AssertionError(f"the app connected to the trap from {peer}: {request[:200]!r}")


@pytest.mark.parametrize("ip", HOSTILE_IPS)
def test_hostile_addresses_are_refused(hostile_app, trap, ip):
    port = trap.getsockname()[1]
    target = f"/register?ip={ip.format(trap=port)}&port={port}&token={quote(CAMERA_TOKEN)}"
    reply = request_from("127.0.0.1", hostile_app.app, "GET", target)
    assert reply.status in (400, 403), (reply.status, reply.body)
    body = reply.json()
    assert body["error"] and body["hint"], body
    _trap_untouched(trap)


@pytest.mark.parametrize("port", HOSTILE_PORTS)
def test_hostile_ports_are_refused(hostile_app, trap, port):
    reply = request_from("127.0.0.1", hostile_app.app, "GET",
                         f"/register?ip=::1&port={port}&token={quote(CAMERA_TOKEN)}")
    assert reply.status == 400, (reply.status, reply.body)
    assert "not a TCP port" in reply.json()["error"]


@pytest.mark.parametrize("token", ["x" * 300, "a%00b", "a%0D%0Ab", "%1B[31m"])
def test_hostile_tokens_are_refused(hostile_app, token):
    reply = request_from("127.0.0.1", hostile_app.app, "GET", f"/register?ip=::1&port=9&token={token}")
    assert reply.status == 400, (reply.status, reply.body)


def test_wrong_camera_tokens_are_limited_per_client(hostile_app, trap):
    """10 wrong tokens from one address, then 429 with Retry-After, even with the right token;
    another address with the right token registers."""
    app, port = hostile_app.app, trap.getsockname()[1]
    wrong = f"/register?ip=::1&port={port}&token=guess"
    statuses = [request_from("127.0.0.2", app, "GET", wrong).status for _ in range(10)]
    assert statuses == [403] * 10
    locked = request_from("127.0.0.2", app, "GET", f"/register?ip=::1&port={port}&token={quote(CAMERA_TOKEN)}")
    assert locked.status == 429 and int(locked.headers["Retry-After"]) >= 1, (locked.status, locked.body)
    other = request_from("127.0.0.3", app, "GET", f"/register?ip=::1&port={port}&token={quote(CAMERA_TOKEN)}")
    assert other.status == 200, other.body
    removed = app.request("DELETE", f"/api/v1/cameras/{other.json()['camera']}")
    assert removed.status_code == 200


def test_the_good_camera_streamed_through_it_all(hostile_app):
    assert_still_streaming(hostile_app.app)
    assert_no_traceback(hostile_app.app)
