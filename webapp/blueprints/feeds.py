"""Live video as ``multipart/x-mixed-replace`` JPEG streams (what an <img> shows), and the faces
on it as one server-sent event stream per page (``/live/marks``), which the browser draws over the
pictures.

``/video_feed/<id>`` sends the camera's own frames; ``?boxes=drawn`` sends them with the faces
drawn in, for viewers without a browser (VLC, an NVR, scripts). Each stream holds one HTTP thread
for as long as it is watched, so streams are capped below the thread count (``RESERVED_THREADS``
always stay for /healthz, the API and the pages) and per client address (one browser cannot take
them all): 503 or 429 with Retry-After beyond. An event stream ends after ``MARKS_MAX_S`` (the
browser's EventSource reconnects at once), so a forgotten tab does not hold a thread for ever.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from contextlib import closing

from flask import Blueprint, Response, current_app, request, stream_with_context

from webapp.blueprints.common import service, wants_drawn
from webapp.errors import error_response

bp = Blueprint("feeds", __name__)

BOUNDARY = "frame"
WAIT_S = 1.0     # how often a waiting stream checks for shutdown or removal
RESERVED_THREADS = 8    # HTTP threads streams never take: probes, API and pages always have some
PER_CLIENT = 10         # a page shows 4 picture streams and one of marks: two tabs of one browser fit
RETRY_AFTER_S = 5
MARKS_MAX_S = 300.0     # an event stream ends after this; EventSource opens a new one at once
MARKS_RETRY_MS = 1000   # ... after this long (sent to the browser)


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
    try:
        drawn = wants_drawn()
    except ValueError as err:
        return error_response(400, str(err), "leave it out for the camera's own frames (the console draws the "
                                             "faces), or boxes=drawn to have them drawn in")
    feed, status = service().feed(camera_id, drawn), service().camera(camera_id)
    if feed is None or status is None:
        return error_response(404, "no such camera", "it may have been removed; the live page lists the cameras")
    if not status.online:
        # Not a held connection with one old frame: a page waiting for it would never finish loading.
        response = error_response(503, f"camera {camera_id} is offline: no picture", "the feed opens once it is back")
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
        return response
    slots, client, refused = _take_slot()
    if refused is not None:
        return refused

    def parts():
        # closing(): a client that goes stops counting as a viewer at once, not when collected.
        with closing(feed.frames(WAIT_S)) as frames:
            for jpeg in frames:
                yield (b"--" + BOUNDARY.encode() + b"\r\nContent-Type: image/jpeg\r\n"
                       b"Content-Length: " + str(len(jpeg)).encode() + b"\r\n\r\n" + jpeg + b"\r\n")

    return _streamed(parts(), f"multipart/x-mixed-replace; boundary={BOUNDARY}", slots, client)


@bp.get("/live/marks")
def marks():
    """Server-sent events for the console's live pictures, every camera in one stream (or those in
    ``?cameras=a,b``): ``faces`` (a camera's shown frame: its boxes, names and confidence, stamped
    with the frame's number and time) and ``alert`` (the alert watchlist matched). Comments keep
    the stream alive while nothing happens."""
    wanted = request.args.get("cameras")      # "cameras=" (empty): alerts only, for pages without pictures
    cameras = frozenset(c for c in wanted.split(",") if c) if wanted is not None else None
    last = request.headers.get("Last-Event-ID", "")   # a browser reconnecting: the alerts it missed
    slots, client, refused = _take_slot()
    if refused is not None:
        return refused
    stream = service().marks()

    def events():
        yield f"retry: {MARKS_RETRY_MS}\n\n".encode()
        with closing(stream.marks(WAIT_S, cameras, until=time.monotonic() + MARKS_MAX_S,
                                  after=int(last) if last.isdigit() else None)) as batches:
            for batch in batches:
                if not batch:
                    yield b": still here\n\n"     # a write: a client that left is noticed now
                    continue
                yield b"".join(f"id: {m.seq}\nevent: {m.kind}\ndata: "
                               f"{json.dumps({'camera': m.camera, **m.body}, separators=(',', ':'))}\n\n".encode()
                               for m in batch)

    return _streamed(events(), "text/event-stream", slots, client)


def _take_slot():
    """(slots, client, None) with a stream slot taken for ``client``; else (.., .., refusal)."""
    slots: FeedSlots = current_app.extensions["edgeface.feeds"]
    client = request.remote_addr or "?"
    refused = slots.take(client)
    if refused is None:
        return slots, client, None
    response = error_response(refused[0], refused[1], f"close a stream or retry in {RETRY_AFTER_S} s")
    response.headers["Retry-After"] = str(RETRY_AFTER_S)
    return slots, client, response


def _streamed(body, mimetype: str, slots: FeedSlots, client: str) -> Response:
    response = Response(stream_with_context(body), mimetype=mimetype,
                        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
    # On close, not in the generator: a stream never iterated (client gone at once) must free it too.
    response.call_on_close(lambda: slots.give_back(client))
    return response
