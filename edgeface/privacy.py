"""Privacy by default: which faces a camera's setting hides, and hiding them in a frame.

A camera's ``privacy`` (``docs/privacy.md``):

- ``off``: every face is shown as the camera saw it;
- ``blur-unknown``: a face shown only once it is named; Unknown faces, and faces not yet
  identified, are blurred;
- ``blur-all-but-watchlist``: only the faces named as someone on the camera's watchlist are shown.

:func:`blur_boxes` is the one place faces are hidden: the live feed, the stored snapshots and
frames, the clips and anything leaving the site go through it (:func:`blur_frame` hides a whole
frame). It does not soften a face, it removes it: the face region is shrunk to a few pixels
(identity lives in detail finer than that) and grown back smoothly, so neither a detector nor the
face encoder finds a face there (tests/core/test_privacy.py).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import Literal

import cv2
import numpy as np

from edgeface.matcher import UNKNOWN

Privacy = Literal["off", "blur-unknown", "blur-all-but-watchlist"]
PRIVACY_MODES: tuple[Privacy, ...] = ("off", "blur-unknown", "blur-all-but-watchlist")
#: Site default: an Unknown face is somebody who did not agree to be recognised (docs/privacy.md).
DEFAULT_PRIVACY: Privacy = "blur-unknown"
Consent = Literal["allowed", "denied"]
CONSENTS: tuple[Consent, ...] = ("allowed", "denied")

#: The hidden region: the face box grown by this fraction of its size each side (hair, ears, chin).
MARGIN = 0.25
#: The region is shrunk to at most this many pixels across before it is grown back.
CELLS = 6
#: A whole frame hidden (``blur_frame``) keeps this many pixels across: where things are and
#: move, a face of a few pixels at most (one filling a quarter of the frame: 4 pixels).
FRAME_CELLS = 16


def hidden(privacy: str, name: str | None, watchlist: Collection[str] = ()) -> bool:
    """Whether a face named ``name`` (None or Unknown: not, or not yet, named) is blurred."""
    if privacy == "off":
        return False
    if not name or name == UNKNOWN:
        return True
    return privacy == "blur-all-but-watchlist" and name not in watchlist


def blur_boxes(bgr: np.ndarray, boxes: Iterable[Sequence[int]], margin: float = MARGIN) -> np.ndarray:
    """``bgr`` with each ``(top, right, bottom, left)`` box (grown by ``margin``) made unrecognisable;
    a new array when there is a box, ``bgr`` itself when there is none."""
    out = bgr
    h, w = bgr.shape[:2]
    for box in boxes:
        top, right, bottom, left = (int(v) for v in box)
        my, mx = int((bottom - top) * margin), int((right - left) * margin)
        y0, y1 = max(0, top - my), min(h, bottom + my)
        x0, x1 = max(0, left - mx), min(w, right + mx)
        if y1 - y0 < 2 or x1 - x0 < 2:
            continue
        if out is bgr:
            out = bgr.copy()
        region = out[y0:y1, x0:x1]
        small = cv2.resize(region, (max(1, min(CELLS, x1 - x0)), max(1, min(CELLS, y1 - y0))),
                           interpolation=cv2.INTER_AREA)
        # Linear, not nearest, growing back: no block edges for a detector's gradients to find.
        out[y0:y1, x0:x1] = cv2.resize(small, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
    return out


def blur_frame(bgr: np.ndarray, cells: int = FRAME_CELLS) -> np.ndarray:
    """The whole frame made unrecognisable, as ``blur_boxes`` does a face: for a frame kept where
    no face has been found yet, which may show one (a clip's seconds before the first detection)."""
    h, w = bgr.shape[:2]
    scale = min(1.0, cells / max(w, h))
    small = cv2.resize(bgr, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
