"""Live annotated video as ``multipart/x-mixed-replace`` JPEG streams (what an <img> shows)."""

from __future__ import annotations

from flask import Blueprint, Response, stream_with_context

from webapp.blueprints.common import service
from webapp.errors import error_response

bp = Blueprint("feeds", __name__)

BOUNDARY = "frame"
WAIT_S = 1.0     # how often a waiting stream checks for shutdown or removal


@bp.get("/video_feed")
def default_feed():
    """The first camera's feed (the original single-camera URL); /video_feed/<id> for the others."""
    cameras = service().registry.list()
    if not cameras:
        return error_response(503, "no camera is connected yet", "register one, or GET /api/v1/cameras")
    return camera_feed(cameras[0].id)


@bp.get("/video_feed/<camera_id>")
def camera_feed(camera_id: str):
    svc = service()
    worker = svc.worker(camera_id)
    if worker is None:
        return error_response(404, "no such camera", "GET /api/v1/cameras lists them")
    broadcaster = worker.broadcaster

    def frames():
        seq = 0
        with broadcaster:                    # counts as a viewer: the worker renders frames
            while not svc.stopping.is_set() and not broadcaster.closed:
                got = broadcaster.wait(seq, WAIT_S)
                if got is None:
                    continue
                seq, jpeg = got
                yield (b"--" + BOUNDARY.encode() + b"\r\nContent-Type: image/jpeg\r\n"
                       b"Content-Length: " + str(len(jpeg)).encode() + b"\r\n\r\n" + jpeg + b"\r\n")

    return Response(stream_with_context(frames()), mimetype=f"multipart/x-mixed-replace; boundary={BOUNDARY}",
                    headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
