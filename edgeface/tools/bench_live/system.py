"""The system under test, started the way it runs in production: ``edgeface serve`` (gunicorn,
the same code as the pod) and one simulated camera process per camera, added through the API:
an MJPEG simulator, or (``camera_files``) an RTSP server sending H.264, a sub-stream and
optionally a main stream, added with the main stream as its ``identify_url``.

Or attached (``RunningApp``): an app that already runs, such as the one in the pod, with the
benchmark's cameras added to it through its API and its processes sampled by their PIDs. The
cameras listen on 127.0.0.1, so the app must share the benchmark's network namespace (run the
benchmark with ``ip netns exec`` in the pod's); the cameras are removed again at the end.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit

from edgeface.errors import ConfigError, EdgefaceError
from edgeface.lifecycle import ChildProcess, stop_all
from edgeface.ports import free_port
from edgeface.tools.bench_live import procstats
from edgeface.tools.bench_live.rtsp import CameraFiles
from edgeface.tools.samples import REPO_ROOT

APP_START_TIMEOUT_S = 120
CAMERA_START_TIMEOUT_S = 60
RTSP_USER = "bench"


class Child(ChildProcess):
    """A ``python -m MODULE`` child in its own session, output in a log file; stopped by PID."""

    def __init__(self, label: str, module: str, args: list[str], env: dict, log: Path,
                 interpreter: tuple[str, ...] | None = None):
        """``interpreter``: run ``module`` as a script with it (default: this Python's ``-m``)."""
        self.log_path = log
        program = [*interpreter, module] if interpreter else [sys.executable, "-m", module]
        with open(log, "ab") as out:     # the child keeps its own copy of the descriptor
            super().__init__(label, [*program, *args], env=env, stdout=out,
                             stderr=subprocess.STDOUT, new_session=True)
            self.start()

    def check_running(self) -> None:
        if not self.running():
            raise EdgefaceError(f"{self.label} exited with status {self.returncode}",
                                f"its output:\n{self.tail()}")

    def tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


@dataclass(frozen=True)
class RunningApp:
    """An app the benchmark attaches to instead of starting one: its URL on this host's loopback,
    its API token (admin: the benchmark adds cameras) and the PIDs of its processes (on this
    host's /proc; their descendants are counted too)."""

    url: str
    token: str
    pids: tuple[int, ...]

    @property
    def port(self) -> int:
        """The URL's port, after checking that the benchmark's cameras can be reached from it."""
        parts = urlsplit(self.url)
        if parts.scheme != "http" or parts.hostname not in ("127.0.0.1", "localhost") or parts.path not in ("", "/"):
            raise ConfigError(f"--app-url {self.url!r} is not http://127.0.0.1:PORT",
                              "the benchmark's cameras listen on 127.0.0.1: run it in the app's network "
                              "namespace (ip netns exec NS edgeface bench ...) and give the app's loopback URL")
        try:
            port = parts.port
        except ValueError:
            port = None
        if port is None:
            raise ConfigError(f"--app-url {self.url!r} has no valid port", "e.g. --app-url http://127.0.0.1:8080")
        return port

    def missing(self) -> list[int]:
        return [pid for pid in self.pids if not Path(f"/proc/{pid}").is_dir()]


class LiveSystem:
    """App + cameras; ``start()`` then ``close()``. ``app_env``: extra variables for the app
    (``EDGEFACE_LIVE_*`` tuning). ``attach``: measure that running app instead of starting one
    (``app`` stays None then). ``rtsp``: the cameras are RTSP servers playing those files."""

    def __init__(self, model: Path, video: Path, cameras: int, workdir: Path, app_env: dict | None = None,
                 attach: RunningApp | None = None, rtsp: CameraFiles | None = None):
        self.model, self.video, self.count, self.workdir = model, video, cameras, workdir
        self.rtsp = rtsp
        self.app_env = dict(app_env or {})
        self.attached = attach
        self.api_token = attach.token if attach else secrets.token_urlsafe(16)
        self.camera_token = secrets.token_urlsafe(12)
        self.port = attach.port if attach else free_port()
        self.app: Child | None = None
        self.cameras: list[Child] = []
        self.camera_ids: list[str] = []

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def app_pids(self) -> tuple[int, ...]:
        if self.attached:
            return self.attached.pids
        return (self.app.pid,) if self.app is not None else ()

    def check_running(self) -> None:
        """Raise if the app under test is gone."""
        if self.attached is None:
            if self.app is not None:
                self.app.check_running()
            return
        gone = self.attached.missing()
        if gone:
            raise EdgefaceError(f"process {gone[0]} of the app at {self.attached.url} is gone",
                                "see the app's own log (podman logs, kubectl logs); --app-pids names its processes")

    def app_log(self) -> str:
        if self.attached is not None:
            return f"(the app at {self.attached.url} was running before the benchmark: see its own log)"
        return self.app.tail() if self.app is not None else ""

    def usage(self) -> procstats.TreeUsage:
        """CPU time and memory of the app's processes and their descendants, each counted once."""
        trees = {pid: set(procstats.descendants(pid)) for pid in self.app_pids}
        # a PID given beside its own parent (gunicorn's master and worker) would count twice
        tops = [pid for pid in trees if not any(pid in tree for other, tree in trees.items() if other != pid)]
        parts = [procstats.tree_usage(pid) for pid in tops]
        return procstats.TreeUsage(sum(p.cpu_s for p in parts), sum(p.rss_mb for p in parts),
                                   sum(p.pss_mb for p in parts), sum(p.processes for p in parts))

    def start(self) -> LiveSystem:
        # The caller's EDGEFACE_LIVE_* tuning applies; its other app settings (cameras, mDNS,
        # model, port) would change what is measured.
        env = {k: v for k, v in os.environ.items()
               if k.startswith("EDGEFACE_LIVE_") or not k.startswith(("EDGEFACE_", "MODEL_FILENAME"))}
        # The children import this very checkout, installed or not, from wherever we were started.
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
        ports = [free_port() for _ in range(self.count)]
        cam_env = {**env, "EDGEFACE_CAMERA_TOKEN": self.camera_token}    # not on a command line (ps)
        for i, port in enumerate(ports, 1):
            self.cameras.append(self._camera(i, port, cam_env))
        if self.attached is None:
            # Clips and privacy blur off: the figures stay comparable with earlier runs; what a
            # camera's clips and blurring cost is measured on its own (docs/performance.md).
            app_env = {**env, "EDGEFACE_API_TOKEN": self.api_token, "EDGEFACE_LOG_LEVEL": "warning",
                       "EDGEFACE_CLIPS_FPS": "0", "EDGEFACE_PRIVACY": "off", **self.app_env}
            self.app = Child("the web app", "edgeface", ["serve", "--model", str(self.model), "--host", "127.0.0.1",
                                                        "--port", str(self.port)], app_env, self.workdir / "app.log")
        ready = "ready" if self.rtsp else "ready {}"       # the RTSP server does not say its port
        self._wait(lambda: all(ready.format(p) in c.tail() for c, p in zip(self.cameras, ports)),
                   CAMERA_START_TIMEOUT_S, "the simulated cameras to start", self.cameras)
        self._wait(lambda: self.get("/readyz") is not None, APP_START_TIMEOUT_S, "the web app to load the model", [])
        if self.attached is not None:
            self._check_attached_model()
        for i, port in enumerate(ports, 1):
            body = self._api("POST", "/api/v1/cameras", {"id": f"bench-{i}", **self._camera_urls(port)})
            self.camera_ids.append(body["id"])
        # An RTSP camera takes a moment to connect (its feed is refused while offline).
        self._wait(self._online, CAMERA_START_TIMEOUT_S, "the cameras to come online in the app", self.cameras)
        return self

    def _online(self) -> bool:
        listed = self.get("/api/v1/cameras")
        online = {c["id"] for c in listed["cameras"] if c.get("online")} if isinstance(listed, dict) else set()
        return online >= set(self.camera_ids)

    def _camera(self, i: int, port: int, env: dict) -> Child:
        log = self.workdir / f"camera-{i}.log"
        if self.rtsp is None:
            return Child(f"camera {i}", "edgeface.tools.bench_live.camera", [str(self.video), str(port)], env, log)
        from edgeface.tools.streamserve import RTSP_SCRIPT, SYSTEM_PYTHON

        # The password is the camera token, from the environment (ps shows command lines).
        env = {**env, "RTSP_USER": RTSP_USER, "RTSP_PASSWORD": self.camera_token}
        return Child(f"RTSP camera {i}", str(RTSP_SCRIPT), ["--port", str(port), "--auth", "digest",
                                                            *self.rtsp.play_args()],
                     env, log, interpreter=(SYSTEM_PYTHON, "-u"))

    def _camera_urls(self, port: int) -> dict:
        """The camera's fields for ``POST /api/v1/cameras``."""
        if self.rtsp is None:
            return {"url": f"http://127.0.0.1:{port}/stream?token={self.camera_token}"}
        base = f"rtsp://{RTSP_USER}:{quote(self.camera_token, safe='')}@127.0.0.1:{port}"
        return {"url": f"{base}/sub", **({"identify_url": f"{base}/main"} if self.rtsp.main else {})}

    def _api(self, method: str, path: str, body: dict | None = None):
        """``request``, with a refused token or call said plainly (an attached app has its own token)."""
        try:
            return self.request(method, path, body)
        except urllib.error.HTTPError as err:
            hint = ("set EDGEFACE_API_TOKEN to the app's API token (an admin one: cameras are added)"
                    if err.code in (401, 403) else f"see the app's log ({self.app_log()[-2000:]})")
            raise EdgefaceError(f"the app at {self.base} answered {method} {path} with HTTP {err.code}", hint) from None

    def _check_attached_model(self) -> None:
        """The reference names faces with ``self.model``: an app serving other people makes recall meaningless."""
        from edgeface.modelfile import FaceModel

        served = sorted(self._api("GET", "/api/v1/model").get("identities") or [])
        mine = sorted(FaceModel.load(self.model).names)
        if served != mine:
            raise ConfigError(f"the app at {self.base} serves a model of {len(served)} identities that differ from "
                              f"the {len(mine)} of {self.model}", "pass --model the file the app serves")

    def _wait(self, ready, timeout: float, what: str, children: list[Child]) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            for child in children:
                child.check_running()
            self.check_running()
            if time.monotonic() > deadline:
                raise EdgefaceError(f"timed out after {timeout} s waiting for {what}",
                                    f"see the logs in {self.workdir}")
            time.sleep(0.2)

    def request(self, method: str, path: str, body: dict | None = None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method, headers={
            "Authorization": f"Bearer {self.api_token}", "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as response:
            raw = response.read()
        return json.loads(raw) if response.headers.get_content_type() == "application/json" else raw.decode()

    def get(self, path: str):
        try:
            return self.request("GET", path)
        except (urllib.error.URLError, OSError, ValueError):
            return None

    def close(self) -> None:
        if self.attached is not None:      # leave the running app with the cameras it had
            for camera_id in self.camera_ids:
                try:
                    self.request("DELETE", f"/api/v1/cameras/{camera_id}")
                except (urllib.error.URLError, OSError, ValueError):
                    pass                   # the app is gone or the camera too: nothing to undo
        stop_all([child for child in [self.app, *self.cameras] if child is not None], timeout=20.0)


def attach_to(url: str | None, pids: str | None, app_env: dict) -> RunningApp | None:
    """``--app-url``/``--app-pids``: the running app to measure, checked before anything starts;
    None: the benchmark starts its own. The token comes from ``EDGEFACE_API_TOKEN``, not from the
    command line, where ``ps`` would show it."""
    if not url:
        if pids:
            raise ConfigError("--app-pids is for an app given by --app-url", "add --app-url, or leave both out")
        return None
    if app_env:
        raise ConfigError("--app-env tunes the app the benchmark starts, not one at --app-url",
                          "set EDGEFACE_LIVE_* in the running app's own configuration (the pod's ConfigMap)")
    token = os.environ.get("EDGEFACE_API_TOKEN", "")
    if not token:
        raise ConfigError("--app-url needs the app's API token", "export EDGEFACE_API_TOKEN (the app's admin token)")
    try:
        numbers = tuple(int(p) for p in (pids or "").split(",") if p.strip())
    except ValueError:
        numbers = ()
    if not numbers:
        raise ConfigError(f"--app-pids {pids or ''!r} is not a comma-separated list of PIDs",
                          "give the app's processes, e.g. --app-pids $(podman inspect --format '{{.State.Pid}}' "
                          "CONTAINER) (their children are counted too)")
    target = RunningApp(url, token, numbers)
    _ = target.port   # refuses a URL the benchmark's cameras could not serve
    if target.missing():
        raise ConfigError(f"--app-pids: no process {target.missing()[0]} on this host",
                          "give PIDs as this host's /proc sees them (podman inspect, not ps inside the container)")
    return target
