"""End to end on 127.0.0.1: ``edgeface serve`` under gunicorn and ``edgeface camera`` as separate
processes, finding each other over real mDNS; recognition, feeds, auth, faults and recovery."""

from __future__ import annotations

import re
import socket
import threading

import cv2
import numpy as np
import pytest
import requests
from webapp_helpers import MjpegReader, find_camera, read_mjpeg_parts, read_sse, wait_until

from edgeface.jpegmeta import ANNOTATION, comment_with_prefix

pytestmark = pytest.mark.slow

LIN = "Lin-Manuel Miranda"


def _decode(jpeg: bytes) -> np.ndarray:
    img = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert img is not None, "not a JPEG"
    return img


def test_camera_registers_over_mdns_and_is_online(live_system):
    app = live_system.app
    cam = wait_until(lambda: (c := app.camera(live_system.camera_id)) and c["online"] and c, what="camera online")
    assert {"id", "url", "online", "fps", "last_frame_age_s"} <= set(cam)
    assert cam["fps"] > 0 and cam["last_frame_age_s"] is not None
    assert live_system.camera_token not in cam["url"] and "token=***" in cam["url"]
    assert live_system.camera_token not in app.log(), "the camera token reached the app's log"


def test_people_in_the_clip_are_named_in_events(live_system):
    app, cid = live_system.app, live_system.camera_id
    events = wait_until(lambda: app.get(f"/api/v1/events?camera={cid}&name={LIN}").json()["events"],
                        what=f"an event naming {LIN}")
    event = events[0]
    assert {"id", "camera", "name", "distance", "time", "box"} <= set(event)
    assert event["camera"] == cid and event["name"] == LIN and 0 <= event["distance"] <= 0.6
    snapshot = app.get(f"/api/v1/events/{event['id']}/snapshot.jpg")
    assert snapshot.status_code == 200 and snapshot.headers["Content-Type"] == "image/jpeg"
    assert _decode(snapshot.content).shape[0] > 20
    everything = app.get(f"/api/v1/events?camera={cid}&limit=1000").json()["events"]
    times = [e["time"] for e in everything]
    assert times == sorted(times, reverse=True), "events are not newest first"
    # A tracked face is reported when named, not once per frame: the clip runs at 30 fps.
    assert len(everything) < 30 * (max(times) - min(times) + 1) / 10
    later = app.get(f"/api/v1/events?camera={cid}&since={event['time'] + 0.001}").json()["events"]
    assert all(e["time"] > event["time"] for e in later)


def test_feed_delivers_annotated_jpeg_frames(live_system):
    app, cid = live_system.app, live_system.camera_id
    with app.get(f"/video_feed/{cid}", stream=True) as response:
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("multipart/x-mixed-replace")
        frames = read_mjpeg_parts(response, 8)
    assert all(_decode(f).shape == (360, 640, 3) for f in frames)
    assert len(set(frames)) > 1, "the feed repeats one frame"
    frame = app.get(f"/api/v1/cameras/{cid}/frame.jpg")
    assert frame.status_code == 200 and _decode(frame.content).shape == (360, 640, 3)


def test_the_feed_is_the_cameras_frames_and_the_faces_come_as_marks(live_system):
    """The console's picture is the camera's JPEG as sent (no boxes drawn in, no re-encode); the
    faces come over one event stream, stamped with the frame; ``?boxes=drawn`` draws them in."""
    app, cid = live_system.app, live_system.camera_id
    with app.get("/live/marks", stream=True) as marks:
        assert marks.status_code == 200 and marks.headers["Content-Type"].startswith("text/event-stream")
        named = [e["data"] for e in read_sse(marks, 400, "faces")
                 if any(f["name"] == LIN for f in e["data"]["faces"])][:5]
        assert named, f"no faces message named {LIN}"
        assert app.get("/healthz", auth=False).status_code == 200, "an open event stream starves the probes"
    for message in named:
        assert message["camera"] == cid and message["seq"] > 0 and message["at"] > 0
        assert message["size"] == [640, 360] and 0 <= message["lag_s"] < 5
        face = next(f for f in message["faces"] if f["name"] == LIN)
        top, right, bottom, left = face["box"]
        assert 0 <= left < right <= 640 and 0 <= top < bottom <= 360
        assert face["state"] == "named" and face["confidence"] in ("sure", "likely")
    with app.get(f"/video_feed/{cid}", stream=True) as response:
        frames = read_mjpeg_parts(response, 60)
    assert not any(comment_with_prefix(f, ANNOTATION) for f in frames), "faces were drawn into the camera's frames"
    with app.get(f"/video_feed/{cid}?boxes=drawn", stream=True) as response:
        drawn = read_mjpeg_parts(response, 60)
    described = [comment_with_prefix(f, ANNOTATION) for f in drawn]
    assert any(d and LIN.encode() in d for d in described), "?boxes=drawn did not draw the faces in"
    refused = app.get(f"/video_feed/{cid}?boxes=purple")
    assert refused.status_code == 400 and "boxes=drawn" in refused.json()["hint"]
    assert app.get("/live/marks", auth=False, stream=True).status_code == 401


def test_a_new_model_is_swapped_in_without_dropping_the_feed(live_system):
    from edgeface.modelfile import FaceModel

    app, cid = live_system.app, live_system.camera_id
    old = app.get("/api/v1/model").json()["version"]
    model = FaceModel.load(live_system.model)
    with app.get(f"/video_feed/{cid}", stream=True) as response:
        feed = MjpegReader(response)
        feed.read(2)
        FaceModel(model.embeddings, model.labels, model.names, {**model.metadata, "version": "e2e-v2"}) \
            .save(live_system.model)                                   # atomic, like a finished copy
        wait_until(lambda: app.get("/api/v1/model").json()["version"] == "e2e-v2", what="the new model")
        live_system.model.write_bytes(b"EDGEFACE but not really a model")   # a bad one is refused
        wait_until(lambda: app.get("/api/v1/model").json()["last_error"], what="the bad model to be refused")
        assert len(feed.read(5)) == 5, "the feed stopped during the reloads"
    status = app.get("/api/v1/model").json()
    assert status["version"] == "e2e-v2" != old and status["loaded"]
    version = re.search(r'id="model-version"[^>]*>\s*model:\s*<strong>([^<]+)', app.get("/").text)
    assert version and version.group(1) == "e2e-v2"
    # Faces re-identified with the new model: a visit begun before the reload keeps the version that
    # named it and records the new one beside it; a visit begun after it is the new version's.
    events = wait_until(lambda: [e for e in app.get(f"/api/v1/events?camera={cid}").json()["events"]
                                 if "e2e-v2" in e["model_versions"]],
                        what="faces to be re-identified with the new model")
    assert all(e["model_version"] == e["model_versions"][0] for e in events), events


def test_auth_is_enforced(live_system):
    app, cid = live_system.app, live_system.camera_id
    for path in ("/api/v1/cameras", "/api/v1/events", "/api/v1/model", f"/video_feed/{cid}", "/video_feed",
                 "/metrics", f"/api/v1/cameras/{cid}/frame.jpg"):
        response = app.get(path, auth=False, stream=True)
        assert response.status_code == 401, path
        assert requests.get(app.base + path, headers={"Authorization": "Bearer wrong"}, timeout=10,
                            stream=True).status_code == 401, path
    page = app.get("/", auth=False, allow_redirects=False)
    assert page.status_code == 302 and "/login" in page.headers["Location"]
    assert app.get("/healthz", auth=False).status_code == 200
    assert app.get("/readyz", auth=False).json()["ready"] is True
    # With the token, changes work.
    added = app.request("POST", "/api/v1/cameras", json={"url": "rtsp://127.0.0.1:9/nothing", "id": "e2e-added"})
    assert added.status_code == 201, added.text
    assert app.request("DELETE", "/api/v1/cameras/e2e-added").status_code == 200
    assert app.request("POST", "/api/v1/cameras", auth=False, json={"url": "rtsp://127.0.0.1:9/x"}).status_code == 401


def test_malformed_requests_get_4xx_with_a_message(live_system):
    app, token = live_system.app, live_system.camera_token
    cases = [
        ("GET", "/register", {}),
        ("GET", "/register?ip=&token=" + token, {}),
        ("GET", "/register?ip=not-an-ip&token=" + token, {}),
        ("GET", "/register?ip=8.8.8.8&token=" + token, {}),          # outside the allowed networks
        ("GET", "/register?ip=169.254.169.254&token=" + token, {}),  # cloud metadata service
        ("GET", "/register?ip=127.0.0.1&token=wrong", {}),
        ("GET", "/register?ip=127.0.0.1", {}),
        ("GET", "/register?ip=127.0.0.1&port=http&token=" + token, {}),
        ("GET", "/register?ip=127.0.0.1&port=70000&token=" + token, {}),
        ("GET", "/register?ip=127.0.0.1&token=" + "x" * 300, {}),
        ("GET", "/api/v1/events?limit=lots", {}),
        ("GET", "/api/v1/events?limit=0", {}),
        ("GET", "/api/v1/events?since=yesterday", {}),
        ("GET", "/api/v1/events/nope", {}),
        ("GET", "/api/v1/events/nope/snapshot.jpg", {}),
        ("GET", "/api/v1/cameras/nope", {}),
        ("GET", "/video_feed/nope", {}),
        ("POST", "/api/v1/cameras", {"data": "not json"}),
        ("POST", "/api/v1/cameras", {"json": ["a list"]}),
        ("POST", "/api/v1/cameras", {"json": {"url": "/etc/passwd"}}),
        ("POST", "/api/v1/cameras", {"json": {"url": "gopher://127.0.0.1/"}}),
        ("POST", "/api/v1/cameras", {"json": {"url": "rtsp://127.0.0.1:9/x", "id": "Bad Id!"}}),
        ("DELETE", "/api/v1/cameras/nope", {}),
        ("DELETE", "/api/v1/cameras", {}),
        ("POST", "/api/v1/recognize", {}),
        ("POST", "/api/v1/recognize", {"files": {"image": ("notes.txt", b"hello, not an image")}}),
        ("POST", "/api/v1/recognize", {"files": {"image": ("big.jpg", b"\xff\xd8" + b"0" * 12_000_000)}}),
        ("PUT", "/api/v1/cameras", {}),
    ]
    for method, path, kwargs in cases:
        response = app.request(method, path, **kwargs)
        assert 400 <= response.status_code < 500, f"{method} {path[:60]}: {response.status_code} {response.text[:200]}"
        is_json = response.headers.get("Content-Type", "").startswith("application/json")
        assert is_json and response.json().get("error"), \
            f"{method} {path[:60]} gave no message: {response.status_code} {response.text[:200]!r}"
    assert app.get("/healthz").status_code == 200


def test_recognize_endpoint_matches_the_cli(live_system, sample_model, media_dir):
    import json

    from helpers import run_cli

    probe = media_dir / "probes" / "two_people.jpg"
    with open(probe, "rb") as f:
        response = live_system.app.request("POST", "/api/v1/recognize", files={"image": ("two_people.jpg", f)})
    assert response.status_code == 200, response.text
    cli = json.loads(run_cli("recognize", str(probe), "--model", str(sample_model), "--json").stdout.splitlines()[0])
    assert response.json()["faces"] == cli["faces"] and response.json()["image"] == "two_people.jpg"
    assert {f["name"] for f in cli["faces"]} == {"Barack Obama", "Joe Biden"}


def test_metrics_report_each_camera(live_system):
    app, cid = live_system.app, live_system.camera_id
    app.get(f"/api/v1/cameras/{cid}/frame.jpg")           # someone looks: frames get annotated
    text = wait_until(lambda: (t := app.get("/metrics").text) and 'stage="jpeg_out"' in t and t,
                      what="annotation stages in the metrics")
    for name in ("edgeface_camera_online", "edgeface_camera_input_fps", "edgeface_camera_output_fps",
                 "edgeface_processing_latency_seconds_count", "edgeface_frames_processed_total",
                 "edgeface_camera_faces"):
        assert f'{name}{{camera="{cid}"}}' in text, name
    assert f'edgeface_events_total{{camera="{cid}",result="named"}}' in text
    assert "edgeface_model_info{version=" in text
    for stage in ("decode", "detect", "track", "encode", "match", "annotate", "jpeg_out"):
        assert f'edgeface_stage_seconds_total{{stage="{stage}"}}' in text, stage


class _GarbageCamera:
    """An HTTP 'camera' that answers with random bytes forever."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        rng = np.random.default_rng(1)
        self.sock.settimeout(0.5)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                try:
                    conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: multipart/x-mixed-replace; boundary=x\r\n\r\n")
                    for _ in range(200):
                        conn.sendall(b"--x\r\nContent-Type: image/jpeg\r\n\r\n\xff\xd8" + rng.bytes(3000))
                        if self.stop.wait(0.02):
                            break
                except OSError:
                    pass

    def close(self):
        self.stop.set()
        self.sock.close()


def test_a_garbage_camera_does_not_affect_the_others(live_system):
    app, cid = live_system.app, live_system.camera_id
    garbage = _GarbageCamera()
    try:
        added = app.request("POST", "/api/v1/cameras", json={"url": f"http://127.0.0.1:{garbage.port}/stream",
                                                             "id": "garbage"})
        assert added.status_code == 201, added.text
        before = app.camera(cid)
        wait_until(lambda: app.camera(cid)["frames"] > before["frames"] + 60, what="frames to keep flowing")
        assert app.camera(cid)["online"]
        assert app.camera("garbage") is not None and not app.camera("garbage")["online"]
        assert app.get("/healthz").status_code == 200
    finally:
        app.request("DELETE", "/api/v1/cameras/garbage")
        garbage.close()


def test_a_camera_without_the_camera_token_is_refused_both_ways(live_system):
    app = live_system.app
    rogue = live_system.start_camera(token="not-the-camera-token")
    try:
        wait_until(lambda: "registration from 127.0.0.1 refused" in app.log()
                   and f"camera {rogue.name}" in app.log(), what="both registrations to be refused")
        assert find_camera(app, rogue.port) is None
        assert "not-the-camera-token" not in app.log()
    finally:
        rogue.stop()


def test_a_killed_camera_goes_offline_and_comes_back(live_system):
    app, cid = live_system.app, live_system.camera_id
    port = live_system.camera.port
    live_system.camera.kill()            # no goodbye, like a camera losing power
    wait_until(lambda: not app.camera(cid)["online"], what="the killed camera to be reported offline")
    live_system.camera = live_system.start_camera(port)
    back = wait_until(lambda: (c := find_camera(app, port)) and c["online"] and c, what="the camera to come back")
    assert back["id"] == cid
