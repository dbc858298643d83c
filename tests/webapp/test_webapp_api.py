"""The Flask app in-process (Flask's test client, real LiveService, no mDNS): access rules, the
login flow, registration rules, hot reload seen through the API, clean shutdown."""

from __future__ import annotations

import os
import re
import threading

import pytest
from webapp_helpers import wait_until

from edgeface.modelfile import FaceModel
from edgeface.settings import CameraSettings, HttpSettings, ModelSettings, Settings
from webapp import create_app

TOKEN = "test-api-token-0123456789"
CAMERA_TOKEN = "test-camera-token"


@pytest.fixture
def make_app(sample_model):
    apps = []

    def make(token=None, camera_token=None, model=sample_model, cameras=(), **camera_settings):
        settings = Settings(http=HttpSettings(api_token=token, max_upload_bytes=2_000_000),
                            model=ModelSettings(file=str(model), reload_interval_s=0.2),
                            cameras=CameraSettings(initial=list(cameras), token=camera_token, **camera_settings))
        app = create_app(settings)
        apps.append(app)
        app.extensions["edgeface"].watcher.wait_loaded(30)
        return app.test_client()

    yield make
    for app in apps:
        app.extensions["edgeface"].close()


def test_without_a_token_reading_is_open_and_changes_are_refused(make_app, media_dir):
    client = make_app()
    assert client.get("/").status_code == 200
    assert client.get("/api/v1/cameras").json == {"cameras": []}
    response = client.post("/api/v1/cameras", json={"url": "rtsp://127.0.0.1:9/x"})
    assert response.status_code == 403 and "EDGEFACE_API_TOKEN" in response.json["hint"]
    assert client.delete("/api/v1/cameras/x").status_code == 403
    with open(media_dir / "probes" / "obama1.jpg", "rb") as f:     # recognising changes nothing
        recognized = client.post("/api/v1/recognize", data={"image": (f, "obama1.jpg")})
    assert recognized.status_code == 200 and recognized.json["faces"][0]["name"] == "Barack Obama"


def test_login_form_session_and_csrf(make_app):
    client = make_app(token=TOKEN)
    assert client.get("/api/v1/cameras").status_code == 401
    assert client.get("/api/v1/cameras", headers={"Authorization": "Bearer " + TOKEN}).status_code == 200
    first = client.get("/cameras/x?y=1")
    assert first.status_code == 302 and "/login?next=/cameras/x?y%3D1" in first.headers["Location"]
    assert client.post("/login", data={"token": "nope"}).status_code == 401
    response = client.post("/login", data={"token": TOKEN, "next": "//evil.example/"})
    assert response.status_code == 302 and response.headers["Location"] == "/", "open redirect after login"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    page = client.get("/")
    assert page.status_code == 200 and TOKEN not in page.text
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)
    assert client.get("/api/v1/cameras").status_code == 200
    body = {"url": "rtsp://127.0.0.1:9/x", "id": "door"}
    assert client.post("/api/v1/cameras", json=body).status_code == 403
    assert client.post("/api/v1/cameras", json=body, headers={"X-CSRF-Token": "forged"}).status_code == 403
    created = client.post("/api/v1/cameras", json=body, headers={"X-CSRF-Token": csrf})
    assert created.status_code == 201 and created.json["id"] == "door"
    assert client.delete("/api/v1/cameras/door", headers={"X-CSRF-Token": csrf}).json == {"removed": "door"}
    client.post("/logout")
    assert client.get("/api/v1/cameras").status_code == 401


def test_registration_needs_the_camera_token_and_an_allowed_address(make_app):
    client = make_app(camera_token=CAMERA_TOKEN)
    assert client.get("/register?ip=127.0.0.1&port=9&token=wrong").status_code == 403
    assert client.get("/register?ip=127.0.0.1&port=9").status_code == 403
    assert client.get(f"/register?ip=10.1.2.3&port=9&token={CAMERA_TOKEN}").status_code == 200
    refused = client.get(f"/register?ip=203.0.113.5&token={CAMERA_TOKEN}")
    assert refused.status_code == 403 and "allowed networks" in refused.json["error"]
    first = client.get(f"/register?ip=127.0.0.1&port=9&token={CAMERA_TOKEN}").json["camera"]
    again = client.get(f"/register?ip=127.0.0.1&port=9&token={CAMERA_TOKEN}").json["camera"]
    assert first == again, "re-registering duplicated the camera"
    cams = {c["id"]: c for c in client.get("/api/v1/cameras").json["cameras"]}
    assert cams[first]["origin"] == "register" and CAMERA_TOKEN not in cams[first]["url"]


def test_registration_is_limited_to_configured_networks(make_app):
    from edgeface.cameras.netpolicy import parse_networks

    client = make_app(allowed_networks=parse_networks("192.168.7.0/24"))
    assert client.get("/register?ip=127.0.0.1&port=9&token=t").status_code == 403
    assert client.get("/register?ip=192.168.7.20&port=9&token=t").status_code == 200


def test_hot_reload_is_visible_in_the_api_and_bad_models_are_refused(make_app, sample_model, tmp_path):
    path = tmp_path / "model.data"
    model = FaceModel.load(sample_model)

    def publish(version):
        FaceModel(model.embeddings, model.labels, model.names, {"version": version}).save(path)

    publish("2024.1")
    client = make_app(model=path)
    assert client.get("/api/v1/model").json["version"] == "2024.1"
    assert "2024.1" in client.get("/").text
    publish("2024.2")
    wait_until(lambda: client.get("/api/v1/model").json["version"] == "2024.2", what="the new model")
    path.write_bytes(b"definitely not a model")
    wait_until(lambda: client.get("/api/v1/model").json["last_error"], what="the bad model to be refused")
    status = client.get("/api/v1/model").json
    assert status["version"] == "2024.2" and status["reloads"]["failed"] >= 1
    assert client.get("/readyz").json == {"ready": True, "model_version": "2024.2"}


def test_not_ready_without_a_model(make_app, tmp_path, media_dir):
    client = make_app(model=tmp_path / "missing.data")
    ready = client.get("/readyz")
    assert ready.status_code == 503 and "no model" in ready.json["reason"]
    assert client.get("/healthz").status_code == 200
    with open(media_dir / "probes" / "obama1.jpg", "rb") as f:
        assert client.post("/api/v1/recognize", data={"image": (f, "o.jpg")}).status_code == 503
    assert client.get("/video_feed").status_code == 503


def test_metrics_of_an_app_without_cameras(make_app):
    from prometheus_client.parser import text_string_to_metric_families

    client = make_app()
    response = client.get("/metrics")
    assert response.status_code == 200 and response.content_type.startswith("text/plain; version=0.0.4")
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    assert families["edgeface_camera_online"].samples == [] and families["edgeface_events"].samples == []
    samples = {(s.name, tuple(s.labels.items())): s.value for f in families.values() for s in f.samples}
    version = client.get("/api/v1/model").json["version"]
    assert samples[("edgeface_model_loaded", ())] == 1
    assert samples[("edgeface_model_info", (("version", version),))] == 1
    assert samples[("edgeface_model_reloads_total", (("result", "ok"),))] == 1
    assert samples[("edgeface_analysis_queue_depth", ())] == 0


def test_uploads_are_checked(make_app):
    import io

    client = make_app()
    too_big = client.post("/api/v1/recognize", data={"image": (io.BytesIO(b"\xff\xd8" + bytes(3_000_000)), "b.jpg")})
    assert too_big.status_code == 413 and "limit" in too_big.json["error"]
    not_image = client.post("/api/v1/recognize", data={"image": (io.BytesIO(b"%PDF-1.4"), "doc.pdf")})
    assert not_image.status_code == 400 and "doc.pdf" in not_image.json["error"]
    from PIL import Image  # small file, huge picture: 9000 x 6000 pixels

    png = io.BytesIO()
    Image.new("L", (9000, 6000)).save(png, "PNG")
    assert png.tell() < 2_000_000
    huge = client.post("/api/v1/recognize", data={"image": (io.BytesIO(png.getvalue()), "huge.png")})
    assert huge.status_code == 400 and "larger than the limit" in huge.json["error"]


def test_every_thread_ends_on_close(sample_model, clip):
    before = set(threading.enumerate())
    settings = Settings(model=ModelSettings(file=str(sample_model)), cameras=CameraSettings(initial=[str(clip)]))
    app = create_app(settings)
    client = app.test_client()
    wait_until(lambda: any(c["online"] for c in client.get("/api/v1/cameras").json["cameras"]),
               what="the file camera")
    engine_pids = app.extensions["edgeface"].engine.pids()
    assert engine_pids, "the face engine should run in child processes by default"
    app.extensions["edgeface"].close()
    left = [t for t in threading.enumerate() if t not in before and t.is_alive()]
    assert not left, f"threads still running after close: {[t.name for t in left]}"
    assert not [pid for pid in engine_pids if os.path.exists(f"/proc/{pid}")], "engine processes left running"
