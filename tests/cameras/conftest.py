"""Fixtures for the camera side: real JPEG frames from the sample clip and real local servers."""

from __future__ import annotations

import logging
import threading

import cv2
import pytest
from camera_helpers import LiveCamera, ScriptedCamera, wait_until
from stream_servers import (  # noqa: F401 - RTSP/RTMP server fixtures
    counter_h264,
    h264_sample,
    rtmp_server,
    rtsp_factory,
    two_stream_camera,
)

from edgeface.cameras.source import CameraSource
from edgeface.images import encode_jpeg


@pytest.fixture(scope="session")
def video_path(media_dir):
    return media_dir / "video" / "short_hamilton_clip.mp4"


@pytest.fixture(scope="session")
def jpeg_frames(video_path) -> list[bytes]:
    """Twenty real frames of the sample clip as JPEG, the kind a camera sends."""
    cap = cv2.VideoCapture(str(video_path))
    frames = []
    while len(frames) < 20:
        ok, bgr = cap.read()
        assert ok, f"cannot read {video_path}"
        frames.append(encode_jpeg(bgr, 70))
    cap.release()
    return frames


@pytest.fixture
def sources():
    """``make(id, url, **options)``: a started CameraSource, stopped after the test."""
    started: list[CameraSource] = []

    def make(*args, **kwargs) -> CameraSource:
        src = CameraSource(*args, **kwargs).start()
        started.append(src)
        return src

    yield make
    for src in started:
        src.close()


@pytest.fixture
def scripted_camera():
    camera = ScriptedCamera()
    yield camera
    camera.close()


@pytest.fixture
def live_camera_factory(jpeg_frames):
    cameras = []

    def make(**kwargs) -> LiveCamera:
        camera = LiveCamera(jpeg_frames, **kwargs)
        cameras.append(camera)
        return camera

    yield make
    for camera in cameras:
        camera.kill()


@pytest.fixture(autouse=True)
def _camera_logs(caplog):
    """Keep camera-side log records for assertions (e.g. that no token is ever logged)."""
    caplog.set_level(logging.INFO, logger="edgeface.cameras")


@pytest.fixture(autouse=True)
def _no_camera_thread_survives():
    """Every camera-side thread a test started has ended once its fixtures are torn down."""
    before = set(threading.enumerate())
    yield

    def leftovers():
        return [t.name for t in threading.enumerate()
                if t not in before and t.is_alive() and t.name.startswith("camera-")]

    wait_until(lambda: not leftovers(), timeout=20, what="camera threads to end")
