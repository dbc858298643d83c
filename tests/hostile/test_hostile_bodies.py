"""Requests whose body never comes, or is too large for a stranger (round 3, rows 1 and 2), and
more slow connections than the server's limit: bodies are read in the event loop like heads, so
no unauthenticated request holds a thread, and /healthz keeps answering.

Timeouts on the probes are generous liveness bounds (the machine is shared), not speed checks.
"""

from __future__ import annotations

import socket
from contextlib import closing

import requests
from hostile_helpers import API_TOKEN, assert_no_traceback, assert_still_streaming, read_head
from test_hostile_slow import connect, status_of

from webapp.server import CONNECTIONS_PER_ADDRESS, HEAD_TIMEOUT_S, PREAUTH_BODY_BYTES, WORKER_CONNECTIONS

#: The issue's heads: a full head announcing a body that never comes (or comes as a chunk start).
STALLED_HEADS = [
    b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 20\r\n\r\n",
    b"GET /register?ip=::1&token=x HTTP/1.1\r\nHost: x\r\nContent-Length: 20\r\n\r\n",
    b"POST /api/v1/recognize HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
    b"Content-Length: 20\r\n\r\n",
    b"POST /login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nto",
]


def hang_up(socks: list[socket.socket]) -> None:
    """Close ``socks`` and wait until the server has closed its ends too, so the next test starts
    with these connections gone from the server's counts (not still being noticed)."""
    for sock in socks:
        try:
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
    for sock in socks:
        sock.settimeout(30)
        try:
            while sock.recv(65536):
                pass
        except OSError:
            pass
        sock.close()


def healthz(app) -> int:
    return requests.get(app.base + "/healthz", timeout=5).status_code


def test_bodies_that_never_come_hold_no_thread(hostile_app):
    """40 connections for each of the issue's four heads (160, from four addresses): /healthz and the
    API answer meanwhile, and each stalled request gets a 408 once its deadline has passed."""
    app = hostile_app.app
    stalled = [connect(app, f"127.0.0.{20 + n // 40}") for n in range(40 * len(STALLED_HEADS))]
    try:
        for n, sock in enumerate(stalled):
            sock.sendall(STALLED_HEADS[n // 40])
        for _ in range(5):
            assert healthz(app) == 200
        cameras = requests.get(app.base + "/api/v1/cameras", headers={"Authorization": f"Bearer {API_TOKEN}"},
                               timeout=5)
        assert cameras.status_code == 200
        assert_still_streaming(app)
        first = stalled[0]
        first.settimeout(2 * HEAD_TIMEOUT_S + 30)
        answer = read_head(first)
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
        assert b'"error"' in answer or first.recv(4096)
    finally:
        hang_up(stalled)
    assert healthz(app) == 200
    assert_no_traceback(app)


def test_a_stranger_cannot_send_a_large_body(hostile_app):
    """Without credentials a body over PREAUTH_BODY_BYTES is refused by its head (413, JSON), before
    any of it is read; with the token the same upload is read (and answered by the app)."""
    app = hostile_app.app
    big = PREAUTH_BODY_BYTES + 1
    with closing(connect(app)) as sock:
        sock.sendall(b"POST /api/v1/recognize HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
                     b"Content-Length: " + str(big).encode() + b"\r\n\r\n")
        answer = read_head(sock)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:300]
    assert b"larger bodies need credentials" in answer
    wrong = requests.post(app.base + "/api/v1/recognize", data=b"x" * big,
                          headers={"Authorization": "Bearer wrong", "Content-Type": "application/octet-stream"},
                          timeout=30)
    assert wrong.status_code == 413 and wrong.json()["hint"]
    right = requests.post(app.base + "/api/v1/recognize", files={"image": ("x.jpg", b"x" * big)},
                          headers={"Authorization": f"Bearer {API_TOKEN}"}, timeout=60)
    assert right.status_code == 400 and "not a readable image" in right.json()["error"]
    with requests.Session() as operator:          # a logged-in session counts as credentials too
        assert operator.post(app.base + "/login", data={"token": API_TOKEN}, allow_redirects=False,
                             timeout=30).status_code == 302
        by_session = operator.post(app.base + "/api/v1/recognize", files={"image": ("x.jpg", b"x" * big)}, timeout=60)
        assert by_session.status_code == 400 and "not a readable image" in by_session.json()["error"]
        real = operator.cookies["edgeface_session"]
    forged = requests.post(app.base + "/api/v1/recognize", files={"image": ("x.jpg", b"x" * big)}, timeout=60,
                           headers={"Cookie": f"edgeface_session={real[:-4]}AAAA"})
    assert forged.status_code == 413


def test_expect_100_continue_and_chunked_bodies(hostile_app):
    """``Expect: 100-continue`` is answered once by the server (not again by gunicorn), a refused
    body gets its 413 instead; chunked bodies are framed in the event loop too."""
    app = hostile_app.app
    form = b"token=wrong-but-harmless"
    with closing(connect(app, "127.0.0.30")) as sock:
        sock.sendall(b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                     b"Expect: 100-continue\r\nContent-Length: " + str(len(form)).encode() + b"\r\n\r\n")
        assert read_head(sock).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        sock.sendall(form)
        answer = read_head(sock)
        assert answer.startswith(b"HTTP/1.1 401"), answer[:300]
        assert b"100 Continue" not in answer
    with closing(connect(app, "127.0.0.30")) as sock:
        sock.sendall(b"POST /login HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 99999999\r\n\r\n")
        assert read_head(sock).startswith(b"HTTP/1.1 413")
    chunks = b"%x\r\n%s\r\n0\r\n\r\n" % (len(form), form)
    with closing(connect(app, "127.0.0.31")) as sock:
        sock.sendall(b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n" + chunks)
        assert read_head(sock).startswith(b"HTTP/1.1 401")
    with closing(connect(app, "127.0.0.31")) as sock:
        sock.sendall(b"POST /login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                     + (b"ffff\r\n" + b"a" * 0xFFFF + b"\r\n") * 2)
        assert read_head(sock).startswith(b"HTTP/1.1 413")
    for smuggled in (b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
                     b"Content-Length: 5\r\nContent-Length: 6\r\n", b"Transfer-Encoding: gzip\r\n"):
        with closing(connect(app, "127.0.0.31")) as sock:
            sock.sendall(b"POST /login HTTP/1.1\r\nHost: x\r\n" + smuggled + b"\r\nhello")
            assert read_head(sock)[:12] in (b"HTTP/1.1 400", b"HTTP/1.1 501"), smuggled


def test_more_slow_connections_than_the_limit_leave_healthz_answering(hostile_app):
    """The issue's 520 slow-header connections (the limit is 500), from 13 addresses: new
    connections take the place of the oldest waiting ones, so /healthz gets in at once."""
    app = hostile_app.app
    slow = [connect(app, f"127.0.1.{1 + n // 40}") for n in range(WORKER_CONNECTIONS + 20)]
    try:
        for sock in slow:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        for _ in range(5):
            assert healthz(app) == 200
        assert_still_streaming(app)
    finally:
        hang_up(slow)
    assert_no_traceback(app)


def test_one_address_gets_a_bounded_share_of_connections(hostile_app):
    app = hostile_app.app
    socks = [connect(app, "127.0.2.1") for _ in range(CONNECTIONS_PER_ADDRESS + 1)]
    try:
        for sock in socks[:-1]:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        assert status_of(socks[-1]) == 429
        assert healthz(app) == 200
    finally:
        hang_up(socks)
