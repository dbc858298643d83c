"""Fixtures for the operator console: the app with both roles' tokens, in-process or as
``edgeface serve`` with a simulated camera."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from console_helpers import ADMIN, VIEWER

from edgeface.settings import EventSettings, HttpSettings, ModelSettings, Settings
from webapp import create_app

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "webapp"))   # webapp_helpers: App, Camera
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "uplink"))   # mqtt_helpers: Broker, Recorder


@pytest.fixture(scope="module")
def chromium():
    """One headless Chromium per test module (a module that needs its own defines its own)."""
    from helpers import headless_chromium

    with headless_chromium() as browser:
        yield browser


@pytest.fixture
def make_app(sample_model, tmp_path):
    """``make(api_token=, viewer_token=)`` -> a started app (real LiveService, no cameras)."""
    apps = []

    def make(api_token: str | None = ADMIN, viewer_token: str | None = VIEWER):
        settings = Settings(http=HttpSettings(api_token=api_token, viewer_token=viewer_token),
                            model=ModelSettings(file=str(sample_model)),
                            events=EventSettings(dir=str(tmp_path / "events")))
        app = create_app(settings)
        apps.append(app)
        app.extensions["edgeface"].watcher.wait_loaded(30)
        return app

    yield make
    for app in apps:
        app.extensions["edgeface"].close()
