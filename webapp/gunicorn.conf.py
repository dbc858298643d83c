"""gunicorn settings for the edgeface web app: ``gunicorn -c webapp/gunicorn.conf.py``.

One worker process, many threads (``gthread``):
- all per-camera state lives in one process — each camera is pulled once, tracked once, and its
  annotated JPEG encoded once however many people watch; the model is loaded once (a second
  worker would double RAM, pull every camera twice and announce the same mDNS name twice);
- every MJPEG viewer holds a connection (and a thread) for as long as it watches, so the thread
  count, not the worker count, bounds concurrent viewers; the heavy work runs in the app's own
  camera and analysis threads (OpenCV and dlib release the GIL), not in request threads;
- async workers (gevent/eventlet) would monkey-patch the threads that dlib and OpenCV work in.

Bind, threads and log level come from the ``http`` section of the settings (``EDGEFACE_HOST``,
``EDGEFACE_PORT``, ``EDGEFACE_HTTP_THREADS``, ``EDGEFACE_LOG_LEVEL``; docs/settings.md), read once
here for the gunicorn master; ``edgeface serve`` sets them from its own settings instead.
"""

import logging
import signal
import sys

from edgeface.errors import ConfigError
from edgeface.settings import HttpSettings
from webapp.server import WORKER_CONNECTIONS, bind_address

try:
    _http = HttpSettings.from_env()
except ConfigError as err:   # a clear line, not gunicorn's "failed to read config file" traceback
    sys.exit(f"edgeface: error: {err}")

wsgi_app = "webapp:create_app()"
bind = [bind_address(_http.host, _http.port)]
workers = 1                       # see above: per-camera state must not be split across processes
# gthread, but a connection gets a thread only with its whole request, head and body (slow clients
# cannot hold threads; probes have threads of their own; webapp/server.py); streams are capped
# below the thread count (feeds.py).
worker_class = "webapp.server.HeadBufferingWorker"
threads = _http.threads
# Open connections (requests being read, kept alive, streaming), at most 64 per client address:
# at the limit a new one takes the place of the one that has waited longest for its request.
worker_connections = WORKER_CONNECTIONS
timeout = 60                      # worker heartbeat; long streams are fine under gthread
graceful_timeout = 10             # streams end themselves on shutdown (see post_worker_init)
keepalive = 5
preload_app = False               # threads and mDNS sockets must be created in the worker, not before fork
accesslog = "-"
# %(U)s is the path without the query string: /register?token=… must never reach a log.
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'
errorlog = "-"
loglevel = _http.log_level
control_socket_disable = True    # one shared ~/.gunicorn/gunicorn.ctl would clash between instances


def _service(worker):
    app = getattr(worker, "wsgi", None)
    return getattr(app, "extensions", {}).get("edgeface") if app is not None else None


def post_worker_init(worker):
    """End MJPEG streams as soon as a stop is asked for, so shutdown does not wait them out."""
    service = _service(worker)
    if service is None:
        return
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
        previous = signal.getsignal(sig)

        def handler(signum, frame, previous=previous):
            service.stopping.set()
            if callable(previous):
                previous(signum, frame)
        signal.signal(sig, handler)


def worker_exit(server, worker):
    """Stop cameras, analysis threads, mDNS and the model watcher (joins every thread)."""
    service = _service(worker)
    if service is not None:
        service.close()


def post_fork(server, worker):
    """The app's loggers (edgeface.*, webapp.*) write where gunicorn's error log does, at its level:
    without handlers of their own, their INFO lines (start-up settings, which dlib) were dropped."""
    for name in ("edgeface", "webapp"):
        logger = logging.getLogger(name)
        logger.handlers = list(worker.log.error_log.handlers)
        logger.setLevel(worker.log.error_log.level)
        logger.propagate = False
