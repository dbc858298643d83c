"""What receiving a camera costs: H.264 over RTSP against MJPEG, at 640x360, 1280x720, 1920x1080.

Each case runs one :class:`~edgeface.cameras.source.CameraSource`, the app's own reader, against a
real server on loopback (GStreamer's RTSP server; the camera simulator for MJPEG) and measures this
process's CPU time (every thread: OpenCV/FFmpeg decodes in threads of its own) over a window.
Servers run in child processes, so their cost is not counted. H.264 frames are all decoded by
FFmpeg as they arrive; MJPEG is measured twice: frames received (the app decodes only the frames
analysis takes) and every frame decoded, which is what H.264 always costs. A camera's identify
(main) stream (``edgeface.cameras.identify``) is measured twice too: decoded only (no face
tracked) and converted to BGR as well (faces tracked).
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from edgeface.cameras.identify import IdentifyStream
from edgeface.cameras.source import CameraSource
from edgeface.errors import ConfigError
from edgeface.lifecycle import ChildProcess
from edgeface.ports import free_port
from edgeface.tools.streamserve import RtspServer, h264_clip, missing_tools

HEIGHTS = (360, 720, 1080)
WARMUP_S = 3.0


def _measure(src: CameraSource, duration: float, decode_all: bool) -> dict:
    """CPU of this process per received frame while ``src`` streams for ``duration`` seconds."""
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
    time.sleep(WARMUP_S)
    frames0, decoded0, cpu0, wall0 = src.status()["frames"], decoded[0], time.process_time(), time.monotonic()
    time.sleep(duration)
    frames, cpu, wall = src.status()["frames"] - frames0, time.process_time() - cpu0, time.monotonic() - wall0
    stop.set()
    if consumer:
        consumer.join(2)
    shape = first.bgr.shape if first.bgr is not None else None
    return {"size": f"{shape[1]}x{shape[0]}" if shape else "-", "fps": round(frames / wall, 1),
            "decoded_fps": round((decoded[0] - decoded0) / wall, 1) if decode_all else None,
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
                for converted in (False, True):
                    identify = IdentifyStream(f"rtsp-{height}", server.url()).start()
                    if converted:
                        identify.want(duration + WARMUP_S + 60)     # as while faces are tracked
                    try:
                        name = "identify, converted" if converted else "identify, decoded"
                        row = {"protocol": name, "height": height, **_measure(identify, duration, False)}
                        rows.append({**row, "decoded_fps": row["fps"]})
                    finally:
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
             f"{'protocol':20} {'size':>10} {'fps':>6} {'decoded fps':>12} {'CPU ms/frame':>13} {'% of a core':>12}"]
    for r in result["rows"]:
        decoded = "-" if r["decoded_fps"] is None else f"{r['decoded_fps']:g}"
        lines.append(f"{r['protocol']:20} {r['size']:>10} {r['fps']:>6g} {decoded:>12} "
                     f"{r['cpu_ms_per_frame']:>13g} {r['cpu_percent_of_core']:>12g}")
    return "\n".join(lines)
