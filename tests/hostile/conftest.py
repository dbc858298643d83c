"""Fixtures for the hostile-input suite: one real app (``edgeface serve`` under gunicorn, no mDNS)
that registration, auth, upload and camera-URL attacks are thrown at, and one good camera that
must keep streaming through all of them.

The app allows self-registration only from ``::1/128`` (the issue's reproduction), so a
registration that reaches 127.0.0.1 has got past the network policy. Rate-limit tests connect
from other loopback addresses (127.0.0.2, ...), so the limits they trip do not lock the rest of
the suite (which talks from 127.0.0.1) out.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

HERE = Path(__file__).resolve().parent
for folder in ("cameras", "webapp"):  # their helper modules, shared rather than copied
    sys.path.insert(0, str(HERE.parent / folder))

from camera_helpers import LiveCamera  # noqa: E402
from helpers import free_port  # noqa: E402
from hostile_helpers import API_TOKEN, CAMERA_TOKEN, ROUTER, UPLOADS_ENGINE_IDLE_S  # noqa: E402
from webapp_helpers import App  # noqa: E402


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# The camera folder's fixtures (real frames of the sample clip, real local camera servers, the
# check that no camera thread outlives its test), used here as they are.
_cameras = _load(HERE.parent / "cameras" / "conftest.py", "hostile_camera_fixtures")
video_path, jpeg_frames, scripted_camera = _cameras.video_path, _cameras.jpeg_frames, _cameras.scripted_camera
live_camera_factory, _no_camera_thread_survives = _cameras.live_camera_factory, _cameras._no_camera_thread_survives

@pytest.fixture(scope="session")
def good_camera(jpeg_frames):
    camera = LiveCamera(jpeg_frames, fps=15.0)
    yield camera
    camera.kill()


@pytest.fixture(scope="session")
def hostile_app(sample_model, good_camera, tmp_path_factory):
    """The app under attack, reading ``good_camera`` (added by API: API URLs need no allowed network)."""
    logs = tmp_path_factory.mktemp("hostile")
    env = {"EDGEFACE_API_TOKEN": API_TOKEN, "EDGEFACE_CAMERA_TOKEN": CAMERA_TOKEN,
           "EDGEFACE_RECOGNIZE_IDLE_S": str(UPLOADS_ENGINE_IDLE_S)}
    app = App(free_port(), env, logs / "app.log", "--model", str(sample_model), "--allowed-networks", "::1/128")
    try:
        app.wait_ready()
        added = app.request("POST", "/api/v1/cameras", json={"url": good_camera.url(), "id": "good"})
        assert added.status_code == 201, added.text
        yield SimpleNamespace(app=app, camera_id="good", camera=good_camera)
    finally:
        app.stop()


@pytest.fixture(scope="session")
def router_app(sample_model, tmp_path_factory):
    """A second app, as behind an OpenShift Route (``EDGEFACE_TRUSTED_PROXIES`` = ``ROUTER``), also
    listening for ONVIF cameras on loopback. Its own process: the guess floods thrown at it must not
    hold ``hostile_app``'s limits for the rest of the suite."""
    logs = tmp_path_factory.mktemp("router")
    env = {"EDGEFACE_API_TOKEN": API_TOKEN, "EDGEFACE_CAMERA_TOKEN": CAMERA_TOKEN,
           "EDGEFACE_TRUSTED_PROXIES": f"{ROUTER}/32", "EDGEFACE_DISCOVERY_INTERFACE": "127.0.0.1",
           "EDGEFACE_EVENTS_DIR": str(logs / "events")}
    app = App(free_port(), env, logs / "app.log", "--model", str(sample_model))
    try:
        app.wait_ready()
        yield app
    finally:
        app.stop()
