"""The system under test, started the way it runs in production: ``edgeface serve`` (gunicorn,
the same code as the pod) and one simulated camera process per camera, added through the API.
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
from pathlib import Path

from edgeface.errors import EdgefaceError
from edgeface.lifecycle import ChildProcess, stop_all
from edgeface.ports import free_port
from edgeface.tools.samples import REPO_ROOT

APP_START_TIMEOUT_S = 120
CAMERA_START_TIMEOUT_S = 60


class Child(ChildProcess):
    """A ``python -m MODULE`` child in its own session, output in a log file; stopped by PID."""

    def __init__(self, label: str, module: str, args: list[str], env: dict, log: Path):
        self.log_path = log
        with open(log, "ab") as out:     # the child keeps its own copy of the descriptor
            super().__init__(label, [sys.executable, "-m", module, *args], env=env, stdout=out,
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


class LiveSystem:
    """App + cameras; ``start()`` then ``close()``. ``app_env``: extra variables for the app
    (``EDGEFACE_LIVE_*`` tuning)."""

    def __init__(self, model: Path, video: Path, cameras: int, workdir: Path, app_env: dict | None = None):
        self.model, self.video, self.count, self.workdir = model, video, cameras, workdir
        self.app_env = dict(app_env or {})
        self.api_token = secrets.token_urlsafe(16)
        self.camera_token = secrets.token_urlsafe(12)
        self.port = free_port()
        self.app: Child | None = None
        self.cameras: list[Child] = []
        self.camera_ids: list[str] = []

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

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
            self.cameras.append(Child(f"camera {i}", "edgeface.tools.bench_live.camera", [str(self.video), str(port)],
                                      cam_env, self.workdir / f"camera-{i}.log"))
        app_env = {**env, "EDGEFACE_API_TOKEN": self.api_token, "EDGEFACE_LOG_LEVEL": "warning",
                   **self.app_env}
        self.app = Child("the web app", "edgeface", ["serve", "--model", str(self.model), "--host", "127.0.0.1",
                                                    "--port", str(self.port)], app_env, self.workdir / "app.log")
        self._wait(lambda: all(f"ready {p}" in c.tail() for c, p in zip(self.cameras, ports)),
                   CAMERA_START_TIMEOUT_S, "the simulated cameras to start", self.cameras)
        self._wait(lambda: self.get("/readyz") is not None, APP_START_TIMEOUT_S, "the web app to load the model",
                   [self.app])
        for i, port in enumerate(ports, 1):
            body = self.request("POST", "/api/v1/cameras", {
                "url": f"http://127.0.0.1:{port}/stream?token={self.camera_token}", "id": f"bench-{i}"})
            self.camera_ids.append(body["id"])
        return self

    def _wait(self, ready, timeout: float, what: str, children: list[Child]) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            for child in children:
                child.check_running()
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
        stop_all([child for child in [self.app, *self.cameras] if child is not None], timeout=20.0)
