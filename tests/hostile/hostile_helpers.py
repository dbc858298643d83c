"""What the hostile-input tests share: the app's secrets, a client on another loopback address,
and the checks every attack ends with (the good camera still streams, no traceback logged)."""

from __future__ import annotations

import http.client
import json
import secrets
import socket
from urllib.parse import urlsplit

from webapp_helpers import App, wait_until

from edgeface.jpegmeta import SOF_MARKERS

API_TOKEN = "hostile-api-" + secrets.token_urlsafe(12)
CAMERA_TOKEN = "hostile-cam-" + secrets.token_urlsafe(12)
#: ``hostile_app``'s uploads engine stops after this long without an upload.
UPLOADS_ENGINE_IDLE_S = 4.0
#: The "router" of the ``router_app`` fixture: the one peer whose X-Forwarded-For that app believes.
ROUTER = "127.0.0.9"


class Reply:
    """Status, headers and body of one request (what ``http.client`` read)."""

    def __init__(self, response: http.client.HTTPResponse):
        self.status = response.status
        self.headers = response.headers
        self.body = response.read()

    def json(self) -> dict:
        return json.loads(self.body)


def request_from(source_ip: str, app: App, method: str, target: str, body: str | None = None,
                 headers: dict | None = None) -> Reply:
    """One request to ``app`` from ``source_ip`` (any 127.x address), the path sent byte for byte."""
    parts = urlsplit(app.base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30, source_address=(source_ip, 0))
    try:
        conn.request(method, target, body=body, headers=headers or {})
        return Reply(conn.getresponse())
    finally:
        conn.close()


def read_head(sock: socket.socket) -> bytes:
    """Bytes from ``sock`` up to the end of a request or response head (and what came with it),
    or all there was when the peer closed first."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def assert_still_streaming(app: App, camera_id: str = "good") -> None:
    """The good camera delivers new frames to the app now (not just earlier)."""
    first = wait_until(lambda: app.camera(camera_id)["online"] and app.camera(camera_id)["frames"],
                       what=f"camera {camera_id} online")
    wait_until(lambda: app.camera(camera_id)["frames"] > first, what=f"camera {camera_id} to send more frames")


def assert_no_traceback(app: App) -> None:
    log = app.log()
    assert "Traceback" not in log, log[-3000:]


def with_size(jpeg: bytes, width: int, height: int, sof: int | None = None) -> bytes:
    """``jpeg`` with its frame header claiming ``width`` x ``height`` (and optionally another SOFn)."""
    pos = 2
    while jpeg[pos + 1] not in SOF_MARKERS:
        pos += 2 + int.from_bytes(jpeg[pos + 2:pos + 4], "big")
    header = bytearray(jpeg[pos:pos + 9])
    header[1] = sof if sof is not None else header[1]
    header[5:7], header[7:9] = height.to_bytes(2, "big"), width.to_bytes(2, "big")
    return jpeg[:pos] + bytes(header) + jpeg[pos + 9:]
