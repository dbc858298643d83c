"""Uploads to ``/api/v1/recognize`` built to exhaust memory or crash the decoder: each is refused
with a 400 that says why, by its header where the header gives it away (nothing decoded)."""

from __future__ import annotations

import struct
import zlib

import pytest
from hostile_helpers import assert_no_traceback, assert_still_streaming, with_size

from edgeface import images, jpegmeta
from edgeface.errors import ImageError


def png(width: int, height: int) -> bytes:
    """A complete, valid, all-black greyscale PNG: tiny on disk, ``width * height`` bytes decoded."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = zlib.compress((b"\x00" * (width + 1)) * height, 9)
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def hostile_uploads(jpeg_frames) -> list[tuple[str, bytes, str]]:
    """(what, bytes, what the error says)."""
    return [
        ("8000x8000 PNG of 64 kB", png(8000, 8000), "larger than the limit"),
        ("JPEG claiming 20000x20000", with_size(jpeg_frames[0], 20000, 20000), "not a readable image"),
        ("truncated JPEG", jpeg_frames[0][:2000], "corrupt or truncated"),
        ("random bytes", bytes(range(256)) * 40, "not a readable image"),
        ("a pickle", b"\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00\x8c\x02os\x94.", "not a readable image"),
        ("empty file", b"", "not a readable image"),
    ]


def test_hostile_uploads_get_a_clear_400(hostile_app, hostile_uploads):
    app = hostile_app.app
    for what, data, message in hostile_uploads:
        reply = app.request("POST", "/api/v1/recognize", files={"image": ("x.png", data)})
        assert reply.status_code == 400, (what, reply.status_code, reply.text[:300])
        assert message in reply.json()["error"] and reply.json()["hint"], (what, reply.json())
    assert_still_streaming(app)
    assert_no_traceback(app)


def test_the_issue_png_is_refused_by_its_header_at_the_frame_limit(monkeypatch):
    """The issue's 6320x6320 PNG (under the old 40 MP limit) at the camera frame limit: refused
    before decoding, so it costs no memory."""
    monkeypatch.setattr(images, "MAX_PIXELS", jpegmeta.MAX_PIXELS)
    with pytest.raises(ImageError, match=f"6320x6320 pixels is larger than the limit of {jpegmeta.MAX_PIXELS}"):
        images.load_image(png(6320, 6320), name="issue.png")
    assert images.load_image(png(64, 48)).shape == (48, 64, 3)
