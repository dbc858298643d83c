"""Hostile RTSP servers (round 3, row 3): endless header lines, endless lines, a redirect to
itself, answers that are not RTSP, an SDP of a gigabyte. Each is a real server on loopback; the
app's check of an RTSP camera (``rtsp.check``, asked before FFmpeg opens it) ends each with a
clear error, reads a bounded amount, and never raises."""

from __future__ import annotations

import logging
import socket
import socketserver
import threading

import pytest
from camera_helpers import wait_until
from hostile_helpers import read_head

from edgeface.cameras import rtsp
from edgeface.cameras.mjpeg import StreamError
from edgeface.cameras.registry import CameraRegistry

#: What the server may send before giving up on a client that never stops reading.
SEND_AT_MOST = 64 * 2**20


class HostileRtsp(socketserver.ThreadingTCPServer):
    """Reads a request head, then answers as ``mode`` says; counts connections and bytes sent."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, mode: str):
        self.mode = mode
        self.connections = 0
        self.sent = 0
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"rtsp://127.0.0.1:{self.server_address[1]}/stream"

    def close(self) -> None:
        self.shutdown()
        self.server_close()


class _Handler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        server: HostileRtsp = self.server  # type: ignore[assignment]
        with server.lock:
            server.connections += 1
        sock: socket.socket = self.request
        if not read_head(sock).endswith(b"\r\n\r\n"):
            return
        try:
            for chunk in _answer(server.mode, server.url):
                sock.sendall(chunk)
                with server.lock:
                    server.sent += len(chunk)
                if server.sent > SEND_AT_MOST:
                    return
        except OSError:
            return          # the client hung up: what we want


def _answer(mode: str, url: str):
    if mode == "endless-headers":
        yield b"RTSP/1.0 200 OK\r\nCSeq: 1\r\n"
        while True:
            yield b"X-Pad: 1\r\n" * 6000
    elif mode == "endless-line":
        yield b"RTSP/1.0 200 OK\r\nX-Pad: "
        while True:
            yield b"a" * 65536
    elif mode == "redirect-self":
        yield f"RTSP/1.0 302 Found\r\nCSeq: 1\r\nLocation: {url}\r\n\r\n".encode()
    elif mode == "http":
        yield b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
    elif mode == "bad-status":
        yield b"RTSP/1.0 abc OK\r\nCSeq: 1\r\n\r\n"
    elif mode == "garbage":
        yield bytes(range(256)) * 8
    elif mode == "huge-sdp":
        yield b"RTSP/1.0 200 OK\r\nCSeq: 1\r\nContent-Length: 999999999999\r\n\r\n"
        while True:
            yield b"v=0\r\n" * 10000


CASES = [
    ("endless-headers", "more than 64 header lines"),
    ("endless-line", "header line over 4096 bytes"),
    ("redirect-self", "redirects are not followed"),
    ("http", "not an RTSP server"),
    ("bad-status", "not an RTSP server"),
    ("garbage", "not an RTSP server"),
    ("huge-sdp", "announces a body of"),
]


@pytest.mark.parametrize("mode,words", CASES, ids=[c[0] for c in CASES])
def test_a_hostile_answer_is_a_clear_error_after_a_bounded_read(mode, words):
    server = HostileRtsp(mode)
    try:
        for ask in (rtsp.check, rtsp.diagnose):
            error = ask(server.url, 5.0)
            assert isinstance(error, StreamError), error
            assert words in error.message and error.hint, error.message
        # The client hung up long before the server ran out (socket buffers hold a few MB at most).
        wait_until(lambda: server.connections == 2, what="both connections")
        assert server.sent < 16 * 2**20, server.sent
    finally:
        server.close()


def test_a_redirect_loop_costs_one_connection_and_no_traceback(caplog):
    """The issue's 302-to-itself server got 24 188 connections in 25 s (FFmpeg follows without end):
    the camera now fails with a clear error before FFmpeg opens it (and retries with backoff)."""
    server = HostileRtsp("redirect-self")
    registry = CameraRegistry()
    caplog.set_level(logging.INFO)
    try:
        camera_id = registry.add(server.url)
        camera = registry.get(camera_id)
        status = wait_until(lambda: (s := camera.status())["error"] and s, what="the camera's error")
        assert "redirects are not followed" in status["error"], status
        # FFmpeg never opened it: it would have connected thousands of times before giving up.
        assert server.connections == 1, server.connections
    finally:
        registry.close()
        server.close()
    assert not [r for r in caplog.records if r.exc_info], [r.getMessage() for r in caplog.records if r.exc_info]
