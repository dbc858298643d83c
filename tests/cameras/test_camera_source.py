"""CameraSource: latest frame only, offline and back, bad cameras isolated, threads end on stop."""

from __future__ import annotations

import threading
import time

import numpy as np
from camera_helpers import DEADLINE_S, part, start_multipart, wait_until

from edgeface.cameras.source import UNDECODABLE, CameraSource, Frame


def status_when(src: CameraSource, condition, what: str) -> dict:
    """The first status for which ``condition(status)`` holds (polled)."""
    found = {}

    def check():
        found["status"] = src.status()
        return condition(found["status"])

    wait_until(check, what=what)
    return found["status"]


def camera_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("camera-") and t.is_alive()]


def test_keeps_only_the_latest_frame(live_camera_factory, sources):
    camera = live_camera_factory(fps=30)
    src = sources("cam", camera.url())
    first = src.wait_frame(0, timeout=DEADLINE_S)
    assert first is not None and first.jpeg is not None
    # A slow consumer: several frames arrive while it is busy...
    wait_until(lambda: src.latest().seq >= first.seq + 3, what="three more frames")
    newest = src.latest()
    # ...and it is handed the newest one, not the next in a queue.
    got = src.wait_frame(first.seq, timeout=DEADLINE_S)
    assert got.seq >= newest.seq > first.seq + 2
    assert got.bgr.shape == (360, 640, 3) and got.bgr.dtype == np.uint8
    assert got.bgr is got.bgr  # decoded once, then cached


def test_wait_frame_times_out_without_new_frames(live_camera_factory, sources):
    camera = live_camera_factory()
    src = sources("cam", camera.url())
    assert src.wait_frame(0, timeout=DEADLINE_S) is not None
    camera.pause()
    wait_until(lambda: not src.status()["online"], what="offline after pause")
    assert src.wait_frame(src.latest().seq, timeout=0.3) is None


def test_goes_offline_on_stall_and_resumes(live_camera_factory, sources):
    camera = live_camera_factory()
    src = sources("cam", camera.url(), stall_timeout=1.0)
    wait_until(lambda: src.status()["fps"] > 0, what="online with a frame rate")
    camera.pause()
    status = status_when(src, lambda s: not s["online"], "offline")
    assert status["fps"] == 0.0 and status["last_frame_age_s"] >= 0
    seq = src.latest().seq
    camera.resume()
    assert src.wait_frame(seq, timeout=DEADLINE_S) is not None
    wait_until(lambda: src.status()["online"], what="online again")
    assert src.status()["error"] is None


def test_camera_killed_and_restarted_resumes_without_restart(live_camera_factory, sources):
    camera = live_camera_factory()
    src = sources("cam", camera.url(), stall_timeout=1.0)
    wait_until(lambda: src.status()["online"], what="online")
    camera.kill()
    status = status_when(src, lambda s: not s["online"] and "127.0.0.1" in (s["error"] or ""), "offline with an error")
    assert "127.0.0.1" in status["error"]
    seq = src.latest().seq
    camera.revive()  # same port, like a camera rebooting
    assert src.wait_frame(seq, timeout=DEADLINE_S) is not None
    wait_until(lambda: src.status()["online"], what="online after revival")


def test_garbage_camera_does_not_affect_a_good_one(scripted_camera, live_camera_factory, sources):
    def garbage(h):
        start_multipart(h, b"multipart/x-mixed-replace; boundary=frame")
        noise = np.random.default_rng(1).integers(0, 256, 50_000, dtype=np.uint8).tobytes()
        while not scripted_camera.released.is_set():
            h.wfile.write(noise + b"\xff\xd8\xff\xe0" + noise)  # SOI then nonsense, forever

    scripted_camera.scripts["/stream"] = garbage
    good = live_camera_factory()
    bad_src = sources("bad", scripted_camera.url("/stream"))
    good_src = sources("good", good.url())
    wait_until(lambda: bad_src.corrupt_frames > 0, what="corrupt frames counted")
    frame = good_src.wait_frame(0, timeout=DEADLINE_S)
    assert frame is not None and frame.bgr is not None
    assert good_src.status()["online"] and not bad_src.status()["online"]
    assert bad_src.latest() is None
    assert bad_src.status()["error"], "an offline camera says why"


def _stream_of(scripted_camera, jpeg: bytes, fps: float = 30.0):
    """A script sending the same JPEG at ``fps`` until the camera is closed."""
    def script(h):
        start_multipart(h, b"multipart/x-mixed-replace; boundary=frame")
        while not scripted_camera.released.is_set():
            h.wfile.write(part(jpeg))
            time.sleep(1 / fps)
    return script


def test_camera_sending_empty_jpegs_is_offline_with_the_reason(scripted_camera, sources):
    scripted_camera.scripts["/stream"] = _stream_of(scripted_camera, b"\xff\xd8\xff\xd9")  # SOI, EOI
    src = sources("empty", scripted_camera.url("/stream"))
    wait_until(lambda: src.corrupt_frames > 30, what="empty frames counted")
    status = src.status()
    assert not status["online"] and status["fps"] == 0.0 and status["frames"] == 0
    assert status["error"] == UNDECODABLE


def without_quantization_tables(jpeg: bytes) -> bytes:
    """``jpeg`` without its DQT segments: the header still gives a size, but nothing can decode it
    (missing Huffman tables would not do: decoders fall back to the standard ones, as MJPEG wants)."""
    out, at = bytearray(jpeg[:2]), 2
    while jpeg[at + 1] != 0xDA:  # segments up to the scan
        length = int.from_bytes(jpeg[at + 2:at + 4], "big")
        if jpeg[at + 1] != 0xDB:
            out += jpeg[at:at + 2 + length]
        at += 2 + length
    return bytes(out + jpeg[at:])


def test_camera_sending_undecodable_jpegs_is_offline_with_the_reason(scripted_camera, sources, jpeg_frames):
    broken = without_quantization_tables(jpeg_frames[0])
    assert Frame(1, 0.0, broken).bgr is None
    scripted_camera.scripts["/stream"] = _stream_of(scripted_camera, broken)
    src = sources("garbled", scripted_camera.url("/stream"))
    wait_until(lambda: src.corrupt_frames > 30, what="undecodable frames counted")
    status = src.status()
    assert not status["online"] and status["frames"] == 0
    assert status["error"] == UNDECODABLE


def test_stalled_camera_is_offline_with_the_reason(scripted_camera, sources, jpeg_frames):
    scripted_camera.silent_after("/stream", jpeg_frames[:2])
    src = sources("stalled", scripted_camera.url("/stream"), stall_timeout=1.0)
    assert src.wait_frame(0, timeout=DEADLINE_S) is not None
    status = status_when(src, lambda s: not s["online"], "offline")
    assert status["error"], "offline with error None tells the operator nothing"


def test_corrupt_jpeg_decodes_to_none(jpeg_frames):
    data = bytearray(jpeg_frames[0])
    data[600:] = b"\x00" * (len(data) - 600)
    frame = Frame(1, 0.0, bytes(data[:650]))
    assert frame.bgr is None  # the consumer skips it; nothing raises


def test_stop_ends_the_thread_even_mid_read(scripted_camera, sources, jpeg_frames):
    scripted_camera.silent_after("/stream", jpeg_frames[:1])
    before = set(camera_threads())
    src = sources("quiet", scripted_camera.url("/stream"), stall_timeout=120)
    assert src.wait_frame(0, timeout=DEADLINE_S) is not None
    waiter_result = []
    waiter = threading.Thread(target=lambda: waiter_result.append(src.wait_frame(1, timeout=DEADLINE_S * 2)))
    waiter.start()
    src.close(timeout=DEADLINE_S)
    waiter.join(DEADLINE_S)
    assert not waiter.is_alive() and waiter_result == [None]
    assert set(camera_threads()) <= before


def test_file_source_loops_at_native_rate(video_path, sources):
    src = sources("file", str(video_path))
    frame = src.wait_frame(0, timeout=DEADLINE_S)
    assert frame is not None and frame.jpeg is None
    assert frame.bgr.shape == (360, 640, 3)
    assert len(frame.jpeg_bytes()) > 1000  # encoded on demand for the browser
    wait_until(lambda: src.status()["fps"] > 0, what="an fps figure")


def test_image_folder_source(media_dir, sources):
    src = sources("folder", f"file://{media_dir / 'probes'}")
    first = src.wait_frame(0, timeout=DEADLINE_S)
    second = src.wait_frame(first.seq, timeout=DEADLINE_S)
    assert first.bgr is not None and second.bgr is not None


def test_missing_file_is_reported_not_raised(sources, tmp_path):
    src = sources("missing", str(tmp_path / "nope.mp4"))
    status = status_when(src, lambda s: "no such file" in (s["error"] or ""), "an error")
    assert not status["online"]


def test_token_never_appears_in_status_or_logs(sources, caplog):
    secret = "tok-9f8e7d6c5b"
    src = sources("private", f"http://127.0.0.1:9/stream?token={secret}")
    wait_until(lambda: "127.0.0.1" in (src.status()["error"] or ""), what="a connection error")
    src.close()
    assert secret not in repr(src.status())
    assert secret not in repr(src)
    assert "token=***" in src.status()["url"]
    assert caplog.records and secret not in caplog.text
