"""Camera streams that try to exhaust memory: frames declaring huge sizes, frames with no end.

Real frames of the sample clip are sent by real local HTTP cameras; the hostile ones have their
frame header (SOF) rewritten to claim a larger size — 6 MB of JPEG can claim 20000x20000 pixels,
1.2 GB once decoded. Each must be refused before decoding, reported as the camera's error, and
the good camera must keep streaming meanwhile.
"""

from __future__ import annotations

import pytest
from camera_helpers import part, start_multipart, wait_until
from hostile_helpers import assert_no_traceback, assert_still_streaming, with_size

from edgeface.cameras.mjpeg import JpegStreamParser, MjpegStream, StreamError, StreamRejected
from edgeface.cameras.registry import CameraRegistry
from edgeface.images import decode_jpeg
from edgeface.jpegmeta import MAX_PIXELS, dimensions


def serve_repeatedly(camera, path: str, jpeg: bytes) -> None:
    """At ``path`` of a ``ScriptedCamera``: ``jpeg`` over and over, 20 times a second."""

    def script(handler):
        start_multipart(handler, b"multipart/x-mixed-replace; boundary=frame")
        while not camera.released.wait(0.05):
            handler.wfile.write(part(jpeg))

    camera.scripts[path] = script


def refused(status: dict) -> dict | None:
    """A camera's status once its error says its frames are too large."""
    return status if "larger than the limit" in (status["error"] or "") else None


#: (what, width, height, SOF marker): frames over the limit of 4096x4096 pixels.
OVERSIZED = [
    ("the issue's 20000x20000", 20000, 20000, None),
    ("just over the limit", 4097, 4096, None),
    ("very wide", 65535, 300, None),
    ("progressive", 8000, 8000, 0xC2),
    ("arithmetic coded", 8000, 8000, 0xC9),
]


@pytest.mark.parametrize("what,width,height,sof", OVERSIZED, ids=[o[0] for o in OVERSIZED])
@pytest.mark.parametrize("read_size", [3, 4096, 65536])
def test_parser_refuses_oversized_frames_before_buffering_them(jpeg_frames, what, width, height, sof, read_size):
    good = jpeg_frames[0]
    huge = with_size(good, width, height, sof) + b"\x00" * 300_000   # image data not needed to refuse
    stream = part(good) + part(huge) + part(jpeg_frames[1])
    parser = JpegStreamParser()
    frames, buffered = [], 0
    for at in range(0, len(stream), read_size):
        frames += parser.feed(stream[at:at + read_size])
        buffered = max(buffered, len(parser._buf))
    assert frames == [good, jpeg_frames[1]]
    assert parser.stats.oversized == 1 and parser.stats.corrupt == 1
    assert f"{width}x{height} pixels is larger than the limit of {MAX_PIXELS}" in parser.stats.refusal
    assert buffered < len(good) + 2 * read_size + 1024    # the huge frame never sat in memory


def test_parser_accepts_frames_at_the_limit(jpeg_frames):
    at_limit = with_size(jpeg_frames[0], 4096, 4096)
    assert JpegStreamParser().feed(part(at_limit)) == [at_limit]


def test_parser_refuses_frames_over_the_byte_limit(jpeg_frames):
    parser = JpegStreamParser(max_frame_bytes=len(jpeg_frames[0]) - 1)
    assert parser.feed(part(jpeg_frames[0])) == []
    assert parser.stats.oversized == 1 and "longer than the limit" in parser.stats.refusal


@pytest.mark.parametrize("width,height", [(20000, 20000), (4097, 4097)])
def test_decoding_refuses_oversized_frames_by_their_header(jpeg_frames, width, height):
    assert decode_jpeg(jpeg_frames[0]) is not None
    huge = with_size(jpeg_frames[0], width, height)
    assert dimensions(huge) == (width, height)
    assert decode_jpeg(huge) is None


def test_oversized_camera_is_refused_with_a_clear_error_and_the_good_one_streams(
        jpeg_frames, scripted_camera, live_camera_factory):
    serve_repeatedly(scripted_camera, "/huge", with_size(jpeg_frames[0], 20000, 20000))
    good = live_camera_factory()
    registry = CameraRegistry()
    try:
        good_id = registry.add(good.url())
        bad_id = registry.add(scripted_camera.url("/huge"))
        bad = registry.get(bad_id)
        status = wait_until(lambda: refused(bad.status()), what="the oversized camera's error")
        assert "20000x20000 pixels is larger than the limit" in status["error"], status
        assert "lower the camera's resolution" in status["error"]
        assert not status["online"] and status["frames"] == 0 and status["corrupt_frames"] >= 3
        seen = registry.get(good_id).status()["frames"]
        wait_until(lambda: registry.get(good_id).status()["frames"] > seen + 10, what="the good camera to stream")
    finally:
        registry.close()


def test_oversized_camera_added_to_the_app(hostile_app, jpeg_frames, scripted_camera):
    """The same through the running app: the camera's error is shown, the good camera streams."""
    serve_repeatedly(scripted_camera, "/huge", with_size(jpeg_frames[0], 20000, 20000))
    app = hostile_app.app
    added = app.request("POST", "/api/v1/cameras", json={"url": scripted_camera.url("/huge"), "id": "huge"})
    assert added.status_code == 201, added.text
    try:
        status = wait_until(lambda: refused(app.camera("huge")), what="the oversized camera's error")
        assert status["frames"] == 0 and not status["online"]
        assert_still_streaming(app)
    finally:
        app.request("DELETE", "/api/v1/cameras/huge")
    assert_no_traceback(app)


def test_endless_part_headers_and_interim_answers_end_with_a_clear_error(scripted_camera):
    """MJPEG cameras that send part headers (or junk) without end, or '100 Continue' without end
    (http.client skips those forever): the stream ends with an error saying so, nothing buffered."""

    def endless_headers(handler):
        start_multipart(handler, b"multipart/x-mixed-replace; boundary=frame")
        line = b"--frame\r\nContent-Type: image/jpeg\r\nX-Pad: " + b"a" * 60_000 + b"\r\n"
        while not scripted_camera.released.is_set():
            handler.wfile.write(line)

    def endless_continue(handler):
        while not scripted_camera.released.is_set():
            handler.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    scripted_camera.scripts["/headers"] = endless_headers
    scripted_camera.scripts["/continue"] = endless_continue
    stream = MjpegStream(scripted_camera.url("/headers"))
    with pytest.raises(StreamRejected, match="bytes without a JPEG frame"):
        list(stream)
    assert len(stream.parser._buf) < 1024
    with pytest.raises(StreamError, match="cannot request the stream"):
        list(MjpegStream(scripted_camera.url("/continue")))
