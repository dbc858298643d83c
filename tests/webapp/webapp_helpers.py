"""The web app and simulated cameras as separate processes, started the way users start them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import requests
from helpers import unique  # noqa: F401 - re-exported for this folder's tests
from helpers import wait_until as shared_wait_until

REPO = Path(__file__).resolve().parents[2]
#: Generous: the suite shares two cores with other work; nothing here asserts speed.
DEADLINE_S = 60.0


def wait_until(predicate: Callable[[], object], timeout: float = DEADLINE_S, what: str = "condition"):
    """``helpers.wait_until`` where a server not answering yet counts as "not yet"."""
    return shared_wait_until(predicate, timeout, what, interval=0.2, ignore=(requests.RequestException,))


class Process:
    """A ``python -m edgeface …`` child with its output in a log file."""

    def __init__(self, args: list[str], env: dict, log: Path):
        self.args, self.log_path = args, log
        with open(log, "ab") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "edgeface", *args], env={**os.environ, **env},
                                         stdout=out, stderr=subprocess.STDOUT, cwd=REPO, start_new_session=True)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def running(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 30) -> int:
        if self.running():
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"edgeface {self.args[0]} did not stop on SIGTERM:\n{self.log()[-3000:]}") from None

    def kill(self) -> None:
        """SIGKILL: a camera losing power (no mDNS goodbye, sockets just die)."""
        if self.running():
            self.proc.kill()
        self.proc.wait()


class App(Process):
    def __init__(self, port: int, env: dict, log: Path, *extra: str):
        super().__init__(["serve", "--host", "127.0.0.1", "--port", str(port), *extra], env, log)
        self.base = f"http://127.0.0.1:{port}"
        self.token = env.get("EDGEFACE_API_TOKEN")

    def get(self, path: str, auth: bool = True, **kw) -> requests.Response:
        return requests.get(self.base + path, headers=self._headers(auth), timeout=10, **kw)

    def request(self, method: str, path: str, auth: bool = True, **kw) -> requests.Response:
        return requests.request(method, self.base + path, headers=self._headers(auth), timeout=30, **kw)

    def _headers(self, auth: bool) -> dict:
        return {"Authorization": f"Bearer {self.token}"} if auth and self.token else {}

    def wait_ready(self) -> None:
        def ready():
            assert self.running(), f"the app exited:\n{self.log()[-3000:]}"
            return self.get("/readyz").status_code == 200
        wait_until(ready, what="the app's /readyz")

    def camera(self, camera_id: str) -> dict | None:
        for cam in self.get("/api/v1/cameras").json()["cameras"]:
            if cam["id"] == camera_id:
                return cam
        return None


def find_camera(app: App, port: int) -> dict | None:
    """Our simulator's camera (other test runs' cameras may be on loopback mDNS too)."""
    for cam in app.get("/api/v1/cameras").json()["cameras"]:
        if f":{port}/" in cam["url"]:
            return cam
    return None


class Camera(Process):
    def __init__(self, source: Path, port: int, name: str, register_host: str, token: str, log: Path):
        super().__init__(["camera", "--source", str(source), "--host", "127.0.0.1", "--port", str(port),
                          "--mdns-interface", "127.0.0.1", "--name", name, "--register-host", register_host,
                          "--reregister-after", "2"], {"EDGEFACE_CAMERA_TOKEN": token}, log)
        self.name, self.port = name, port


class MjpegReader:
    """Reads JPEG parts from a multipart/x-mixed-replace response, across several calls."""

    def __init__(self, response: requests.Response, max_bytes: int = 20_000_000):
        self.boundary = b"--" + response.headers["Content-Type"].split("boundary=", 1)[1].encode()
        self.chunks = response.iter_content(65536)
        self.buf = b""
        self.max_bytes = max_bytes

    def read(self, count: int) -> list[bytes]:
        parts = []
        while len(parts) < count:
            part = self._next_part()
            if part is None:
                raise AssertionError(f"stream ended after {len(parts)} of {count} frames")
            parts.append(part)
        return parts

    def _next_part(self) -> bytes | None:
        while True:
            start = self.buf.find(self.boundary)
            header_end = self.buf.find(b"\r\n\r\n", start)
            if start >= 0 and header_end >= 0:
                headers = self.buf[start:header_end].decode(errors="replace").lower()
                length = int(headers.split("content-length:", 1)[1].split("\r\n", 1)[0])
                body_start = header_end + 4
                if len(self.buf) >= body_start + length:
                    part = self.buf[body_start:body_start + length]
                    self.buf = self.buf[body_start + length:]
                    return part
            if len(self.buf) > self.max_bytes:
                return None
            chunk = next(self.chunks, None)
            if chunk is None:
                return None
            self.buf += chunk


def read_mjpeg_parts(response: requests.Response, count: int) -> list[bytes]:
    """The first ``count`` JPEG parts of a multipart/x-mixed-replace response."""
    return MjpegReader(response).read(count)


def read_sse(response: requests.Response, count: int, kind: str | None = None, max_lines: int = 100_000) -> list[dict]:
    """The first ``count`` server-sent events (of ``kind``, when given) of a streamed response,
    each as {"event", "id", "data"} with ``data`` parsed as JSON."""
    import json

    out: list[dict] = []
    event: dict = {}
    for n, line in enumerate(response.iter_lines(decode_unicode=True)):
        assert n < max_lines, f"{count} events did not come in {max_lines} lines"
        if line == "":
            if "data" in event and (kind is None or event.get("event") == kind):
                out.append({**event, "data": json.loads(event["data"])})
                if len(out) >= count:
                    return out
            event = {}
        elif not line.startswith(":"):
            field, _, value = line.partition(":")
            event[field] = value.removeprefix(" ")
    raise AssertionError(f"the event stream ended after {len(out)} of {count} events")
