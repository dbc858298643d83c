"""``edgeface bench --suite soak``: the real app under a long mix of abuse, watched for leaks and crashes.

For ``--minutes`` (default 10) the app (``edgeface serve``, as in the pod) reads good simulated
cameras while, at the same time: a camera is killed and restarted, one camera sends garbage and
one sends frames over the size limit, 50 viewers open streams (from 25 loopback addresses, so the
per-client and total stream caps both bite), 40 clients drip request headers, a client uploads
photos to ``/api/v1/recognize`` and the model file is replaced (hot reload). Reported: the app's
RSS, threads and open files in the first vs the last minute, the good cameras' frame rate,
``/healthz`` latency p50/p99, errors of each kind and crashes (the app or its gunicorn worker or a
face-engine child replaced). ``--quick``: ~1 minute with shorter cycles, for tests.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np

from edgeface.lifecycle import Service
from edgeface.ports import free_port
from edgeface.tools.bench_live import _sample_model, procstats
from edgeface.tools.bench_live.scoring import percentile
from edgeface.tools.bench_live.system import Child, LiveSystem

#: The issue's goals, reported beside the figures.
GOAL = {"crashes": 0, "good_camera_fps": 29.0, "healthz_p99_ms": 100.0, "rss_growth_pct": 5.0}


@dataclass(frozen=True)
class Profile:
    minutes: float
    good_cameras: int = 2
    chaos_every_s: float = 20.0        # the chaos camera is killed, then restarted after a pause
    reload_every_s: float = 60.0
    upload_every_s: float = 1.0
    viewers: int = 50
    slow_clients: int = 40
    sample_every_s: float = 5.0
    window_s: float = 60.0             # "first" and "last" minute


def profile(minutes: float | None, quick: bool) -> Profile:
    if quick:
        return Profile(minutes=minutes or 1.0, good_cameras=1, chaos_every_s=8.0, reload_every_s=15.0,
                       upload_every_s=2.0, viewers=20, slow_clients=20, sample_every_s=2.0, window_s=15.0)
    return Profile(minutes=minutes or 10.0)


def log(message: str) -> None:
    print(f"soak: {message}", file=sys.stderr, flush=True)


# -- hostile cameras -----------------------------------------------------------------------------
class BadCameraServer(Service):
    """An MJPEG server with two bad streams: ``/garbage`` (random bytes as parts) and ``/huge``
    (valid JPEGs of 5000x5000, over the 4096x4096 frame limit)."""

    def __init__(self):
        super().__init__("soak-bad-cameras")
        huge = cv2.imencode(".jpg", np.full((5000, 5000, 3), 90, np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 30])[1]
        parts = {"/garbage": lambda: os.urandom(random.randint(1000, 60000)), "/huge": lambda: huge.tobytes()}

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                make = parts.get(self.path.split("?")[0])
                if make is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                try:
                    while True:
                        body = make()
                        self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: "
                                         + str(len(body)).encode() + b"\r\n\r\n" + body + b"\r\n")
                        time.sleep(0.1)
                except OSError:
                    return

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]

    def run(self) -> None:
        self.server.serve_forever(poll_interval=0.5)

    def _wake(self) -> None:
        self.server.shutdown()


# -- clients -------------------------------------------------------------------------------------
@dataclass
class Tally:
    counts: Counter = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, key: str, n: int = 1) -> None:
        with self.lock:
            self.counts[key] += n


class Viewers(Service):
    """``count`` stream viewers from 25 loopback addresses; refused ones retry every 5 s, open
    ones read everything (and count bytes)."""

    def __init__(self, port: int, token: str, camera_ids: list[str], count: int, tally: Tally):
        super().__init__("soak-viewers")
        self.port, self.token, self.camera_ids, self.count, self.tally = port, token, camera_ids, count, tally

    def run(self) -> None:
        threads = [threading.Thread(target=self._viewer, args=(i,), daemon=True) for i in range(self.count)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def _viewer(self, i: int) -> None:
        camera = self.camera_ids[i % len(self.camera_ids)]
        source = f"127.0.0.{100 + i % 25}"
        while not self.stopping:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5, source_address=(source, 0))
            try:
                conn.request("GET", f"/video_feed/{camera}", headers={"Authorization": f"Bearer {self.token}"})
                response = conn.getresponse()
                self.tally.add(f"viewer_{response.status}")
                while response.status == 200 and not self.stopping:
                    data = response.read1(65536)
                    if not data:
                        break
                    self.tally.add("viewer_bytes", len(data))
            except (OSError, http.client.HTTPException):
                if not self.stopping:
                    self.tally.add("viewer_errors")
            finally:
                conn.close()
            self.wait(5.0)


class SlowClients(Service):
    """Clients sending a request line, then a header line every 2 s; reconnect when closed."""

    def __init__(self, port: int, count: int, tally: Tally):
        super().__init__("soak-slow-clients")
        self.port, self.count, self.tally = port, count, tally

    def _open(self) -> socket.socket | None:
        try:
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=2)
            sock.sendall(b"GET /healthz HTTP/1.1\r\n")
            return sock
        except OSError:
            self.tally.add("slow_connect_errors")
            return None

    def run(self) -> None:
        socks = [self._open() for _ in range(self.count)]
        try:
            while not self.wait(2.0):
                for i, sock in enumerate(socks):
                    try:
                        if sock is None:
                            raise OSError
                        sock.sendall(b"X-Slow: 1\r\n")
                    except OSError:           # closed by the app (408): a new one
                        if sock is not None:
                            sock.close()
                            self.tally.add("slow_closed_by_app")
                        socks[i] = self._open()
        finally:
            for sock in socks:
                if sock is not None:
                    sock.close()


def _multipart(field_name: str, filename: str, data: bytes) -> tuple[bytes, str]:
    boundary = "soak" + os.urandom(8).hex()
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field_name}\"; filename=\"{filename}\"\r\n"
            f"Content-Type: image/jpeg\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


class Uploader(Service):
    def __init__(self, base: str, token: str, photo: bytes, every_s: float, tally: Tally):
        super().__init__("soak-uploader")
        self.base, self.token, self.every_s, self.tally = base, token, every_s, tally
        self.body, self.content_type = _multipart("image", "soak.jpg", photo)

    def run(self) -> None:
        while not self.stopping:
            request = urllib.request.Request(self.base + "/api/v1/recognize", data=self.body, method="POST", headers={
                "Authorization": f"Bearer {self.token}", "Content-Type": self.content_type})
            try:
                with urllib.request.urlopen(request, timeout=60) as response:
                    self.tally.add(f"upload_{response.status}")
            except urllib.error.HTTPError as err:
                self.tally.add(f"upload_{err.code}")
            except OSError:
                self.tally.add("upload_errors")
            self.wait(self.every_s)


class HealthProbe(Service):
    """GET /healthz twice a second; latencies in ms (failures counted, not timed)."""

    def __init__(self, base: str, tally: Tally):
        super().__init__("soak-healthz")
        self.base, self.tally = base, tally
        self.latencies_ms: list[float] = []

    def run(self) -> None:
        while not self.stopping:
            started = time.monotonic()
            try:
                with urllib.request.urlopen(self.base + "/healthz", timeout=5) as response:
                    response.read()
                self.latencies_ms.append((time.monotonic() - started) * 1000)
            except OSError:
                self.tally.add("healthz_errors")
            self.wait(0.5)


# -- the app's processes ---------------------------------------------------------------------------
def _children(pid: int) -> list[int]:
    return [p for p in procstats.descendants(pid) if p != pid and _parent(p) == pid]


def _parent(pid: int) -> int | None:
    fields = procstats._stat(pid)
    return int(fields[1]) if fields else None


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _threads(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return 0


def _fds(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


def app_processes(app_pid: int) -> tuple[int | None, list[int]]:
    """(gunicorn's worker, the face-engine children below it)."""
    workers = [p for p in _children(app_pid) if "engine_process" not in _cmdline(p)]
    worker = workers[0] if workers else None
    engines = sorted(p for p in procstats.descendants(app_pid) if "engine_process" in _cmdline(p))
    return worker, engines


# -- the run --------------------------------------------------------------------------------------
def run(args) -> dict:
    from edgeface.tools.samples import SAMPLE_VIDEO

    prof = profile(getattr(args, "minutes", None), getattr(args, "quick", False))
    keep = Path(args.logs) if getattr(args, "logs", None) else None
    workdir = Path(tempfile.mkdtemp(prefix="edgeface-soak-"))
    video = Path(args.source or SAMPLE_VIDEO)
    try:
        model = Path(args.model) if args.model else _sample_model(workdir)
        live_model = workdir / "live-model.data"      # the app follows this file; replaced to reload
        shutil.copyfile(model, live_model)
        return _soak(prof, video, model, live_model, workdir)
    finally:
        if keep is not None:
            shutil.copytree(workdir, keep, dirs_exist_ok=True)
        shutil.rmtree(workdir, ignore_errors=True)


def _photo(video: Path) -> bytes:
    capture = cv2.VideoCapture(str(video))
    capture.set(cv2.CAP_PROP_POS_FRAMES, 30)
    ok, frame = capture.read()
    capture.release()
    if not ok:
        raise RuntimeError(f"cannot read a frame of {video}")
    return cv2.imencode(".jpg", frame)[1].tobytes()


def _soak(prof: Profile, video: Path, model: Path, live_model: Path, workdir: Path) -> dict:
    load_before = procstats.loadavg()
    bad = BadCameraServer().start()   # bound first: the app's port is picked while this one is taken
    system = LiveSystem(live_model, video, prof.good_cameras, workdir, app_env={"EDGEFACE_RELOAD_INTERVAL": "1"})
    tally = Tally()
    parts: list[Service] = []
    chaos: Child | None = None
    samples: list[dict] = []
    crashes: list[str] = []
    try:
        log(f"starting the app and {prof.good_cameras} good cameras")
        system.start()
        assert system.app is not None
        good = list(system.camera_ids)
        chaos_port = free_port()
        cam_env = {**os.environ, "EDGEFACE_CAMERA_TOKEN": system.camera_token}

        def start_chaos() -> Child:
            return Child("chaos camera", "edgeface.tools.bench_live.camera", [str(video), str(chaos_port)], cam_env,
                         workdir / "camera-chaos.log")
        chaos = start_chaos()
        for cam_id, url in (("chaos", f"http://127.0.0.1:{chaos_port}/stream?token={system.camera_token}"),
                            ("garbage", f"http://127.0.0.1:{bad.port}/garbage"),
                            ("huge", f"http://127.0.0.1:{bad.port}/huge")):
            system.request("POST", "/api/v1/cameras", {"url": url, "id": cam_id})
        worker0, engines0 = app_processes(system.app.pid)
        parts = [HealthProbe(system.base, tally),
                 Viewers(system.port, system.api_token, good, prof.viewers, tally),
                 SlowClients(system.port, prof.slow_clients, tally),
                 Uploader(system.base, system.api_token, _photo(video), prof.upload_every_s, tally)]
        probe = parts[0]
        assert isinstance(probe, HealthProbe)
        for part in parts:
            part.start()
        log(f"soaking for {prof.minutes:g} min (app pid {system.app.pid}, worker {worker0}, engines {engines0})")
        started = time.monotonic()
        end = started + prof.minutes * 60
        next_chaos, next_reload, next_sample = started + prof.chaos_every_s, started + prof.reload_every_s, started
        while time.monotonic() < end:
            now = time.monotonic()
            if not system.app.running():
                crashes.append(f"the app exited with {system.app.returncode}")
                break
            if now >= next_chaos:
                if chaos.running():
                    os.kill(chaos.pid, signal.SIGKILL)    # no goodbye: the app sees the stream die
                    chaos.stop(5.0)
                    tally.add("chaos_kills")
                else:
                    chaos = start_chaos()
                next_chaos = now + prof.chaos_every_s / 2
            if now >= next_reload:
                tmp = live_model.with_suffix(".tmp")
                shutil.copyfile(model, tmp)
                os.replace(tmp, live_model)               # a new inode: the watcher reloads
                tally.add("model_replacements")
                next_reload = now + prof.reload_every_s
            if now >= next_sample:
                samples.append(_sample(system, good, now - started))
                next_sample = now + prof.sample_every_s
            time.sleep(0.2)
        worker1, engines1 = app_processes(system.app.pid)
        if system.app.running() and worker1 != worker0:
            crashes.append(f"gunicorn worker replaced ({worker0} -> {worker1})")
        # A child gone is a crash; one more is the uploads' engine, started by the first upload.
        if not set(engines0) <= set(engines1):
            crashes.append(f"face-engine children replaced ({engines0} -> {engines1})")
        tracebacks = system.app.tail(10_000_000).count("Traceback")
        reloads = _model_reloads(system)
        latencies = list(probe.latencies_ms)
    finally:
        for part in parts:
            part.close()
        if chaos is not None:
            chaos.stop(5.0)
        bad.close()
        system.close()
    return _report(prof, samples, latencies, tally, crashes, tracebacks, reloads, load_before)


def _sample(system: LiveSystem, good: list[str], at: float) -> dict:
    assert system.app is not None
    worker, _ = app_processes(system.app.pid)
    usage = procstats.tree_usage(system.app.pid)
    cameras = (system.get("/api/v1/cameras") or {}).get("cameras", [])
    by_id = {c["id"]: c for c in cameras}
    return {"t": at, "rss_mb": usage.rss_mb, "pss_mb": usage.pss_mb,
            "threads": _threads(worker) if worker else 0, "fds": _fds(worker) if worker else 0,
            "good_fps": [by_id.get(c, {}).get("fps", 0.0) for c in good],
            "good_output_fps": [by_id.get(c, {}).get("output_fps", 0.0) for c in good],
            "online": {c["id"]: c.get("online") for c in cameras}}


def _model_reloads(system: LiveSystem) -> dict[str, float]:
    """``edgeface_model_reloads_total`` by result, from /metrics."""
    out: dict[str, float] = {}
    for line in str(system.get("/metrics") or "").splitlines():
        if line.startswith("edgeface_model_reloads_total{"):
            labels, _, value = line.rpartition(" ")
            out[labels.split('result="')[1].split('"')[0]] = float(value)
    return out


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _report(prof: Profile, samples: list[dict], latencies: list[float], tally: Tally, crashes: list[str],
            tracebacks: int, reloads: dict, load_before: list[float]) -> dict:
    end = samples[-1]["t"] if samples else 0.0
    first = [s for s in samples if s["t"] <= prof.window_s]
    last = [s for s in samples if s["t"] >= end - prof.window_s]
    steady = [s for s in samples if s["t"] >= min(prof.window_s, end / 2)]   # after the start-up

    # The second window is the leak baseline: the first holds start-up (model loads, the uploads'
    # engine started by the first upload), which is not growth.
    warm = [s for s in samples if prof.window_s < s["t"] <= 2 * prof.window_s] or first

    def trend(key: str, since: list[dict] = first) -> dict:
        a, b = _mean([s[key] for s in since]), _mean([s[key] for s in last])
        growth = round(100 * (b - a) / a, 1) if a and b is not None else None
        return {"first": _round(a), "last": _round(b), "growth_pct": growth}
    good_fps = [f for s in steady for f in s["good_fps"]]
    out_fps = [f for s in steady for f in s["good_output_fps"]]
    counts = dict(tally.counts)
    errors = {k: v for k, v in counts.items() if k.endswith("errors") or k in ("upload_500",)}
    return {
        "suite": "soak", "minutes": prof.minutes, "profile": prof.__dict__,
        "rss_mb": trend("rss_mb"), "pss_mb": trend("pss_mb"), "worker_threads": trend("threads"),
        "rss_mb_after_startup": trend("rss_mb", warm),      # second window -> last: what the goal judges
        # Is growth a start-up ramp or a leak? The mean RSS of each window, in order.
        "rss_mb_by_window": [_round(_mean([s["rss_mb"] for s in samples if i * prof.window_s <= s["t"]
                                           < (i + 1) * prof.window_s]))
                             for i in range(int(end // prof.window_s) + 1)],
        "worker_fds": trend("fds"),
        "good_camera_fps": {"mean": _round(_mean(good_fps)), "min": _round(min(good_fps, default=None))},
        "good_camera_output_fps": {"mean": _round(_mean(out_fps)), "min": _round(min(out_fps, default=None))},
        "good_cameras_online_at_end": all(samples[-1]["online"].get(c) for c in samples[-1]["online"]
                                          if c.startswith("bench-")) if samples else False,
        "healthz_ms": {"p50": _round(percentile(latencies, 50)), "p99": _round(percentile(latencies, 99)),
                       "max": _round(max(latencies, default=None)), "probes": len(latencies)},
        "counts": counts, "errors": errors, "crashes": crashes, "tracebacks_in_log": tracebacks,
        "model_reloads": reloads,
        "load_average": {"before": load_before, "after": procstats.loadavg(), "cpus": os.cpu_count()},
        "goal": GOAL,
    }


def _round(value):
    return None if value is None else round(value, 1)


def format_table(r: dict) -> str:
    def t(name: str, d: dict, unit: str = "") -> str:
        return f"  {name:<22} first {d['first']}{unit}  last {d['last']}{unit}  growth {d['growth_pct']} %"
    lines = [f"soak: {r['minutes']:g} min; load average before {r['load_average']['before']} after "
             f"{r['load_average']['after']} ({r['load_average']['cpus']} CPUs)",
             t("app RSS (tree)", r["rss_mb"], " MB"), t("app PSS (tree)", r["pss_mb"], " MB"),
             t("app RSS after start-up", r["rss_mb_after_startup"], " MB") + f" (goal <= {GOAL['rss_growth_pct']} %)",
             f"  app RSS by window      {r['rss_mb_by_window']} MB",
             t("worker threads", r["worker_threads"]), t("worker open files", r["worker_fds"]),
             f"  good cameras fps       mean {r['good_camera_fps']['mean']}  min {r['good_camera_fps']['min']} "
             f"(output mean {r['good_camera_output_fps']['mean']}, min {r['good_camera_output_fps']['min']}; "
             f"goal >= {GOAL['good_camera_fps']})",
             f"  /healthz ms            p50 {r['healthz_ms']['p50']}  p99 {r['healthz_ms']['p99']}  "
             f"max {r['healthz_ms']['max']} over {r['healthz_ms']['probes']} probes (goal p99 <= "
             f"{GOAL['healthz_p99_ms']})",
             f"  crashes                {len(r['crashes'])} {r['crashes']}; tracebacks in the log "
             f"{r['tracebacks_in_log']}",
             f"  errors                 {r['errors']}",
             f"  model reloads          {r['model_reloads']} ({r['counts'].get('model_replacements', 0)} replacements)",
             f"  counts                 {json.dumps(r['counts'], sort_keys=True)}"]
    return "\n".join(lines)


def main(args) -> int:
    result = run(args)
    print(json.dumps(result) if args.json else format_table(result))
    return 0 if not result["crashes"] else 1
