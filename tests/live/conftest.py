"""Fixtures for the live parts driven directly (no web app): the sample clip."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def clip(media_dir):
    """Lin-Manuel Miranda on stage, scene cuts at frames 20 and 82."""
    return media_dir / "video" / "short_hamilton_clip.mp4"
