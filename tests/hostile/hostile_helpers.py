"""What the hostile-input tests share: the app's secrets, a client on another loopback address,
and the checks every attack ends with (the good camera still streams, no traceback logged)."""

from __future__ import annotations

import http.client
import json
import secrets
from urllib.parse import urlsplit

from webapp_helpers import App, wait_until

from edgeface.jpegmeta import SOF_MARKERS

API_TOKEN = "hostile-api-" + secrets.token_urlsafe(12)
CAMERA_TOKEN = "hostile-cam-" + secrets.token_urlsafe(12)


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
