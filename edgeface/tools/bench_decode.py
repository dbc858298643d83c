"""What receiving a camera costs: H.264 over RTSP against MJPEG, at 640x360, 1280x720, 1920x1080.

Each case runs one :class:`~edgeface.cameras.source.CameraSource`, the app's own reader, against a
real server on loopback (GStreamer's RTSP server; the camera simulator for MJPEG) and measures this
process's CPU time (every thread: OpenCV/FFmpeg decodes in threads of its own) over a window.
Servers run in child processes, so their cost is not counted. H.264 frames are all decoded by
FFmpeg as they arrive; MJPEG is measured twice: frames received (the app decodes only the frames
analysis takes) and every frame decoded, which is what H.264 always costs. A camera's identify
(main) stream (``edgeface.cameras.identify``) is kept as packets and decoded when asked: measured
with nobody asking, and with a moment asked for once a second and five times a second (as a search
with a face due an encoding asks: ``hold`` around the newest frame, ``wait``, a thumbnail of each
frame given and a face's region of the middle one converted, 1/4 of the picture's width and
height around its centre).
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from edgeface.cameras.identify import IdentifyStream
from edgeface.cameras.source import CameraSource
from edgeface.errors import ConfigError
from edgeface.lifecycle import ChildProcess
from edgeface.live.identify import THUMB_SIZE
from edgeface.ports import free_port
from edgeface.tools.streamserve import RtspServer, h264_clip, missing_tools

HEIGHTS = (360, 720, 1080)
WARMUP_S = 3.0
#: Moments asked of an identify stream per second, per case (0: none, faces are not tracked).
ASKS_PER_S = (0.0, 1.0, 5.0)
#: ... each the frames within this of a detect frame's time (``2 × identify_max_skew_s``).
ASK_SPAN_S = 0.14


def _asking(identify: IdentifyStream, per_s: float, stop: threading.Event) -> threading.Thread:
    """A thread that asks ``identify`` for the moment of its newest frame ``per_s`` times a second."""
    def ask() -> None:
        while not stop.wait(1 / per_s):
            if (frame := identify.latest()) is not None:
                frames = identify.hold(frame.time, ASK_SPAN_S).wait(1.0)
                for f in frames:              # as the search's choice of frame: a thumbnail of each,
                    f.small(THUMB_SIZE)
                if frames and (size := frames[len(frames) // 2].size) is not None:   # a face's region
                    h, w = size
                    frames[len(frames) // 2].region(h * 3 // 8, w * 5 // 8, h * 5 // 8, w * 3 // 8)
    thread = threading.Thread(target=ask, daemon=True)
    thread.start()
    return thread


def _decoded_of(identify: IdentifyStream) -> Callable[[], int]:
    return lambda: identify.counts.decoded


def _measure(src: CameraSource, duration: float, decode_all: bool,
             decoded_count: Callable[[], int] | None = None) -> dict:
    """CPU of this process per received frame while ``src`` streams for ``duration`` seconds;
    frames decoded per second where known (``decode_all``: a consumer decodes each;
    ``decoded_count``: the source counts them)."""
    first = src.wait_frame(0, timeout=30)
    if first is None:
        raise ConfigError(f"no frame from {src!r}: {src.status()['error']}", "check the stream servers")
    stop = threading.Event()
    decoded = [0]

    def consume() -> None:  # a consumer that wants every frame's pixels
        seq = 0
        while not stop.is_set():
            frame = src.wait_frame(seq, timeout=0.5)
            if frame is not None:
                seq = frame.seq
                if frame.bgr is not None:
                    decoded[0] += 1

    consumer = threading.Thread(target=consume, daemon=True) if decode_all else None
    if consumer:
        consumer.start()
    count = (lambda: decoded[0]) if decode_all else decoded_count
    time.sleep(WARMUP_S)
    frames0, cpu0, wall0 = src.status()["frames"], time.process_time(), time.monotonic()
    decoded0 = count() if count else 0
    time.sleep(duration)
    frames, cpu, wall = src.status()["frames"] - frames0, time.process_time() - cpu0, time.monotonic() - wall0
    decoded_fps = round((count() - decoded0) / wall, 1) if count else None
    stop.set()
    if consumer:
        consumer.join(2)
    shape = first.bgr.shape if first.bgr is not None else None
    return {"size": f"{shape[1]}x{shape[0]}" if shape else "-", "fps": round(frames / wall, 1),
            "decoded_fps": decoded_fps,
            "cpu_ms_per_frame": round(cpu / max(frames, 1) * 1e3, 2),
            "cpu_percent_of_core": round(cpu / wall * 100, 1)}


def _mjpeg_camera(video: Path, workdir: Path) -> tuple[ChildProcess, str]:
    port, token = free_port(), secrets.token_urlsafe(12)
    log = (workdir / f"mjpeg-{port}.log").open("ab")
    child = ChildProcess("camera simulator", [
        sys.executable, "-m", "edgeface", "camera", "--source", str(video), "--host", "127.0.0.1",
        "--port", str(port), "--no-register", "--no-advertise"],
        env={**os.environ, "EDGEFACE_CAMERA_TOKEN": token}, stdout=log, stderr=subprocess.STDOUT).start()
    log.close()
    return child, f"http://127.0.0.1:{port}/stream?token={token}"


def run(video: Path, duration: float = 8.0, heights=HEIGHTS) -> dict:
    missing = missing_tools()
    if missing:
        raise ConfigError(f"the decode benchmark needs {', '.join(missing)}",
                          "install them with scripts/install-deps.sh --test (as root)")
    rows = []
    with tempfile.TemporaryDirectory(prefix="edgeface-bench-decode-") as tmp:
        workdir = Path(tmp)
        for height in heights:
            clip = h264_clip(video, workdir, height, repeat=max(2, int((duration + WARMUP_S) // 10) + 2))
            server = RtspServer(clip, workdir).start()
            try:
                src = CameraSource(f"rtsp-{height}", server.url()).start()
                try:
                    row = {"protocol": "rtsp/h264", "height": height, **_measure(src, duration, False)}
                    rows.append({**row, "decoded_fps": row["fps"]})  # FFmpeg decodes every H.264 frame
                finally:
                    src.close()
                for per_s in ASKS_PER_S:
                    identify = IdentifyStream(f"rtsp-{height}", server.url()).start()
                    stop = threading.Event()
                    asker = _asking(identify, per_s, stop) if per_s else None
                    try:
                        rows.append({"protocol": f"identify, {per_s:g} asks/s", "height": height,
                                     **_measure(identify, duration, False, _decoded_of(identify))})
                    finally:
                        stop.set()
                        if asker:
                            asker.join(2)
                        identify.close()
            finally:
                server.close()
            camera, url = _mjpeg_camera(clip, workdir)
            try:
                for decode_all in (False, True):
                    src = CameraSource(f"mjpeg-{height}", url).start()
                    try:
                        name = "mjpeg, all decoded" if decode_all else "mjpeg, received"
                        rows.append({"protocol": name, "height": height, **_measure(src, duration, decode_all)})
                    finally:
                        src.close()
            finally:
                camera.stop()
    return {"source": str(video), "duration_s": duration, "cpu_count": os.cpu_count(), "rows": rows}


def format_table(result: dict) -> str:
    lines = [f"edgeface bench --suite decode: {Path(result['source']).name}, {result['duration_s']:g} s per case, "
             f"{result['cpu_count']} CPUs; CPU of the reading process only",
             f"{'protocol':20} {'height':>6} {'fps':>6} {'decoded fps':>12} {'CPU ms/frame':>13} {'% of a core':>12}"]
    for r in result["rows"]:
        decoded = "-" if r["decoded_fps"] is None else f"{r['decoded_fps']:g}"
        lines.append(f"{r['protocol']:20} {r['height']:>6} {r['fps']:>6g} {decoded:>12} "
                     f"{r['cpu_ms_per_frame']:>13g} {r['cpu_percent_of_core']:>12g}")
    return "\n".join(lines)
