"""Running the app under gunicorn from Python (``edgeface serve``), with the repo's config file,
and the worker class both use (``HeadBufferingWorker``)."""

from __future__ import annotations

import errno
import json
import runpy
import selectors
import socket
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

from flask import Flask
from gunicorn.app.base import BaseApplication
from gunicorn.workers.gthread import TConn, ThreadWorker

from edgeface.settings import Settings
from webapp.auth import head_authenticated
from webapp.framing import BadFraming, RequestHead, chunked_end, parse_head, without_expect
from webapp.proxies import is_trusted

CONFIG_FILE = Path(__file__).with_name("gunicorn.conf.py")


def bind_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


#: A request head (request line + headers) must arrive whole within this, or the connection closes;
#: a body gets as long again, plus a second per ``BODY_MIN_RATE`` bytes it announces.
HEAD_TIMEOUT_S = 10.0
MAX_HEAD_BYTES = 64 * 1024
BODY_MIN_RATE = 64 * 1024
#: The largest body a request without credentials may send (a login form, a registration):
#: larger ones need a token first, so strangers cannot make the app buffer megabytes.
PREAUTH_BODY_BYTES = 64 * 1024
#: Chunk size lines and trailers, allowed on top of the limit for a chunked body.
CHUNKED_OVERHEAD = 8 * 1024
#: gunicorn's worker_connections (see gunicorn.conf.py): open connections, all kinds together.
#: At the limit a new connection takes the place of the oldest one still sending its request
#: (or idling between requests), so probes and operators get in however many clients dawdle.
WORKER_CONNECTIONS = 500
#: Open connections one client address may hold (trusted proxies excepted: all clients share theirs).
CONNECTIONS_PER_ADDRESS = 64
#: Threads that answer only the probes, so /healthz and /readyz answer when every other thread is busy.
PROBE_THREADS = 2
PROBE_PATHS = frozenset({"/healthz", "/readyz"})
#: A refused connection is read (and what arrives dropped) this long before it closes.
LINGER_S = 2.0
_REASONS = {400: "Bad Request", 408: "Request Timeout", 413: "Content Too Large", 417: "Expectation Failed",
            429: "Too Many Requests", 431: "Request Header Fields Too Large", 501: "Not Implemented",
            503: "Service Unavailable"}


def refusal(status: int, message: str, hint: str) -> bytes:
    """A whole JSON error response that closes the connection (sent from the event loop)."""
    body = json.dumps({"error": message, "hint": hint}).encode()
    return (f"HTTP/1.1 {status} {_REASONS[status]}\r\nConnection: close\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


class _Conn(TConn):
    """A connection that tells the worker once when it closes (per-address counts)."""

    def __init__(self, *args, on_close=None, **kwargs):
        super().__init__(*args, **kwargs)
        self._on_close = on_close

    def close(self, graceful=False):
        if self._on_close is not None:
            on_close, self._on_close = self._on_close, None
            on_close(self)
        super().close(graceful)


class HeadBufferingWorker(ThreadWorker):
    """gunicorn's gthread worker, except that a connection gets a thread only once its whole
    request (head and body) has arrived, as nginx in front would do.

    Plain gthread hands a connection to a thread at its first byte; the thread then blocks
    reading the headers and the body, with no time limit. Measured: 40 clients sending one header
    line every 5 s (or a head announcing 20 bytes of body and no body) held all 32 threads and
    /healthz stopped answering. Here requests are read in the event loop (non-blocking, any
    number of them): a head of at most ``MAX_HEAD_BYTES`` within ``HEAD_TIMEOUT_S``, then its
    body (``Content-Length`` or chunked), at most ``PREAUTH_BODY_BYTES`` unless the head carries
    credentials, with ``Expect: 100-continue`` answered here. Probes run on threads of their own.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.max_connections = self.cfg.worker_connections
        self.worker_connections = self.max_connections + 1   # gthread stops accepting there: never reached
        self.reading: dict[TConn, float] = {}   # connections whose request is arriving -> deadline
        self.lingering: dict[TConn, float] = {}  # refused, draining what the client still sends -> deadline
        self.per_address: Counter[str] = Counter()
        self.probe_pool: ThreadPoolExecutor | None = None

    def init_process(self):
        self.probe_pool = ThreadPoolExecutor(PROBE_THREADS, thread_name_prefix="probe")
        super().init_process()

    # -- connections -----------------------------------------------------------------------------
    def accept(self, listener):
        try:
            client_sock, client_addr = listener.accept()
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        peer = client_addr[0] if isinstance(client_addr, tuple) else ""
        if self.per_address[peer] >= CONNECTIONS_PER_ADDRESS and not self._is_proxy(peer):
            _send_and_close(client_sock, refusal(429, "too many open connections from this address",
                                                 "close idle connections and retry"))
            return
        if self.nr_conns >= self.max_connections and not self._shed_one():
            _send_and_close(client_sock, refusal(503, "the server is at its connection limit", "retry shortly"))
            return
        self.nr_conns += 1
        self.per_address[peer] += 1
        conn = _Conn(self.cfg, client_sock, client_addr, listener.getsockname(), on_close=self._closed)
        self._await_request(conn)

    def _closed(self, conn: TConn) -> None:
        peer = conn.client[0] if isinstance(conn.client, tuple) else ""
        self.per_address[peer] -= 1
        if self.per_address[peer] <= 0:
            del self.per_address[peer]

    def _shed_one(self) -> bool:
        """Close a refused connection still lingering, else the one that has waited longest for its
        request, else the oldest idle one."""
        if self.lingering:
            self._close(next(iter(self.lingering)))
            return True
        if self.reading:
            conn = next(iter(self.reading))
            self._drop(conn, refusal(503, "the server is at its connection limit", "send requests without pausing"),
                       linger=False)
            return True
        if self.keepalived_conns:
            self._close(self.keepalived_conns.popleft())
            return True
        return False

    def _is_proxy(self, peer: str) -> bool:
        settings = self._settings()
        return settings is not None and is_trusted(peer, settings.http.trusted_proxies)

    def _settings(self):
        return getattr(getattr(self, "wsgi", None), "config", {}).get("EDGEFACE_SETTINGS")

    def on_client_socket_readable(self, conn, client):
        """A kept-alive connection's next request: buffered like a new one's."""
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        self._await_request(conn)

    # -- reading a request in the event loop -------------------------------------------------------
    def _await_request(self, conn: TConn) -> None:
        conn.buf = bytearray()
        conn.head = None                  # its RequestHead once the head has arrived
        conn.sock.setblocking(False)
        self.reading[conn] = time.monotonic() + HEAD_TIMEOUT_S
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._read, conn))

    def _read(self, conn: TConn, sock) -> None:
        try:
            data = sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:                      # the client went away
            self._drop(conn)
            return
        searched_from = max(0, len(conn.buf) - 3)
        conn.buf += data
        try:
            if conn.head is None:
                end = conn.buf.find(b"\r\n\r\n", searched_from)
                if end < 0:
                    if len(conn.buf) > MAX_HEAD_BYTES:
                        self._drop(conn, refusal(431, "request head too large",
                                                 f"send at most {MAX_HEAD_BYTES} bytes of headers"))
                    return
                if not self._head_arrived(conn, end):
                    return
            self._body_progress(conn)
        except BadFraming as err:
            self._drop(conn, refusal(err.status, str(err), "send a well-formed HTTP/1.1 request"))

    def _head_arrived(self, conn: TConn, end: int) -> bool:
        """Checks the head's framing; False when the connection was answered and closed."""
        head = parse_head(bytes(conn.buf[:end]))
        conn.head, conn.head_end = head, end + 4
        limit = self._body_limit(head)
        if head.length > limit:
            self._drop(conn, refusal(413, f"request body of {head.length} bytes is larger than the limit of "
                                          f"{limit} bytes", self._limit_hint(limit)))
            return False
        conn.body_limit = limit
        conn.scan_from = conn.head_end
        if head.has_body:
            expected = head.length if not head.chunked else limit
            self.reading[conn] = time.monotonic() + HEAD_TIMEOUT_S + expected / BODY_MIN_RATE
            if head.expects_continue:
                try:
                    conn.sock.send(b"HTTP/1.1 100 Continue\r\n\r\n")
                except OSError:
                    pass
        return True

    def _body_progress(self, conn: TConn) -> None:
        head = conn.head
        if head.chunked:
            end, conn.scan_from = chunked_end(conn.buf, conn.scan_from)
            if (end or len(conn.buf)) - conn.head_end > conn.body_limit + CHUNKED_OVERHEAD:
                raise BadFraming(f"request body is larger than the limit of {conn.body_limit} bytes", 413)
        else:
            end = conn.head_end + head.length
            if len(conn.buf) < end:
                end = None
        if end is not None:
            self._hand_over(conn)

    def _body_limit(self, head: RequestHead) -> int:
        app = getattr(self, "wsgi", None)
        if not isinstance(app, Flask):       # not the edgeface app: no credentials to look at
            return PREAUTH_BODY_BYTES
        upload_limit = int(app.config.get("MAX_CONTENT_LENGTH") or PREAUTH_BODY_BYTES)
        if head_authenticated(app, head.header("authorization"), head.header("cookie")):
            return max(upload_limit, PREAUTH_BODY_BYTES)
        return PREAUTH_BODY_BYTES

    def _limit_hint(self, limit: int) -> str:
        if limit == PREAUTH_BODY_BYTES:
            return "larger bodies need credentials: send 'Authorization: Bearer <token>' or log in first"
        return "send a smaller body"

    def _hand_over(self, conn: TConn) -> None:
        """The whole request is here: gunicorn's parser reads it from memory, in a thread."""
        self.poller.unregister(conn.sock)
        del self.reading[conn]
        head, data = conn.head, bytes(conn.buf)
        if head.expects_continue:
            data = without_expect(data[:conn.head_end - 4]) + data[conn.head_end - 4:]
        del conn.buf, conn.head
        conn.data_ready = True            # no waiting for a first byte in the thread
        conn.init()                       # the parser (once per connection)
        conn.parser.unreader.unread(data)
        pool = self.tpool
        if head.path in PROBE_PATHS and head.method in ("GET", "HEAD") and self.probe_pool is not None:
            pool = self.probe_pool
        future = pool.submit(self.handle, conn)
        future.add_done_callback(lambda fut: self.method_queue.defer(self.finish_request, conn, fut))

    def _drop(self, conn: TConn, response: bytes | None = None, linger: bool = True) -> None:
        """Close ``conn``; with a ``response``, send it and linger a little, reading and dropping
        what the client still sends: closing with unread data would reset the connection, and
        the client might never see why."""
        self.reading.pop(conn, None)
        self._unregister(conn.sock)
        if response is not None:
            try:
                conn.sock.send(response)
                if linger:            # (a connection shed for a new one closes at once)
                    conn.sock.shutdown(socket.SHUT_WR)
                    self.lingering[conn] = time.monotonic() + LINGER_S
                    self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._drain, conn))
                    return
            except OSError:
                pass
        self._close(conn)

    def _drain(self, conn: TConn, sock) -> None:
        try:
            if sock.recv(65536):
                return
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            pass
        self._close(conn)             # the client has closed its side too

    def _close(self, conn: TConn) -> None:
        self.lingering.pop(conn, None)
        self._unregister(conn.sock)
        self.nr_conns -= 1
        conn.close()

    def _unregister(self, sock) -> None:
        try:
            self.poller.unregister(sock)
        except (KeyError, ValueError, OSError):
            pass                      # not registered (any more)

    def murder_pending(self):
        """Also close connections whose request did not arrive in time, and lingering ones."""
        super().murder_pending()
        now = time.monotonic()
        for conn in [c for c, deadline in self.reading.items() if deadline <= now]:
            self._drop(conn, refusal(408, "the request did not arrive in time",
                                     f"send the head within {HEAD_TIMEOUT_S:g} s, the body without pauses"))
        for conn in [c for c, deadline in self.lingering.items() if deadline <= now]:
            self._close(conn)

    def run(self):
        try:
            super().run()
        finally:
            self.close()

    def close(self) -> None:
        """The probes' threads end with the worker (gunicorn ends the worker's ``run``)."""
        if self.probe_pool is not None:
            self.probe_pool.shutdown(wait=False)


def _send_and_close(sock: socket.socket, response: bytes) -> None:
    try:
        sock.setblocking(False)
        sock.send(response)
    except OSError:
        pass
    sock.close()


class EdgefaceServer(BaseApplication):
    """gunicorn with ``webapp/gunicorn.conf.py``; bind, threads and log level from ``settings``."""

    def __init__(self, settings: Settings):
        self.settings = settings
        super().__init__(prog="edgeface serve")

    def load_config(self) -> None:
        for key, value in runpy.run_path(str(CONFIG_FILE)).items():
            if key in self.cfg.settings and key != "wsgi_app" and value is not None:
                self.cfg.set(key, value)
        http = self.settings.http
        self.cfg.set("bind", [bind_address(http.host, http.port)])
        self.cfg.set("threads", http.threads)
        self.cfg.set("loglevel", http.log_level)

    def load(self):
        from webapp import create_app  # in the worker, after fork: threads start there
        return create_app(self.settings)
