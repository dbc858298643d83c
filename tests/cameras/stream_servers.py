"""Fixtures: real RTSP (GStreamer) and RTMP (nginx) servers on 127.0.0.1 serving the sample clip.

Import the fixtures into a test module (``from stream_servers import rtsp_factory, ...``). The
servers themselves live in ``edgeface.tools.streamserve`` (the decode benchmark uses them too).
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import pytest
from helpers import missing_test_tool

from edgeface.tools.streamserve import RtmpServer, RtspServer, counter_clip, h264_clip, missing_tools

#: The clip repeated this many times inside the served file (10 s each): longer than any test.
REPEAT = 30
USER, PASSWORD = "operator", "Pa55:w@rd/1"   # characters that must be percent-encoded in a URL


def require_stream_tools() -> None:
    """Fail under CI (skip elsewhere) when the Debian packages for the servers are missing."""
    missing = missing_tools()
    if not missing:
        return
    missing_test_tool(f"missing for the RTSP/RTMP servers: {', '.join(missing)}; scripts/run-tests.sh installs them")


@pytest.fixture(scope="session")
def h264_sample(video_path, tmp_path_factory) -> Path:
    require_stream_tools()
    return h264_clip(video_path, tmp_path_factory.mktemp("h264"), repeat=REPEAT)


@pytest.fixture
def rtsp_factory(h264_sample, tmp_path):
    """``make(auth="digest"|"basic")``: a started RTSP server with ``USER``/``PASSWORD``."""
    servers: list[RtspServer] = []

    def make(auth: str = "digest") -> RtspServer:
        server = RtspServer(h264_sample, tmp_path, user=USER, password=PASSWORD, auth=auth)
        servers.append(server)
        return server.start()

    yield make
    for server in servers:
        server.close()


@pytest.fixture(scope="session")
def counter_h264(video_path, tmp_path_factory) -> Path:
    """The clip at 1280x720, every frame carrying its number (``streamserve.frame_counter``)."""
    require_stream_tools()
    return counter_clip(video_path, tmp_path_factory.mktemp("counter"), size=(1280, 720), seconds=20)


@pytest.fixture
def two_stream_camera(counter_h264, tmp_path):
    """``make(split="MAIN_WxH,SUB_WxH", main_delay_ms=0)``: a started camera serving ``/main``
    and ``/sub`` from one decode of ``counter_h264`` (see ``rtsp_server.py``)."""
    with ExitStack() as running:
        made = iter(range(1000))

        def make(split: str = "1280x720,640x360", main_delay_ms: int = 0) -> RtspServer:
            workdir = tmp_path / f"camera-{next(made)}"
            workdir.mkdir()
            server = RtspServer(counter_h264, workdir, split=split, main_delay_ms=main_delay_ms)
            running.callback(server.close)
            return server.start()

        yield make


@pytest.fixture
def rtmp_server(h264_sample, tmp_path):
    server = RtmpServer(h264_sample, tmp_path).start()
    yield server
    server.close()
