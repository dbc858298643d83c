"""A camera that behaves like the ESP32-CAM firmware, fed from a video file or an image folder.

- ``GET /stream?token=T``: MJPEG (multipart/x-mixed-replace), 401 without the right token.
- ``GET /capture?token=T``: the current frame as one JPEG.
- With ``sub_size`` (``--sub-size WxH``), a camera with two streams as IP cameras have: ``/stream``
  sends the frames scaled to that size (the sub-stream) and ``GET /main?token=T`` the source's own
  (the main stream), each frame of both from the same moment.
- Advertises ``_edgecam._tcp`` (TXT ``path``, ``token``, and ``identify_path`` with a main stream) over mDNS.
- Resolves the app's registration host over mDNS and calls
  ``GET http://HOST:PORT/register?ip=IP&token=T&port=P``; calls again whenever the app has not
  pulled the stream for a while (the app restarted and forgot the camera): see ``registrar``.

Built to be cheap, since four of them share two cores with the app in the benchmarks: every
source frame is JPEG-encoded once (and a short clip is cached, so later loops encode nothing),
and all clients are sent the same bytes.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import cv2

from edgeface.cameras.latest import Latest
from edgeface.cameras.mdns import ALL_INTERFACES, REGISTRATION_HOST, CameraAnnouncer, announce_addresses
from edgeface.cameras.playback import Pacer, Playback
from edgeface.cameras.urls import slugify
from edgeface.errors import EdgefaceError
from edgeface.images import encode_jpeg
from edgeface.lifecycle import Service
from edgeface.tools.registrar import Registrar

log = logging.getLogger(__name__)

BOUNDARY = "123456789000000000000987654321"  # the one ESP32-CAM firmware uses
CACHE_LIMIT_BYTES = 256 * 1024 * 1024
STREAM_PATH = "/stream"
MAIN_PATH = "/main"


@dataclass
class SimulatorConfig:
    source: str
    host: str = "127.0.0.1"
    port: int = 8081
    mdns_interface: str | None = "127.0.0.1"
    token: str | None = None  # None: a random one
    name: str | None = None
    register_host: str | None = REGISTRATION_HOST  # None: do not register
    register_port: int | None = None  # None: from the app's _edgeface._tcp service, else 80
    advertise: bool = True
    advertise_ip: str | None = None
    fps: float | None = None
    quality: int = 80
    reregister_after_s: float = 5.0
    sub_size: tuple[int, int] | None = None  # (width, height): /stream at this size, /main at the source's


class FrameFeed(Service):
    """Plays the source at its frame rate and holds the latest multipart part for every client:
    of ``frames`` (``/stream``) and, with ``sub_size``, of ``main`` (``/main``, the source's size;
    ``frames`` are then scaled to ``sub_size``)."""

    def __init__(self, playback: Playback, quality: int = 80, cache_limit: int = CACHE_LIMIT_BYTES,
                 sub_size: tuple[int, int] | None = None):
        super().__init__("camera-feed")
        self.playback = playback
        self.quality = quality
        self.cache_limit = cache_limit
        self.sub_size = sub_size
        self.encoded = 0  # frames encoded (once per frame, whatever the streams), for tests and stats
        self.frames: Latest[tuple[bytes, bytes]] = Latest()  # (multipart part, jpeg)
        self.main: Latest[tuple[bytes, bytes]] | None = Latest() if sub_size else None
        self._error: Exception | None = None

    def _wake(self) -> None:
        self.frames.close()        # clients waiting for a frame return at once
        if self.main is not None:
            self.main.close()

    def latest_jpeg(self, timeout: float = 2.0) -> bytes | None:
        item = self.frames.wait(0, timeout)
        return item[1][1] if item else None

    def _encoded(self, bgr) -> tuple[bytes, bytes | None]:
        """The frame as ``/stream`` sends it, and as ``/main`` does (None: no main stream)."""
        self.encoded += 1
        if self.sub_size is None:
            return encode_jpeg(bgr, self.quality), None
        small = cv2.resize(bgr, self.sub_size, interpolation=cv2.INTER_AREA)
        return encode_jpeg(small, self.quality), encode_jpeg(bgr, self.quality)

    def jpegs(self) -> Iterator[tuple[bytes, bytes | None]]:
        """What ``/stream`` and ``/main`` send, frame by frame, for ever."""
        cache: list[tuple[bytes, bytes | None]] | None = []
        size = 0
        for bgr in self.playback.one_pass():
            jpegs = self._encoded(bgr)
            if cache is not None:
                size += len(jpegs[0]) + len(jpegs[1] or b"")
                cache = cache if size <= self.cache_limit else None
                if cache is not None:
                    cache.append(jpegs)
            yield jpegs
        if cache:
            while True:  # every later loop replays the cache: no decoding, no encoding
                yield from cache
        for bgr in self.playback.forever():  # too long to cache: encode as it plays
            yield self._encoded(bgr)

    def run(self) -> None:
        pacer = Pacer(self.playback.fps)
        try:
            for jpeg, main in self.jpegs():
                if not pacer.wait(self._stop_event):
                    return
                now = time.time()                # one moment for both streams
                self.frames.publish(_part(jpeg, now))
                if self.main is not None and main is not None:
                    self.main.publish(_part(main, now))
        except Exception as err:  # noqa: BLE001 - the source broke mid-play: stop serving frames, say why
            self._error = err
            log.error("camera source failed: %s", err)


def _part(jpeg: bytes, now: float) -> tuple[bytes, bytes]:
    header = (f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n"
              f"X-Timestamp: {int(now)}.{int(now % 1 * 1e6):06d}\r\n\r\n").encode()
    return header + jpeg + b"\r\n", jpeg


class CameraHTTPServer(ThreadingHTTPServer):
    """Threaded server that knows its feed and token, and can cut all client sockets at stop."""

    daemon_threads = False  # server_close() joins the handler threads
    block_on_close = True

    def __init__(self, address, feed: FrameFeed, token: str):
        self.feed = feed
        self.token = token
        self.stopping = threading.Event()
        self.last_pull: dict[str, float] = {}  # client IP -> monotonic time of its last frame
        self._clients: set[socket.socket] = set()
        self._clients_lock = threading.Lock()
        self.streams = 0  # open /stream connections: whether anyone is reading this camera now
        super().__init__(address, CameraRequestHandler)

    def count_stream(self, delta: int) -> None:
        with self._clients_lock:
            self.streams += delta

    def process_request_thread(self, request, client_address):
        with self._clients_lock:
            self._clients.add(request)
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._clients_lock:
                self._clients.discard(request)

    def close_clients(self) -> None:
        with self._clients_lock:
            clients = list(self._clients)
        for sock in clients:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def pulled_within(self, seconds: float, client_ip: str | None = None) -> bool:
        """Whether ``client_ip`` (any client if None) took a frame in the last ``seconds``."""
        now = time.monotonic()
        if client_ip is not None:
            return now - self.last_pull.get(client_ip, -1e9) < seconds
        return any(now - t < seconds for t in list(self.last_pull.values()))


class CameraRequestHandler(BaseHTTPRequestHandler):
    server: CameraHTTPServer
    timeout = 15  # a client that stops reading is dropped instead of holding a thread forever
    server_version = "edgeface-camera"

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        main = self.server.feed.main
        if url.path in (STREAM_PATH, MAIN_PATH, "/capture") and not self._token_ok(url.query):
            self._plain(401, "missing or wrong token\n")
        elif url.path == STREAM_PATH:
            self._stream(self.server.feed.frames)
        elif url.path == MAIN_PATH and main is not None:
            self._stream(main)
        elif url.path == "/capture":
            jpeg = self.server.feed.latest_jpeg()
            if jpeg is None:
                self._plain(503, "no frame yet\n")
            else:
                self._send_headers(200, "image/jpeg", len(jpeg))
                self.wfile.write(jpeg)
        elif url.path == "/":
            self._plain(200, "edgeface camera simulator: /stream, /capture and, with a main stream, /main "
                             "(token required)\n")
        else:
            self._plain(404, "not found\n")

    def _stream(self, frames: Latest[tuple[bytes, bytes]]) -> None:
        self._send_headers(200, f"multipart/x-mixed-replace;boundary={BOUNDARY}")
        client, seq = self.client_address[0], 0
        self.server.count_stream(1)
        try:
            while not self.server.stopping.is_set():
                item = frames.wait(seq, timeout=1.0)
                if item is None:
                    continue
                seq, (part, _) = item
                try:
                    self.wfile.write(part)
                except OSError:  # client went away
                    return
                self.server.last_pull[client] = time.monotonic()
        finally:
            self.server.count_stream(-1)

    def _token_ok(self, query: str) -> bool:
        given = parse_qs(query).get("token", [""])[0]
        return hmac.compare_digest(given.encode(), self.server.token.encode())

    def _send_headers(self, status: int, content_type: str, length: int | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Cache-Control", "no-store")
        self.send_header("Access-Control-Allow-Origin", "*")
        if length is not None:
            self.send_header("Content-Length", str(length))
        self.end_headers()

    def _plain(self, status: int, text: str) -> None:
        body = text.encode()
        self._send_headers(status, "text/plain; charset=utf-8", len(body))
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:
        # The default logs the request line, query and token included: log the path only.
        log.debug("%s %s %s", self.client_address[0], urlsplit(self.path).path, args[1] if len(args) > 1 else "")


class CameraSimulator:
    """The whole simulated camera; ``start()``, then ``close()`` (sends mDNS goodbyes); ``with``
    closes it."""

    def __init__(self, config: SimulatorConfig):
        self.config = config
        self.token = config.token or secrets.token_urlsafe(12)
        self.playback = Playback(config.source, fps=config.fps)
        if not 1 <= config.quality <= 100:
            raise EdgefaceError(f"JPEG quality {config.quality} is out of range", "use 1-100")
        self.feed = FrameFeed(self.playback, config.quality, sub_size=config.sub_size)
        try:
            self.server = CameraHTTPServer((config.host, config.port), self.feed, self.token)
        except OSError as err:
            raise EdgefaceError(f"cannot listen on {config.host}:{config.port} ({err.strerror})",
                                "choose another --port or --host") from None
        self.port = self.server.server_address[1]
        self.name = config.name or f"edgecam-{slugify(socket.gethostname(), 20)}-{self.port}"
        self.ip = config.advertise_ip or _reachable_ip(config.host, config.mdns_interface)
        self._server_thread = threading.Thread(target=self.server.serve_forever, name="camera-http", daemon=True)
        self._closed = False
        self.registrar: Registrar | None = None
        self.announcer: CameraAnnouncer | None = None

    def start(self) -> CameraSimulator:
        self.feed.start()
        self._server_thread.start()
        try:
            if self.config.register_host:
                self.registrar = Registrar(
                    self.config.register_host, self.config.register_port, self.config.mdns_interface,
                    token=self.token, camera_ip=self.ip, camera_port=self.port,
                    pulled_within=self.server.pulled_within, interval=self.config.reregister_after_s,
                    name=self.name).start()
            if self.config.advertise:
                self.announcer = CameraAnnouncer(self.name, self.port, token=self.token, path=STREAM_PATH,
                                                 identify_path=MAIN_PATH if self.config.sub_size else None,
                                                 address=self.ip, interface_ip=self.config.mdns_interface)
        except Exception:
            self.close()
            raise
        return self

    def close(self) -> None:
        """Goodbyes first (the app drops the camera at once), then close every socket and thread.
        Idempotent; also cleans up a simulator that never started."""
        if self._closed:
            return
        self._closed = True
        if self.registrar is not None:
            self.registrar.request_stop()      # no new registration while the goodbyes go out
        if self.announcer is not None:
            self.announcer.close()
        if self.registrar is not None:
            self.registrar.close()
        self.server.stopping.set()
        if self._server_thread.is_alive():
            self.server.shutdown()
        self.server.close_clients()
        self.server.server_close()
        self.feed.close()

    #: ``cli_camera`` and the tests say ``stop()``.
    stop = close

    def __enter__(self) -> CameraSimulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _reachable_ip(host: str, mdns_interface: str | None) -> str:
    """The IP to tell the app: the bound one, else the mDNS interface's, else this host's first."""
    for candidate in (host, mdns_interface):
        if candidate and candidate not in ALL_INTERFACES:
            return candidate
    return announce_addresses(None)[0]
