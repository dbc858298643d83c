"""A camera frame's pixels, decoded once, and the face snapshots cut from them."""

from __future__ import annotations

import numpy as np

from edgeface.geometry import Box
from edgeface.images import decode_jpeg, encode_jpeg
from edgeface.live.metrics import StageTimes


def frame_bgr(frame, stages: StageTimes) -> np.ndarray | None:
    """The decoded frame (None when undecodable), timing the decode when this call does it."""
    if getattr(frame, "decoded", True):       # decoded already, or a frame that carries pixels
        return _decode(frame)
    with stages.timed("decode"):
        return _decode(frame)


def _decode(frame) -> np.ndarray | None:
    """Camera ``Frame`` objects decode once and cache (``bgr`` property)."""
    try:
        bgr = getattr(frame, "bgr", None)
    except Exception:  # noqa: BLE001 - a corrupt JPEG is the camera's fault, not ours
        bgr = None
    if bgr is None and getattr(frame, "jpeg", None):
        bgr = decode_jpeg(frame.jpeg)
    return bgr


def snapshot_jpeg(bgr: np.ndarray, box: Box, margin: float, quality: int) -> bytes:
    """The face with some context around it, as JPEG (the event's thumbnail)."""
    return encode_jpeg(face_crop(bgr, box, margin), quality)


def face_crop(bgr: np.ndarray, box: Box, margin: float) -> np.ndarray:
    """The face in ``box`` grown by ``margin`` of its size on every side, a copy."""
    top, right, bottom, left = box
    h, w = bgr.shape[:2]
    my, mx = int((bottom - top) * margin), int((right - left) * margin)
    return np.ascontiguousarray(bgr[max(0, top - my):min(h, bottom + my), max(0, left - mx):min(w, right + mx)])
