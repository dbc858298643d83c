"""Live annotated video as ``multipart/x-mixed-replace`` JPEG streams (what an <img> shows)."""

from __future__ import annotations

from contextlib import closing

from flask import Blueprint, Response, stream_with_context

from webapp.blueprints.common import service
from webapp.errors import error_response

bp = Blueprint("feeds", __name__)

BOUNDARY = "frame"
WAIT_S = 1.0     # how often a waiting stream checks for shutdown or removal


@bp.get("/video_feed")
def default_feed():
    """The first camera's feed (the original single-camera URL); /video_feed/<id> for the others."""
    camera_ids = service().camera_ids()
    if not camera_ids:
        return error_response(503, "no camera is connected yet", "register one, or GET /api/v1/cameras")
    return camera_feed(camera_ids[0])


@bp.get("/video_feed/<camera_id>")
def camera_feed(camera_id: str):
    feed = service().feed(camera_id)
    if feed is None:
        return error_response(404, "no such camera", "GET /api/v1/cameras lists them")

    def parts():
        # closing(): a client that goes stops counting as a viewer at once, not when collected.
        with closing(feed.frames(WAIT_S)) as frames:
            for jpeg in frames:
                yield (b"--" + BOUNDARY.encode() + b"\r\nContent-Type: image/jpeg\r\n"
                       b"Content-Length: " + str(len(jpeg)).encode() + b"\r\n\r\n" + jpeg + b"\r\n")

    return Response(stream_with_context(parts()), mimetype=f"multipart/x-mixed-replace; boundary={BOUNDARY}",
                    headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
