"""Real camera-side servers for the tests: MJPEG cameras that misbehave on purpose, and the
simulator run as a separate process, as users run it."""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from helpers import REPO, unique, wait_until  # noqa: F401 - re-exported for the camera tests

#: Generous: the suite shares two cores with other work; nothing here is a speed assertion.
DEADLINE_S = 40.0


def part(jpeg: bytes, boundary: bytes = b"frame", length: bool = True) -> bytes:
    headers = b"Content-Type: image/jpeg\r\n" + (b"Content-Length: %d\r\n" % len(jpeg) if length else b"")
    return b"--" + boundary + b"\r\n" + headers + b"\r\n" + jpeg + b"\r\n"


class ScriptedCamera:
    """HTTP server on 127.0.0.1 where each path runs a script writing raw bytes to the client.

    A script gets the handler; it sends whatever status, headers and body bytes it likes.
    """

    def __init__(self):
        self.scripts: dict[str, Callable[[BaseHTTPRequestHandler], None]] = {}
        self.released = threading.Event()  # set by close(): ends scripts that hold a connection
        self.requests: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                path = urlsplit(self.path).path
                outer.requests.append(self.path)
                self.close_connection = True  # a script's stream ends when the connection does
                script = outer.scripts.get(path)
                if script is None:
                    self.send_error(404)
                    return
                try:
                    script(self)
                except OSError:
                    pass  # the reader hung up: fine

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def silent_after(self, path: str, frames: list[bytes]) -> None:
        """At ``path``: the given frames, then silence on an open connection (a stall)."""

        def script(handler):
            start_multipart(handler, b"multipart/x-mixed-replace; boundary=frame")
            handler.wfile.write(b"".join(part(f) for f in frames))
            self.released.wait(DEADLINE_S)

        self.scripts[path] = script

    def close(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


def start_multipart(handler: BaseHTTPRequestHandler, content_type: bytes) -> None:
    """Status line and headers written by hand, exactly as given (no library normalising)."""
    handler.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: " + content_type + b"\r\nConnection: close\r\n\r\n")


class LiveCamera:
    """An MJPEG camera the test controls: ``pause()`` stalls it, ``kill()`` takes it off the
    network (listening socket and connections closed), ``revive()`` brings it back on the same port."""

    def __init__(self, frames: list[bytes], fps: float = 20.0, token: str | None = None):
        self.frames = frames
        self.fps = fps
        self.token = token
        self.sent = 0
        self.streaming = threading.Event()
        self.streaming.set()
        self._stop = threading.Event()
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._listener = self._listen(0)
        self.port = self._listener.getsockname()[1]
        self._accept_thread = self._start_accepting()

    def url(self, token: str | None = None) -> str:
        query = f"?token={token}" if token else ""
        return f"http://127.0.0.1:{self.port}/stream{query}"

    def pause(self) -> None:
        self.streaming.clear()

    def resume(self) -> None:
        self.streaming.set()

    def kill(self) -> None:
        self._stop.set()
        self._listener.close()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            _hang_up(conn)
        self._accept_thread.join(5)

    def revive(self) -> None:
        self._stop.clear()
        self._listener = wait_until(lambda: self._try_listen(self.port), what="port free again")
        self._accept_thread = self._start_accepting()

    def _listen(self, port: int) -> socket.socket:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen(8)
        sock.settimeout(0.2)
        return sock

    def _try_listen(self, port: int) -> socket.socket | None:
        try:
            return self._listen(port)
        except OSError:
            return None

    def _start_accepting(self) -> threading.Thread:
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()
        return thread

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with self._lock:
            self._conns.add(conn)
        try:
            conn.settimeout(10)
            request = conn.recv(4096).decode(errors="replace")
            target = request.split(" ")[1] if " " in request else "/"
            if self.token and parse_qs(urlsplit(target).query).get("token") != [self.token]:
                conn.sendall(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                return
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: multipart/x-mixed-replace; boundary=frame\r\n\r\n")
            i = 0
            while not self._stop.is_set():
                if not self.streaming.wait(0.1):
                    continue
                conn.sendall(part(self.frames[i % len(self.frames)]))
                self.sent += 1
                i += 1
                time.sleep(1.0 / self.fps)
        except OSError:
            pass
        finally:
            with self._lock:
                self._conns.discard(conn)
            _hang_up(conn)


def _hang_up(conn: socket.socket) -> None:
    try:
        conn.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    conn.close()


class SimulatorProcess:
    """``python -m edgeface camera ...`` in its own process; ``port`` read from its first line."""

    def __init__(self, *args: str):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "edgeface", "camera", *args], cwd=REPO,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.stderr: list[str] = []
        threading.Thread(target=self._pump, args=(self.proc.stdout, self.lines.put), daemon=True).start()
        threading.Thread(target=self._pump, args=(self.proc.stderr, self.stderr.append), daemon=True).start()
        self.port: int | None = None

    @staticmethod
    def _pump(stream, sink) -> None:
        for line in stream:
            sink(line.rstrip("\n"))

    def expect_line(self, contains: str, timeout: float = DEADLINE_S) -> str:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or (self.proc.poll() is not None and self.lines.empty()):
                raise AssertionError(f"simulator never printed {contains!r}; exit {self.proc.poll()}; "
                                     f"stderr:\n" + "\n".join(self.stderr[-30:]))
            try:
                line = self.lines.get(timeout=min(left, 0.5))
            except queue.Empty:
                continue
            if contains in line:
                return line

    def wait_ready(self) -> SimulatorProcess:
        first = self.expect_line("/stream?token=")
        self.port = int(first.split("/stream?")[0].rsplit(":", 1)[1])
        self.expect_line("ready")
        return self

    def url(self, path: str = "/stream", token: str | None = None) -> str:
        return f"http://127.0.0.1:{self.port}{path}" + (f"?token={token}" if token else "")

    def terminate(self, sig: int = signal.SIGTERM, timeout: float = DEADLINE_S) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
                raise AssertionError("the simulator did not exit after " + signal.Signals(sig).name) from None
        return self.proc.returncode
