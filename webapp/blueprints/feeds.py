"""Live annotated video as ``multipart/x-mixed-replace`` JPEG streams (what an <img> shows).

Each stream holds one HTTP thread for as long as it is watched, so streams are capped below the
thread count (``RESERVED_THREADS`` always stay for /healthz, the API and the pages) and per
client address (one browser cannot take them all): 503 or 429 with Retry-After beyond.
"""

from __future__ import annotations

import threading
from collections import Counter
from contextlib import closing

from flask import Blueprint, Response, current_app, request, stream_with_context

from webapp.blueprints.common import service
from webapp.errors import error_response

bp = Blueprint("feeds", __name__)

BOUNDARY = "frame"
WAIT_S = 1.0     # how often a waiting stream checks for shutdown or removal
RESERVED_THREADS = 8    # HTTP threads streams never take: probes, API and pages always have some
PER_CLIENT = 8          # the page shows 4 streams: two tabs of one browser fit
RETRY_AFTER_S = 5


class FeedSlots:
    """Counts open streams, in all and per client address; a slot is taken before a stream
    starts and given back when its response closes."""

    def __init__(self, total: int, per_client: int):
        self.total, self.per_client = max(1, total), per_client
        self._open: Counter[str] = Counter()
        self._lock = threading.Lock()

    def take(self, client: str) -> tuple[int, str] | None:
        """None when ``client`` may open a stream (its slot is taken); else (status, reason)."""
        with self._lock:
            if self._open[client] >= self.per_client:
                return 429, f"this client already watches {self._open[client]} streams (limit {self.per_client})"
            if self._open.total() >= self.total:
                return 503, f"all {self.total} stream slots are in use"
            self._open[client] += 1
            return None

    def give_back(self, client: str) -> None:
        with self._lock:
            self._open[client] -= 1
            if self._open[client] <= 0:
                del self._open[client]


@bp.record_once
def _make_slots(state) -> None:
    threads = state.app.config["EDGEFACE_SETTINGS"].http.threads
    state.app.extensions["edgeface.feeds"] = FeedSlots(threads - RESERVED_THREADS, PER_CLIENT)


@bp.get("/video_feed")
def default_feed():
    """The first camera's feed (the original single-camera URL); /video_feed/<id> for the others."""
    camera_ids = service().camera_ids()
    if not camera_ids:
        return error_response(503, "no camera is connected yet", "register one, or GET /api/v1/cameras")
    return camera_feed(camera_ids[0])


@bp.get("/video_feed/<camera_id>")
def camera_feed(camera_id: str):
    feed, status = service().feed(camera_id), service().camera(camera_id)
    if feed is None or status is None:
        return error_response(404, "no such camera", "it may have been removed; the live page lists the cameras")
    if not status.online:
        # Not a held connection with one old frame: a page waiting for it would never finish loading.
        response = error_response(503, f"camera {camera_id} is offline: no picture", "the feed opens once it is back")
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
        return response
    slots: FeedSlots = current_app.extensions["edgeface.feeds"]
    client = request.remote_addr or "?"
    refused = slots.take(client)
    if refused is not None:
        response = error_response(refused[0], refused[1], f"close a stream or retry in {RETRY_AFTER_S} s")
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
        return response

    def parts():
        # closing(): a client that goes stops counting as a viewer at once, not when collected.
        with closing(feed.frames(WAIT_S)) as frames:
            for jpeg in frames:
                yield (b"--" + BOUNDARY.encode() + b"\r\nContent-Type: image/jpeg\r\n"
                       b"Content-Length: " + str(len(jpeg)).encode() + b"\r\n\r\n" + jpeg + b"\r\n")

    response = Response(stream_with_context(parts()), mimetype=f"multipart/x-mixed-replace; boundary={BOUNDARY}",
                        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
    # On close, not in the generator: a stream never iterated (client gone at once) must free it too.
    response.call_on_close(lambda: slots.give_back(client))
    return response
