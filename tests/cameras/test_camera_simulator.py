"""The camera simulator run as users run it: ``python -m edgeface camera ...`` in its own process."""

from __future__ import annotations

import signal
import socket
import threading
import urllib.error
import urllib.request

import pytest
from camera_helpers import DEADLINE_S, SimulatorProcess, wait_until

from edgeface.cameras.mjpeg import StreamRejected, iter_mjpeg
from edgeface.cameras.playback import Playback
from edgeface.images import decode_jpeg
from edgeface.tools.simulator import CameraSimulator, FrameFeed, SimulatorConfig

pytestmark = pytest.mark.slow

TOKEN = "sim-token-3c1d"


@pytest.fixture
def simulator(video_path):
    sim = SimulatorProcess("--source", str(video_path), "--port", "0", "--token", TOKEN,
                           "--no-register", "--no-advertise")
    try:
        yield sim.wait_ready()
    finally:
        sim.terminate()


def http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=DEADLINE_S) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


def test_stream_needs_the_token(simulator):
    assert http_status(simulator.url("/stream")) == 401
    assert http_status(simulator.url("/stream", "wrong")) == 401
    assert http_status(simulator.url("/capture")) == 401
    with pytest.raises(StreamRejected):
        next(iter_mjpeg(simulator.url("/stream", "wrong"), timeout=DEADLINE_S))


def test_stream_and_capture_serve_the_video(simulator):
    frames = []
    for jpeg in iter_mjpeg(simulator.url("/stream", TOKEN), timeout=DEADLINE_S):
        frames.append(jpeg)
        if len(frames) == 5:
            break
    assert len(set(frames)) == 5  # consecutive frames of a moving video differ
    assert all(decode_jpeg(f).shape == (360, 640, 3) for f in frames)
    with urllib.request.urlopen(simulator.url("/capture", TOKEN), timeout=DEADLINE_S) as response:
        assert response.headers["Content-Type"] == "image/jpeg"
        assert decode_jpeg(response.read()).shape == (360, 640, 3)


def test_clients_share_one_encode_per_frame_and_sigterm_is_clean(simulator):
    """Two clients at once get the same bytes; SIGTERM ends the process cleanly with 0."""
    results: dict[int, list[bytes]] = {0: [], 1: []}

    def read(i):
        for jpeg in iter_mjpeg(simulator.url("/stream", TOKEN), timeout=DEADLINE_S):
            results[i].append(jpeg)
            if len(results[i]) == 30:
                return

    readers = [threading.Thread(target=read, args=(i,)) for i in (0, 1)]
    for r in readers:
        r.start()
    for r in readers:
        r.join(DEADLINE_S * 2)
    assert set(results[0]) & set(results[1])  # identical bytes: encoded once, sent to both
    assert simulator.terminate(signal.SIGTERM) == 0
    wait_until(lambda: "stopped" in simulator.stderr, what="the shutdown message")


def test_sigint_with_a_connected_client_exits_cleanly(simulator):
    stream = iter_mjpeg(simulator.url("/stream", TOKEN), timeout=DEADLINE_S)
    next(stream)
    assert simulator.terminate(signal.SIGINT) == 0


def test_bad_source_is_a_clear_error(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (tmp_path / "not-a-video.mp4").write_bytes(b"\x00" * 1000)
    for source, message in ((tmp_path / "missing.mp4", "no such file"),
                            (empty, "no readable images"),
                            (tmp_path / "not-a-video.mp4", "not a video")):
        sim = SimulatorProcess("--source", str(source), "--port", "0", "--no-register", "--no-advertise")
        assert sim.proc.wait(DEADLINE_S) == 2
        wait_until(lambda: any(message in line and "edgeface: error:" in line for line in sim.stderr),
                   what=f"error {message!r} on stderr")
        assert not any("Traceback" in line for line in sim.stderr)


def test_image_folder_and_video_cache_encode_each_frame_once(media_dir, video_path):
    """In-process: a later loop of the clip replays cached JPEGs instead of encoding again."""
    playback = Playback(media_dir / "probes")
    assert playback.fps == 2.0 and len(list(playback.one_pass())) >= 10
    config = SimulatorConfig(source=str(video_path), port=0, register_host=None, advertise=False, fps=240)
    sim = CameraSimulator(config).start()
    try:
        frame_count = sum(1 for _ in Playback(video_path).one_pass())
        seq, deadline_frames = 0, frame_count * 2 + 5
        while seq < deadline_frames:  # more than two loops of the clip
            item = sim.feed.frames.wait(seq, timeout=DEADLINE_S)
            assert item is not None, "the feed stopped"
            seq = item[0]
        assert sim.feed.encoded == frame_count
    finally:
        sim.stop()


def test_a_camera_with_two_streams_sends_one_moment_on_both(video_path):
    """In-process: /stream scaled to the sub-stream's size, /main at the source's (token needed),
    each frame of both from one moment: the sub-stream's frame is the main one scaled."""
    import cv2
    import numpy as np

    config = SimulatorConfig(source=str(video_path), port=0, register_host=None, advertise=False,
                             sub_size=(320, 180), quality=95)
    sim = CameraSimulator(config).start()
    try:
        sub = next(iter_mjpeg(f"http://127.0.0.1:{sim.port}/stream?token={sim.token}", timeout=DEADLINE_S))
        assert decode_jpeg(sub).shape == (180, 320, 3)
        assert http_status(f"http://127.0.0.1:{sim.port}/main?token=wrong") == 401
        for jpeg in iter_mjpeg(f"http://127.0.0.1:{sim.port}/main?token={sim.token}", timeout=DEADLINE_S):
            assert decode_jpeg(jpeg).shape == (360, 640, 3)
            break
    finally:
        sim.stop()
    pairs = FrameFeed(Playback(video_path), quality=95, sub_size=(320, 180)).jpegs()
    for _ in range(3):
        sub, main = next(pairs)
        small, large = decode_jpeg(sub).astype(np.int16), decode_jpeg(main)
        scaled = cv2.resize(large, (320, 180), interpolation=cv2.INTER_AREA).astype(np.int16)
        assert large.shape == (360, 640, 3) and np.abs(small - scaled).mean() < 4, "another moment"
    assert next(FrameFeed(Playback(video_path)).jpegs())[1] is None, "one stream unless asked"


def test_stop_without_start_releases_the_port(video_path):
    """A simulator whose start never came (the caller failed in between) still closes cleanly."""
    config = SimulatorConfig(source=str(video_path), port=0, register_host=None, advertise=False)
    sim = CameraSimulator(config)
    port = sim.port
    sim.stop()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))  # free again: the listening socket was closed
