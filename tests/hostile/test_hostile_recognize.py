"""``/api/v1/recognize`` bounded in CPU and memory (issue 13, item 3), against a running app:
over-limit images refused by their header, big ones scaled before detection, a full queue
answered at once with 503 + Retry-After, and the worker's memory given back afterwards."""

from __future__ import annotations

import io
import threading

import psutil
import pytest
from hostile_helpers import assert_no_traceback, assert_still_streaming, with_size
from PIL import Image
from test_hostile_uploads import png
from webapp_helpers import wait_until

from edgeface import jpegmeta

ALLOWED_GROWTH_MB = 100   # the issue: ~190 calls of 720p grew the worker by 2.1 GB


def jpeg_of(image: Image.Image, quality: int = 90) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


@pytest.fixture(scope="module")
def obama(media_dir) -> Image.Image:
    return Image.open(media_dir / "probes" / "obama-720p.jpg").convert("RGB")


def recognize(app, data: bytes, name: str = "x.jpg"):
    return app.request("POST", "/api/v1/recognize", files={"image": (name, data)})


def worker_rss_mb(app) -> float:
    """RSS of gunicorn's worker (the master's only child that is not a face engine)."""
    workers = [p for p in psutil.Process(app.pid).children() if "engine_process" not in " ".join(p.cmdline())]
    assert len(workers) == 1, workers
    return workers[0].memory_info().rss / 2**20


def test_over_the_frame_limit_is_refused_by_its_header(hostile_app):
    """The issue's 116 kB 6320x6320 PNG (40 MP, under the old limit): 400 before decoding."""
    reply = recognize(hostile_app.app, png(6320, 6320), "issue.png")
    assert reply.status_code == 400, reply.text
    assert f"larger than the limit of {jpegmeta.MAX_PIXELS}" in reply.json()["error"]


def test_a_big_photo_is_scaled_down_and_boxes_stay_in_its_pixels(hostile_app, obama):
    """Obama at 720p and the same photo at 3x (3840x2160, 8.3 MP): the same person, the box 3x."""
    app = hostile_app.app
    small = recognize(app, jpeg_of(obama)).json()["faces"]
    big = recognize(app, jpeg_of(obama.resize((3840, 2160), Image.Resampling.LANCZOS))).json()["faces"]
    assert [f["name"] for f in small] == [f["name"] for f in big] == ["Barack Obama"], (small, big)
    for a, b in zip(small[0]["box"], big[0]["box"]):
        assert abs(b - 3 * a) <= 0.1 * 3 * abs(small[0]["box"][2] - small[0]["box"][0]), (small, big)


def test_a_full_queue_answers_503_with_retry_after(hostile_app, obama):
    """Ten uploads at once: two are taken (one running, one waiting), the rest are told to come back."""
    app = hostile_app.app
    data = jpeg_of(obama.resize((3840, 2160)))
    replies: list = []
    start = threading.Barrier(10)

    def upload():
        start.wait()
        replies.append(recognize(app, data))
    threads = [threading.Thread(target=upload) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(r.status_code for r in replies)
    assert set(statuses) == {200, 503} and statuses.count(200) >= 2, statuses
    for busy in (r for r in replies if r.status_code == 503):
        assert int(busy.headers["Retry-After"]) > 0
        assert "already being recognized" in busy.json()["error"] and busy.json()["hint"]
    assert app.get("/healthz").status_code == 200
    assert_still_streaming(app)
    assert_no_traceback(app)


def test_memory_is_given_back(hostile_app, obama):
    """After warm-up, 40 more ordinary uploads leave the worker's RSS where it was."""
    app = hostile_app.app
    data = jpeg_of(obama)
    for _ in range(5):
        assert recognize(app, data).status_code == 200
    before = worker_rss_mb(app)
    for _ in range(40):
        assert recognize(app, data).status_code == 200
    after = worker_rss_mb(app)
    assert after - before < ALLOWED_GROWTH_MB, (before, after)


def engines(app) -> list[psutil.Process]:
    """The app's face-engine children (the cameras' and, while it runs, the uploads')."""
    return [p for p in psutil.Process(app.pid).children(recursive=True) if "engine_process" in " ".join(p.cmdline())]


def app_rss_mb(app) -> float:
    procs = [psutil.Process(app.pid), *psutil.Process(app.pid).children(recursive=True)]
    return sum(p.memory_info().rss for p in procs) / 2**20


def test_a_tiny_jpeg_claiming_many_pixels_costs_nothing(hostile_app, jpeg_frames):
    """The issue's 629-byte JPEG claiming 4096x4096 (2.3 s and 300 MB a call): refused by its header."""
    bomb = with_size(jpeg_frames[0][:629], 4096, 4096)
    reply = recognize(hostile_app.app, bomb)
    assert reply.status_code == 400, reply.text
    assert "cannot hold a whole 4096x4096 JPEG" in reply.json()["error"] and reply.json()["hint"]


def test_the_uploads_engine_gives_its_memory_back_after_a_burst(hostile_app, obama):
    """A burst of 8 MP photos grows the uploads' engine; UPLOADS_ENGINE_IDLE_S after the last
    one it stops (the memory goes with its process), and the next upload starts it again."""
    app = hostile_app.app
    data = jpeg_of(obama.resize((3840, 2160)))
    for _ in range(4):
        assert recognize(app, data).status_code == 200
    uploads_engine = max(engines(app), key=lambda p: p.create_time())
    during = app_rss_mb(app)
    wait_until(lambda: not uploads_engine.is_running() or uploads_engine.status() == psutil.STATUS_ZOMBIE,
               what="the idle uploads engine to stop")
    after = app_rss_mb(app)
    print(f"\napp RSS with children: {during:.0f} MB after the burst, {after:.0f} MB once the uploads engine "
          f"stopped ({uploads_engine.pid})")
    assert after < during
    assert [f["name"] for f in recognize(app, jpeg_of(obama)).json()["faces"]] == ["Barack Obama"]
