"""HTTP slowness and many viewers (issue 13, item 4), against a running app: slow-header clients
and stream viewers must not take the threads that /healthz and the API answer on."""

from __future__ import annotations

import socket
import threading
import time
from urllib.parse import urlsplit

import requests
from hostile_helpers import API_TOKEN, assert_no_traceback, assert_still_streaming
from webapp_helpers import wait_until

from edgeface.settings import HttpSettings, default
from webapp.blueprints.feeds import PER_CLIENT, RESERVED_THREADS
from webapp.server import HEAD_TIMEOUT_S

SLOW_CLIENTS = 40
LINE_EVERY_S = 2.0


def connect(app, source_ip: str = "127.0.0.1") -> socket.socket:
    parts = urlsplit(app.base)
    return socket.create_connection((parts.hostname, parts.port), timeout=30, source_address=(source_ip, 0))


def status_of(sock: socket.socket) -> int:
    """The status code of the response arriving on ``sock`` (reads only its first line)."""
    line = b""
    while not line.endswith(b"\r\n"):
        byte = sock.recv(1)
        if not byte:
            raise ConnectionError(f"closed after {line!r}")
        line += byte
    return int(line.split()[1])


def open_viewer(app, source_ip: str, camera_id: str) -> tuple[socket.socket, int]:
    """A stream viewer that never reads past the status line (a slow one, too)."""
    sock = connect(app, source_ip)
    sock.sendall(f"GET /video_feed/{camera_id} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {API_TOKEN}\r\n\r\n"
                 .encode())
    return sock, status_of(sock)


class SlowHeaders:
    """``count`` clients that send a request line, then one header line every few seconds."""

    def __init__(self, app, count: int):
        self.socks = [connect(app) for _ in range(count)]
        for sock in self.socks:
            sock.sendall(b"GET /healthz HTTP/1.1\r\n")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._drip, daemon=True)
        self._thread.start()

    def _drip(self) -> None:
        while not self._stop.wait(LINE_EVERY_S):
            for sock in self.socks:
                try:
                    sock.sendall(b"X-Slow: 1\r\n")
                except OSError:
                    pass

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        for sock in self.socks:
            sock.close()


def test_slow_headers_and_many_viewers_leave_health_and_api_answering(hostile_app):
    app, camera = hostile_app.app, hostile_app.camera_id
    total = default(HttpSettings, "threads") - RESERVED_THREADS     # the app runs with the default
    slow = SlowHeaders(app, SLOW_CLIENTS)
    viewers: list[socket.socket] = []
    try:
        # One greedy client: PER_CLIENT streams, then 429.
        greedy = [open_viewer(app, "127.0.0.50", camera) for _ in range(PER_CLIENT + 2)]
        assert [s for _, s in greedy] == [200] * PER_CLIENT + [429] * 2
        # Thirty more from ten addresses: streams up to the total, then 503.
        others = [open_viewer(app, f"127.0.0.{60 + i % 10}", camera) for i in range(30)]
        statuses = [s for _, s in others]
        assert statuses == [200] * (total - PER_CLIENT) + [503] * (30 - total + PER_CLIENT), statuses
        viewers = [sock for sock, _ in greedy + others]
        started = time.monotonic()
        health = requests.get(app.base + "/healthz", timeout=1)
        cameras = requests.get(app.base + "/api/v1/cameras", headers={"Authorization": f"Bearer {API_TOKEN}"},
                               timeout=1)
        assert health.status_code == cameras.status_code == 200, (health.text, cameras.text)
        assert time.monotonic() - started < 2
        assert_still_streaming(app, camera)
    finally:
        slow.close()
        for sock in viewers:
            sock.close()
    # Streams closed by their clients give their slots back.
    def a_stream():
        sock, status = open_viewer(app, "127.0.0.50", camera)
        sock.close()
        return status == 200
    wait_until(a_stream, what="a stream slot to come free")
    assert_no_traceback(app)


def test_a_head_that_never_ends_is_closed(hostile_app):
    """408 once HEAD_TIMEOUT_S have passed without a whole head; 431 for a head over the size limit."""
    app = hostile_app.app
    dripping = connect(app)
    dripping.sendall(b"GET /healthz HTTP/1.1\r\n")
    huge = connect(app)
    huge.sendall(b"GET /healthz HTTP/1.1\r\n" + b"X-Big: " + b"a" * 70_000)
    assert status_of(huge) == 431
    dripping.settimeout(HEAD_TIMEOUT_S + 20)
    assert status_of(dripping) == 408
    dripping.close()
    huge.close()
    assert requests.get(app.base + "/healthz", timeout=5).status_code == 200
