"""Real IP-camera servers on 127.0.0.1 for the tests and the decode benchmark.

- :class:`RtspServer`: GStreamer's RTSP server (Debian ``gir1.2-gst-rtsp-server-1.0``, run with
  Debian's ``/usr/bin/python3``: the script is ``rtsp_server.py`` beside this file) with basic or
  digest authentication, TCP and UDP transports.
- :class:`RtmpServer`: nginx with its RTMP module (Debian ``libnginx-mod-rtmp``).

Both serve an H.264 clip made once by :func:`h264_clip` without re-encoding it: GStreamer plays
the file (repeated inside it) in real time; ``ffmpeg -re -stream_loop -1`` publishes it to nginx. Every
process is a :class:`~edgeface.lifecycle.ChildProcess`, stopped by its PID; every socket is on
loopback.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from urllib.parse import quote

from edgeface.errors import EdgefaceError
from edgeface.lifecycle import ChildProcess
from edgeface.ports import free_port

#: Debian's interpreter: the project's Python (pyenv) cannot import Debian's ``gi``.
SYSTEM_PYTHON = "/usr/bin/python3"
RTSP_SCRIPT = Path(__file__).with_name("rtsp_server.py")
NGINX_RTMP_MODULE = "/usr/lib/nginx/modules/ngx_rtmp_module.so"
READY_TIMEOUT_S = 30.0
#: H.264 as IP cameras send it: a keyframe every 30 frames and no B-frames, so a client that joins
#: or rejoins decodes within a second.
X264 = ["-c:v", "libx264", "-preset", "veryfast", "-g", "30", "-bf", "0", "-pix_fmt", "yuv420p"]


class ServerError(RuntimeError):
    """A stream server could not start (a tool is missing or it exited)."""


def missing_tools(rtmp: bool = True) -> list[str]:
    """What this machine lacks to run both servers, or the RTSP one alone (``rtmp=False``);
    empty when everything is there."""
    missing = [tool for tool in ("ffmpeg", *(("nginx",) if rtmp else ())) if shutil.which(tool) is None]
    if rtmp and not Path(NGINX_RTMP_MODULE).exists():
        missing.append("libnginx-mod-rtmp")
    probe = subprocess.run([SYSTEM_PYTHON, "-c", "import gi; gi.require_version('GstRtspServer', '1.0')"],
                           capture_output=True) if Path(SYSTEM_PYTHON).exists() else None
    if probe is None or probe.returncode != 0:
        missing.append("gir1.2-gst-rtsp-server-1.0 + python3-gi")
    return missing


def h264_clip(video: Path, out_dir: Path, height: int | None = None, repeat: int = 1) -> Path:
    """``video`` as H.264 in MPEG-TS (``X264``; scaled to ``height`` if given), ``repeat`` times
    over; made once and cached in ``out_dir``."""
    name = f"{video.stem}-{height or 'native'}p"
    once = out_dir / f"{name}.ts"
    if not once.exists():
        scale = ["-vf", f"scale=-2:{height}"] if height else []
        _ffmpeg_to(once, ["-i", str(video), "-an", *scale, *X264])
    if repeat <= 1:
        return once
    out = out_dir / f"{name}-x{repeat}.ts"
    if not out.exists():
        _ffmpeg_to(out, ["-stream_loop", str(repeat - 1), "-i", str(once), "-c", "copy"])
    return out


#: Counter clips carry each frame's number as this many black/white blocks across the top.
COUNTER_BITS = 12


def counter_clip(video: Path, out_dir: Path, size: tuple[int, int] = (1280, 720), seconds: float = 40.0) -> Path:
    """``video`` at ``size``, looped for ``seconds``, every frame carrying its number
    (``frame_counter`` reads it back at any scale), as H.264 in MPEG-TS; made once, cached.
    A camera with two streams serves it (``RtspServer(split=...)``): a test sees which moment a
    frame of either stream is."""
    import cv2

    out = out_dir / f"{video.stem}-counter-{size[0]}x{size[1]}-{seconds:g}s.ts"
    if out.exists():
        return out
    source = cv2.VideoCapture(str(video))
    fps = source.get(cv2.CAP_PROP_FPS) or 30.0
    frames = []
    while True:
        ok, bgr = source.read()
        if not ok:
            break
        frames.append(cv2.resize(bgr, size, interpolation=cv2.INTER_CUBIC))
    source.release()
    if not frames:
        raise ServerError(f"{video}: no frames")
    encode_h264((_counted(frames[n % len(frames)].copy(), n) for n in range(int(seconds * fps))), size, fps, out)
    return out


def _counted(bgr, n: int):
    _draw_counter(bgr, n)
    return bgr


def encode_h264(frames: Iterable, size: tuple[int, int], fps: float, out: Path) -> None:
    """BGR ``frames`` of ``size`` as H.264 (``X264``) in MPEG-TS at ``out``, written under a
    temporary name and renamed when complete."""
    import numpy as np

    part = out.with_name(f".{out.name}.part")
    encoder = subprocess.Popen(
        ["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "bgr24",
         "-s", f"{size[0]}x{size[1]}", "-r", f"{fps:.3f}", "-i", "-", *X264, "-f", "mpegts", str(part)],
        stdin=subprocess.PIPE)
    assert encoder.stdin is not None
    try:
        for bgr in frames:
            encoder.stdin.write(np.ascontiguousarray(bgr).tobytes())
        encoder.stdin.close()
        if encoder.wait(timeout=600) != 0:
            raise EdgefaceError(f"ffmpeg could not encode {out.name}", "check that ffmpeg has libx264")
        part.rename(out)
    finally:
        if encoder.poll() is None:
            encoder.kill()
            encoder.wait()
        part.unlink(missing_ok=True)


def _counter_blocks(shape: tuple[int, ...]) -> list[tuple[int, int, int, int]]:
    """(top, right, bottom, left) of each bit's block, in a frame of ``shape``: the same part of
    the picture at every size."""
    h, w = shape[:2]
    return [(0, (i + 1) * w // 32, h // 24, i * w // 32) for i in range(COUNTER_BITS)]


def _draw_counter(bgr, n: int) -> None:
    for i, (top, right, bottom, left) in enumerate(_counter_blocks(bgr.shape)):
        bgr[top:bottom, left:right] = 255 if n >> i & 1 else 0


def frame_counter(bgr) -> int:
    """The number ``counter_clip`` drew into a frame (of either stream, at any size)."""
    n = 0
    for i, (top, right, bottom, left) in enumerate(_counter_blocks(bgr.shape)):
        cy, cx = (top + bottom) // 2, (left + right) // 2
        if bgr[cy, cx].mean() > 128:
            n |= 1 << i
    return n


def _ffmpeg_to(out: Path, args: list[str]) -> None:
    """Run ffmpeg writing MPEG-TS to a temporary name, renamed when complete."""
    tmp = out.with_suffix(".part.ts")
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args, "-f", "mpegts", str(tmp)],
                   check=True, timeout=300)
    tmp.rename(out)


def feeder(clip: Path, target: str, fmt: str) -> ChildProcess:
    """``ffmpeg`` sending ``clip`` to ``target`` in real time, looping, without re-encoding."""
    return ChildProcess(f"ffmpeg -> {fmt}", [
        "ffmpeg", "-nostdin", "-v", "error", "-re", "-stream_loop", "-1", "-i", str(clip),
        "-c", "copy", "-f", fmt, target], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class _LoggedServer:
    """A server child whose stdout+stderr go to a log file, read to see it ready."""

    def __init__(self, workdir: Path, label: str):
        self.workdir = workdir
        self.log_path = workdir / f"{label}.log"
        self.child: ChildProcess | None = None

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def _wait_ready(self, ready: Callable[[], bool]) -> None:
        """Returns once ``ready()``; otherwise (not ready in time, or interrupted while waiting:
        the caller never gets the server to stop) the child is stopped and the error raised."""
        try:
            deadline = time.monotonic() + READY_TIMEOUT_S
            while time.monotonic() < deadline:
                if self.child is None or not self.child.running():
                    raise ServerError(f"{self.child and self.child.label} exited:\n{self.log_text()[-2000:]}")
                if ready():
                    return
                time.sleep(0.05)
            raise ServerError(f"{self.child and self.child.label} not ready after {READY_TIMEOUT_S:g} s")
        except BaseException:
            if self.child is not None:
                self.child.stop()
            raise

    def _spawn(self, label: str, argv: list[str], env: dict[str, str] | None = None) -> ChildProcess:
        log = self.log_path.open("ab")
        try:
            return ChildProcess(label, argv, env=env, stdout=log, stderr=subprocess.STDOUT).start()
        finally:
            log.close()  # the child holds its own copy


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class RtspServer(_LoggedServer):
    """``rtsp://USER:PASSWORD@127.0.0.1:PORT/cam`` serving ``clip`` (MPEG-TS H.264) in real time.

    ``stop()`` and ``start()`` take the server down and bring it back on the same port, as a
    camera reboots.
    """

    def __init__(self, clip: Path, workdir: Path, *, user: str = "viewer", password: str = "pw",
                 auth: str = "digest", path: str = "/cam", split: str | None = None, main_delay_ms: int = 0,
                 play: dict[str, Path] | None = None):
        super().__init__(workdir, f"rtsp-{auth}")
        self.user, self.password, self.auth, self.path = user, password, auth, path
        # "MAIN_WxH,SUB_WxH": a camera with two streams at /main and /sub (see rtsp_server.py)
        self.split, self.main_delay_ms = split, main_delay_ms
        # {mount: file}: files already encoded, played in step and looped (``clip`` unused)
        self.play = play
        self.port = free_port()
        self.clip = clip

    def url(self, user: str | None = None, password: str | None = None, query: str = "",
            path: str | None = None) -> str:
        user = self.user if user is None else user
        password = self.password if password is None else password
        creds = f"{quote(user, safe='')}:{quote(password, safe='')}@" if user else ""
        return f"rtsp://{creds}127.0.0.1:{self.port}{path or self.path}" + (f"?{query}" if query else "")

    def start(self) -> RtspServer:
        env = {**os.environ, "RTSP_USER": self.user, "RTSP_PASSWORD": self.password}
        started = self.log_text().count("ready")   # a restart appends to the log: wait for a new line
        self.child = self._spawn("rtsp server", [
            SYSTEM_PYTHON, "-u", str(RTSP_SCRIPT), "--port", str(self.port),
            "--clip", str(self.clip), "--path", self.path, "--auth", self.auth,
            *(["--split", self.split, "--main-delay-ms", str(self.main_delay_ms)] if self.split else []),
            *(arg for mount, path in (self.play or {}).items() for arg in ("--play", f"{mount}={path}"))], env)
        self._wait_ready(lambda: self.log_text().count("ready") > started)
        return self

    def connections(self) -> int:
        """TCP connections the server accepted since it was first started."""
        return self.log_text().count("client connected")

    def stop(self) -> None:
        if self.child is not None:
            self.child.stop()

    close = stop


class RtmpServer(_LoggedServer):
    """nginx's RTMP module on 127.0.0.1, with ``clip`` published to it at ``rtmp://…/live/cam``."""

    CONF = """\
daemon off;
master_process off;
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log warn;
load_module {module};
events {{ worker_connections 64; }}
rtmp {{
    server {{
        listen 127.0.0.1:{port};
        application live {{
            live on;
            record off;
            allow publish 127.0.0.1;
            deny publish all;
            allow play 127.0.0.1;
            deny play all;
        }}
    }}
}}
"""

    def __init__(self, clip: Path, workdir: Path):
        super().__init__(workdir, "rtmp")
        self.port = free_port()
        self._clip = clip
        self._publisher: ChildProcess | None = None

    def url(self) -> str:
        return f"rtmp://127.0.0.1:{self.port}/live/cam"

    def start(self) -> RtmpServer:
        conf = self.workdir / "nginx-rtmp.conf"
        conf.write_text(self.CONF.format(dir=self.workdir, module=NGINX_RTMP_MODULE, port=self.port))
        # -e: nginx opens its error log before reading the configuration; keep it out of /var/log.
        self.child = self._spawn("nginx rtmp", ["nginx", "-e", str(self.workdir / "nginx-error.log"),
                                                "-p", str(self.workdir), "-c", str(conf)])
        self._wait_ready(lambda: _port_open(self.port))
        self._publisher = feeder(self._clip, self.url(), "flv").start()
        return self

    def close(self) -> None:
        if self._publisher is not None:
            self._publisher.stop()
        if self.child is not None:
            self.child.stop()
