"""Drawing boxes and names on frames.

Labels are rendered once per (text, colour) with Pillow — OpenCV's built-in fonts cannot draw
names like "José" — cached, and pasted into frames as small arrays, so drawing costs a few
array copies per face per frame.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from edgeface.jpegmeta import ANNOTATION, add_comment, comments
from edgeface.live.tracking import TrackState

# BGR. Known faces green, Unknown red, faces still being identified amber.
COLOURS = {TrackState.NAMED: (60, 200, 60), TrackState.UNKNOWN: (40, 40, 230), TrackState.PENDING: (0, 190, 255)}
_FONT_PATHS = ("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
               "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


@dataclass(frozen=True)
class FaceLabel:
    """One face as drawn on a frame and reported by the pipeline."""

    track_id: int
    box: tuple[int, int, int, int]   # (top, right, bottom, left)
    state: TrackState
    name: str | None
    distance: float | None

    def as_json(self) -> dict:
        return {"track": self.track_id, "box": list(self.box), "state": self.state.value,
                "name": self.name, "distance": None if self.distance is None else round(self.distance, 4)}


@functools.lru_cache(maxsize=4)
def _font(size: int):
    for path in _FONT_PATHS:
        try:
            return ImageFont.truetype(path, size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)


@functools.lru_cache(maxsize=256)
def label_image(text: str, colour: tuple[int, int, int], size: int = 15) -> np.ndarray:
    """White text on a ``colour`` bar, as a BGR array."""
    font = _font(size)
    left, top, right, bottom = font.getbbox(text)
    w, h = right - left + 8, bottom - top + 6
    img = Image.new("RGB", (w, h), colour[::-1])
    ImageDraw.Draw(img).text((4 - left, 3 - top), text, font=font, fill=(255, 255, 255))
    return np.asarray(img)[:, :, ::-1].copy()


def draw_faces(bgr: np.ndarray, faces: list[FaceLabel]) -> np.ndarray:
    """Draw onto ``bgr`` in place (the caller passes a copy) and return it."""
    h, w = bgr.shape[:2]
    for face in faces:
        colour = COLOURS[face.state]
        top, right, bottom, left = face.box
        top, bottom = max(0, min(top, h - 1)), max(0, min(bottom, h - 1))
        left, right = max(0, min(left, w - 1)), max(0, min(right, w - 1))
        cv2.rectangle(bgr, (left, top), (right, bottom), colour, 2)
        text = face.name if face.state != TrackState.PENDING and face.name else "…"
        _paste(bgr, label_image(text, colour), left, bottom + 1)
    return bgr


def _paste(frame: np.ndarray, patch: np.ndarray, x: int, y: int) -> None:
    """Copy ``patch`` to (x, y), moving it inside the frame and clipping what still overflows."""
    fh, fw = frame.shape[:2]
    ph, pw = patch.shape[:2]
    if y + ph > fh:            # no room below the box: put the label above the bottom edge
        y = fh - ph
    x, y = max(0, min(x, fw - pw)), max(0, y)
    ph, pw = min(ph, fh - y), min(pw, fw - x)
    frame[y:y + ph, x:x + pw] = patch[:ph, :pw]


def with_camera_comments(encoded: bytes, source: bytes | None) -> bytes:
    """``encoded`` (a frame we re-encoded) with the camera's own JPEG comments kept: a frame
    number, a timestamp."""
    for text in comments(source) if source else ():
        encoded = add_comment(encoded, text)
    return encoded


def describe(annotated: bytes, source: bytes | None, arrived: float, faces: list[FaceLabel]) -> bytes:
    """The annotated JPEG with the camera's own comments kept and one of ours:
    ``edgeface:{"arrived": T, "faces": [...]}`` — what was drawn, machine-readable, and when
    (``time.monotonic()``) the frame came in. Viewers and browsers ignore comments."""
    meta = {"arrived": round(arrived, 4), "faces": [face.as_json() for face in faces]}
    return add_comment(with_camera_comments(annotated, source),
                       ANNOTATION + json.dumps(meta, separators=(",", ":")).encode())
