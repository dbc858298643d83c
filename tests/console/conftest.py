"""Fixtures for the operator console: the app in-process with both roles' tokens."""

from __future__ import annotations

import pytest

from edgeface.live.service import ServiceConfig
from webapp import create_app
from webapp.config import AppSettings

ADMIN = "console-admin-token-0123456789"
VIEWER = "console-viewer-token-9876543210"


@pytest.fixture
def make_app(sample_model, tmp_path):
    """``make(api_token=, viewer_token=)`` -> a started app (real LiveService, no cameras)."""
    apps = []

    def make(api_token: str | None = ADMIN, viewer_token: str | None = VIEWER):
        settings = AppSettings(api_token=api_token, viewer_token=viewer_token,
                               service=ServiceConfig(model_path=str(sample_model), events_dir=str(tmp_path / "events")))
        app = create_app(settings)
        apps.append(app)
        app.extensions["edgeface"].watcher.wait_loaded(30)
        return app

    yield make
    for app in apps:
        app.extensions["edgeface"].close()
