"""The MJPEG reader against a real local HTTP server sending what real cameras send."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from camera_helpers import DEADLINE_S, part, start_multipart

from edgeface.cameras.mjpeg import (
    JpegStreamParser,
    MjpegStream,
    StreamClosed,
    StreamError,
    StreamRejected,
    StreamStalled,
    iter_mjpeg,
)
from edgeface.images import decode_jpeg


def collect(url: str, n: int | None = None, **kwargs) -> tuple[list[bytes], Exception | None]:
    """Frames read until ``n`` arrived or the stream raised; the exception (or None)."""
    frames = []
    try:
        for jpeg in iter_mjpeg(url, **kwargs):
            frames.append(jpeg)
            if n is not None and len(frames) == n:
                return frames, None
    except StreamError as err:
        return frames, err
    return frames, None


def segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + (len(payload) + 2).to_bytes(2, "big") + payload


def with_segment(jpeg: bytes, marker: int, payload: bytes) -> bytes:
    """The JPEG with an extra segment right after SOI (as cameras add EXIF/APP data)."""
    return jpeg[:2] + segment(marker, payload) + jpeg[2:]


def test_split_reads_give_the_same_frames(jpeg_frames):
    stream = b"".join(part(f) for f in jpeg_frames[:5])
    for chunk in (1, 7, 1000, len(stream)):
        parser = JpegStreamParser()
        out = []
        for i in range(0, len(stream), chunk):
            out += parser.feed(stream[i:i + chunk])
        assert out == jpeg_frames[:5], f"chunk size {chunk}"
        assert parser.stats.corrupt == 0


def test_no_content_length(scripted_camera, jpeg_frames):
    def script(h):
        start_multipart(h, b"multipart/x-mixed-replace; boundary=frame")
        for f in jpeg_frames[:6]:
            h.wfile.write(part(f, length=False))

    scripted_camera.scripts["/stream"] = script
    frames, err = collect(scripted_camera.url("/stream"), timeout=10)
    assert frames == jpeg_frames[:6]
    assert isinstance(err, StreamClosed)


def test_odd_quoted_boundary_garbage_and_chunked_encoding(scripted_camera, jpeg_frames):
    """Declared boundary differs from the one used, junk between parts, tiny HTTP chunks."""

    def script(h):
        h.wfile.write(b'HTTP/1.1 200 OK\r\nContent-Type: multipart/x-mixed-replace;boundary="--myboundary"\r\n'
                      b"Transfer-Encoding: chunked\r\n\r\n")
        body = b"".join(b"garbage\xff\xd8 not a jpeg\r\n" + part(f, boundary=b"other", length=i % 2 == 0)
                        for i, f in enumerate(jpeg_frames[:5]))
        for i in range(0, len(body), 333):
            chunk = body[i:i + 333]
            h.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        h.wfile.write(b"0\r\n\r\n")

    scripted_camera.scripts["/odd"] = script
    frames, _ = collect(scripted_camera.url("/odd"), timeout=10)
    assert frames == jpeg_frames[:5]


def test_no_multipart_at_all(scripted_camera, jpeg_frames):
    def script(h):
        start_multipart(h, b"application/octet-stream")
        h.wfile.write(b"\x00\x01junk" + b"".join(jpeg_frames[:3]) + b"trailing junk")

    scripted_camera.scripts["/raw"] = script
    frames, _ = collect(scripted_camera.url("/raw"), timeout=10)
    assert frames == jpeg_frames[:3]


def test_corrupt_frames_in_the_middle_are_skipped_and_counted(scripted_camera, jpeg_frames):
    good = jpeg_frames
    truncated = good[1][: len(good[1]) // 2]  # Wi-Fi dropped mid-frame; next part follows
    broken_header = b"\xff\xd8\xff" + b"\x00" * 200  # SOI then nonsense
    sent = [good[0], truncated, good[2], broken_header, good[3]]

    def script(h):
        start_multipart(h, b"multipart/x-mixed-replace; boundary=frame")
        for f in sent:
            h.wfile.write(part(f, length=False))

    scripted_camera.scripts["/corrupt"] = script
    stream = MjpegStream(scripted_camera.url("/corrupt"), timeout=10)
    frames = []
    with pytest.raises(StreamClosed):
        for jpeg in stream:
            frames.append(jpeg)
    assert frames == [good[0], good[2], good[3]]
    assert stream.stats.corrupt == 2
    assert all(decode_jpeg(f) is not None for f in frames)


def test_embedded_thumbnail_does_not_end_the_frame(scripted_camera, jpeg_frames):
    """An EXIF thumbnail is a whole JPEG (with its own EOI) inside APP1."""
    thumb = jpeg_frames[5][:]  # any complete JPEG
    framed = with_segment(jpeg_frames[0], 0xE1, b"Exif\x00\x00" + thumb[:60000])

    def script(h):
        start_multipart(h, b"multipart/x-mixed-replace; boundary=frame")
        h.wfile.write(part(framed) + part(jpeg_frames[1]))

    scripted_camera.scripts["/thumb"] = script
    frames, _ = collect(scripted_camera.url("/thumb"), timeout=10)
    assert frames == [framed, jpeg_frames[1]]
    decoded = decode_jpeg(frames[0])
    assert decoded is not None and decoded.shape == (360, 640, 3)


def test_oversized_frame_is_dropped(scripted_camera, jpeg_frames):
    padding = b"x" * 60000
    huge = with_segment(with_segment(jpeg_frames[0], 0xFE, padding), 0xFE, padding)

    def script(h):
        start_multipart(h, b"multipart/x-mixed-replace; boundary=frame")
        h.wfile.write(part(huge) + part(jpeg_frames[1]) + part(jpeg_frames[2]))

    scripted_camera.scripts["/huge"] = script
    stream = MjpegStream(scripted_camera.url("/huge"), timeout=10, max_frame_bytes=100_000)
    frames = []
    with pytest.raises(StreamClosed):
        frames.extend(stream)
    assert frames == jpeg_frames[1:3]
    assert stream.stats.corrupt == 1


def test_stall_raises_after_the_timeout(scripted_camera, jpeg_frames):
    scripted_camera.silent_after("/stall", jpeg_frames[:2])  # alive but silent
    frames, err = collect(scripted_camera.url("/stall"), timeout=1.0)
    assert frames == jpeg_frames[:2]
    assert isinstance(err, StreamStalled)
    assert "no data" in str(err)


def test_disconnect_raises_closed(scripted_camera, jpeg_frames):
    def script(h):
        start_multipart(h, b"multipart/x-mixed-replace; boundary=frame")
        h.wfile.write(part(jpeg_frames[0]) + part(jpeg_frames[1]) + part(jpeg_frames[2])[:500])

    scripted_camera.scripts["/bye"] = script
    frames, err = collect(scripted_camera.url("/bye"), timeout=10)
    assert frames == jpeg_frames[:2]
    assert isinstance(err, StreamClosed)


def test_http_error_is_rejected_without_leaking_the_token(scripted_camera):
    def script(h):
        h.send_response(401)
        h.send_header("Content-Length", "0")
        h.end_headers()

    scripted_camera.scripts["/stream"] = script
    frames, err = collect(scripted_camera.url("/stream?token=s3cret-value"), timeout=10)
    assert frames == []
    assert isinstance(err, StreamRejected)
    assert "401" in str(err) and "token" in str(err)
    assert "s3cret-value" not in str(err)


def test_unsendable_url_is_an_error_without_the_token(scripted_camera):
    """http.client quotes the whole request path in some errors; ours must not pass that on."""
    frames, err = collect(scripted_camera.url("/str eam?token=s3cret-value"), timeout=10)
    assert frames == [] and isinstance(err, StreamError)
    assert "cannot request the stream" in str(err) and "token=***" in str(err)
    assert "s3cret-value" not in str(err)


def test_connection_refused_is_a_clear_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    frames, err = collect(f"http://127.0.0.1:{port}/stream", timeout=5)
    assert frames == [] and isinstance(err, StreamError)
    assert "cannot connect" in str(err)


def test_close_from_another_thread_ends_a_blocked_read(scripted_camera, jpeg_frames):
    scripted_camera.silent_after("/silent", jpeg_frames[:1])
    stream = MjpegStream(scripted_camera.url("/silent"), timeout=300)
    result = {}

    def read():
        try:
            for _ in stream:
                result["frame"] = True
        except StreamError as err:
            result["error"] = err

    reader = threading.Thread(target=read)
    reader.start()
    deadline = time.monotonic() + DEADLINE_S
    while "frame" not in result and time.monotonic() < deadline:
        time.sleep(0.05)
    stream.close()
    reader.join(DEADLINE_S)
    assert not reader.is_alive()
    assert isinstance(result.get("error"), StreamClosed)  # closed by us, not a 300 s stall
