"""What the console's tests share: the two roles' tokens, a browser-side watcher of errors."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

ADMIN = "console-admin-token-0123456789"
VIEWER = "console-viewer-token-9876543210"
REPO = Path(__file__).resolve().parents[2]
#: The two screen sizes a console page is checked at.
SIZES = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


def artifact_dir() -> Path:
    """Where screenshots go for a person to look at: ``$EDGEFACE_ARTIFACTS/screenshots`` or
    ``test-artifacts/screenshots`` (git-ignored)."""
    base = Path(os.environ["EDGEFACE_ARTIFACTS"]) if os.environ.get("EDGEFACE_ARTIFACTS") else REPO / "test-artifacts"
    path = base / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path


class PageProblems:
    """Console errors, uncaught exceptions, failed requests and error responses of a page, and
    requests that left the app. A GET cut by leaving the page is not a problem; error responses
    a step expects are let through with ``expect``."""

    def __init__(self, page, base: str):
        self.base = base
        self.problems: list[str] = []
        self.expected: set[tuple[str, str, int]] = set()
        self.answered: set[int] = set()     # requests that got an expected answer (by the request object)
        page.on("console", self._console)
        page.on("pageerror", lambda err: self.problems.append(f"uncaught: {err}"))
        page.on("requestfailed", self._failed)
        page.on("response", self._response)
        page.on("request", self._request)

    def _request(self, request) -> None:
        if not request.url.startswith(("data:", "blob:", self.base)):
            self.problems.append(f"request left the app: {request.url}")

    def expect(self, method: str, path: str, status: int) -> None:
        self.expected.add((method, path, status))

    def _path(self, url: str) -> str:
        return (url[len(self.base):] if url.startswith(self.base) else url).split("?")[0]

    def _console(self, msg) -> None:
        if msg.type != "error":
            return
        # Chromium repeats every error response on the console; an expected one is no problem.
        url = (msg.location or {}).get("url", "")
        if msg.text.startswith("Failed to load resource") and any(
                path == self._path(url) and f"status of {status}" in msg.text for _, path, status in self.expected):
            return
        self.problems.append(f"console error: {msg.text} ({url})")

    def _failed(self, request) -> None:
        # Leaving a page aborts its streams and polls in flight; a server error is a response, not this.
        # A request whose expected answer came is not failed either when its connection closes after.
        if request.failure == "net::ERR_ABORTED" and (request.method == "GET" or id(request) in self.answered):
            return
        self.problems.append(f"request failed: {request.method} {request.url} {request.failure}")

    def _response(self, response) -> None:
        key = (response.request.method, self._path(response.url), response.status)
        if key in self.expected:
            self.answered.add(id(response.request))
        if response.status >= 400 and key not in self.expected:
            self.problems.append(f"{response.status}: {response.request.method} {response.url}")

    def check(self) -> None:
        assert not self.problems, "the page had problems:\n" + "\n".join(self.problems[:20])


def recognition(camera: str, name: str, t: float, track: int = 1, *, distance: float = 0.4, embedding: float = 0.0,
                model_version: str = "v1"):
    """A recognition as a camera's pipeline reports it: a sharp face crop, its frame, an embedding."""
    import numpy as np

    from edgeface.events import RecognitionEvent
    from edgeface.images import encode_jpeg

    rng = np.random.default_rng(track)
    bgr = rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)
    return RecognitionEvent(camera, name, distance, [20, 80, 80, 20], t, track=track, model_version=model_version,
                            snapshot=encode_jpeg(bgr[20:80, 20:80].copy()), frame=SimpleNamespace(bgr=bgr, jpeg=None),
                            embedding=np.full(128, embedding, np.float32))


def stamped_camera(clip: Path, token: str, log: Path):
    """The benchmark's camera (``edgeface.tools.bench_live.camera``): the simulator, numbering
    the frames it sends, started as the benchmark starts it; its ``port`` set. Add it to the app
    with ``/api/v1/cameras`` (``http://127.0.0.1:PORT/stream?token=TOKEN``); ``stop()`` it."""
    from helpers import free_port
    from webapp_helpers import wait_until

    from edgeface.tools.bench_live.system import Child

    port = free_port()
    camera = Child("camera", "edgeface.tools.bench_live.camera", [str(clip), str(port)],
                   {**os.environ, "PYTHONPATH": str(REPO), "EDGEFACE_CAMERA_TOKEN": token}, log)
    camera.port = port    # type: ignore[attr-defined]
    wait_until(lambda: f"ready {port}" in camera.tail() or camera.check_running(), what="the camera to start")
    return camera


@contextmanager
def served_with_stamped_camera(model: Path, clip: Path, logs: Path, env: dict | None = None):
    """``edgeface serve`` (both roles' tokens, ``env`` on top) with the benchmark's camera added
    as ``stage`` and online; yields the ``App``."""
    import secrets

    from helpers import free_port
    from webapp_helpers import App, wait_until

    token = secrets.token_urlsafe(12)
    app = App(free_port(), {"EDGEFACE_API_TOKEN": ADMIN, "EDGEFACE_VIEWER_TOKEN": VIEWER,
                            "EDGEFACE_EVENTS_DIR": str(logs / "events"), **(env or {})},
              logs / "app.log", "--model", str(model))
    camera = None
    try:
        app.wait_ready()
        camera = stamped_camera(clip, token, logs / "camera.log")
        added = app.request("POST", "/api/v1/cameras",
                            json={"url": f"http://127.0.0.1:{camera.port}/stream?token={token}", "id": "stage"})
        assert added.status_code == 201, added.text
        wait_until(lambda: (c := app.camera("stage")) and c["online"], what="the camera to be online")
        yield app
    finally:
        if camera:
            camera.stop()
        app.stop()


def logged_in_page(chromium, base: str, token: str, viewport: dict, timeout_ms: int):
    """A fresh browser context logged in with ``token`` at ``viewport``; (page, problems)."""
    page = chromium.new_context(viewport=viewport).new_page()
    page.set_default_timeout(timeout_ms)
    problems = PageProblems(page, base)
    page.goto(base + "/login")
    page.fill("#token", token)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/")
    return page, problems


@contextmanager
def served(app):
    """``app`` served on a loopback port by a thread (as the tests' browser needs it); yields its base URL."""
    import threading

    from werkzeug.serving import make_server

    from edgeface.ports import free_port

    server = make_server("127.0.0.1", free_port(), app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="console-http", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)


def log_in(page, base: str, token: str, then: str = "/") -> None:
    page.goto(f"{base}/login?next={then}")
    page.fill("#token", token)
    page.click("button[type=submit]")
    page.wait_for_url(base + then)
