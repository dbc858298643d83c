"""Fixtures for the web app: the app under gunicorn and a simulated camera, as separate processes
that find each other over real mDNS on 127.0.0.1."""

from __future__ import annotations

import secrets
import shutil
from types import SimpleNamespace

import pytest
from helpers import free_port
from webapp_helpers import App, Camera, find_camera, unique, wait_until


@pytest.fixture(scope="session")
def clip(media_dir):
    return media_dir / "video" / "short_hamilton_clip.mp4"


@pytest.fixture(scope="session")
def live_system(sample_model, clip, tmp_path_factory):
    """``edgeface serve`` (gunicorn) with API and camera tokens, plus one ``edgeface camera``."""
    logs = tmp_path_factory.mktemp("live")
    model = logs / "model.data"                 # our own copy: a test replaces it (hot reload)
    shutil.copy(sample_model, model)
    register_host = unique("edgeface-test") + ".local"
    camera_token = secrets.token_urlsafe(12)
    env = {"EDGEFACE_API_TOKEN": secrets.token_urlsafe(16), "EDGEFACE_CAMERA_TOKEN": camera_token,
           "EDGEFACE_REGISTER_HOST": register_host, "EDGEFACE_RELOAD_INTERVAL": "0.5"}
    app = App(free_port(), env, logs / "app.log", "--model", str(model), "--mdns-interface", "127.0.0.1")
    cameras: list[Camera] = []

    def start_camera(port: int | None = None, token: str = camera_token) -> Camera:
        cam = Camera(clip, port or free_port(), unique("webapp-test-cam"), register_host, token,
                     logs / f"camera-{len(cameras)}.log")
        cameras.append(cam)
        return cam

    try:
        app.wait_ready()
        camera = start_camera()
        cam = wait_until(lambda: find_camera(app, camera.port), what="the simulator to register over mDNS")
        yield SimpleNamespace(app=app, camera=camera, camera_id=cam["id"], start_camera=start_camera, model=model,
                              camera_token=camera_token, register_host=register_host, logs=logs)
    finally:
        for cam in cameras:
            cam.stop()
        app.stop()
