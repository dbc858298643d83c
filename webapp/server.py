"""Running the app under gunicorn from Python (``edgeface serve``), with the repo's config file,
and the worker class both use (``HeadBufferingWorker``)."""

from __future__ import annotations

import errno
import runpy
import selectors
import time
from collections import deque
from functools import partial
from pathlib import Path

from gunicorn.app.base import BaseApplication
from gunicorn.workers.gthread import TConn, ThreadWorker

from edgeface.settings import Settings

CONFIG_FILE = Path(__file__).with_name("gunicorn.conf.py")


def bind_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


#: A request head (request line + headers) must arrive whole within this, or the connection closes.
HEAD_TIMEOUT_S = 10.0
MAX_HEAD_BYTES = 64 * 1024
#: gunicorn's worker_connections (see gunicorn.conf.py); well under the usual 1024 open files.
WORKER_CONNECTIONS = 500
_REFUSALS = {
    408: b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
    431: b"HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
}


class HeadBufferingWorker(ThreadWorker):
    """gunicorn's gthread worker, except that a connection gets a thread only once its whole
    request head has arrived (as nginx in front would do).

    Plain gthread hands a connection to a thread at its first byte; the thread then blocks
    reading the headers, with no time limit. Measured: 40 clients sending one header line
    every 5 s held all 32 threads and /healthz stopped answering. Here heads are read in the
    event loop (non-blocking, any number of them), at most ``MAX_HEAD_BYTES`` within
    ``HEAD_TIMEOUT_S``, for new connections and for each request on a kept-alive one.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.heading: deque[TConn] = deque()    # waiting for their head, oldest deadline first

    def accept(self, listener):
        try:
            client_sock, client_addr = listener.accept()
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        self._await_head(TConn(self.cfg, client_sock, client_addr, listener.getsockname()))

    def on_client_socket_readable(self, conn, client):
        """A kept-alive connection's next request: its head is buffered like a new one's."""
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        self._await_head(conn)

    def _await_head(self, conn: TConn) -> None:
        conn.head = bytearray()
        conn.head_deadline = time.monotonic() + HEAD_TIMEOUT_S
        conn.sock.setblocking(False)
        self.heading.append(conn)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._read_head, conn))

    def _read_head(self, conn: TConn, sock) -> None:
        try:
            data = sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:                      # the client went away
            self._drop(conn)
            return
        searched_from = max(0, len(conn.head) - 3)
        conn.head += data
        if conn.head.find(b"\r\n\r\n", searched_from) < 0:
            if len(conn.head) > MAX_HEAD_BYTES:
                self._drop(conn, 431)
            return
        self.poller.unregister(sock)
        self.heading.remove(conn)
        conn.data_ready = True            # no waiting for a first byte in the thread
        conn.init()                       # the parser (once per connection)
        conn.parser.unreader.unread(bytes(conn.head))
        del conn.head
        self.enqueue_req(conn)

    def _drop(self, conn: TConn, status: int | None = None) -> None:
        self.heading.remove(conn)
        try:
            self.poller.unregister(conn.sock)
        except (KeyError, ValueError, OSError):
            pass
        if status is not None:
            try:
                conn.sock.send(_REFUSALS[status])
            except OSError:
                pass
        self.nr_conns -= 1
        conn.close()

    def murder_pending(self):
        """Also close connections whose head did not arrive in time."""
        super().murder_pending()
        now = time.monotonic()
        while self.heading and self.heading[0].head_deadline <= now:
            self._drop(self.heading[0], 408)


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
