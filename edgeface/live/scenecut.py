"""Scene cuts and still scenes, looked for on every frame for the price of a 1/8-scale greyscale
decode (~0.2 ms).

At a cut every face may have changed: tracks from before it must not be drawn after it (or joined
to the new faces), and the new scene is searched for faces at once instead of at the next
periodic detection — which is what gets a face that arrives with a cut named within the output
delay. libjpeg decodes at 1/8 scale from the DC coefficients alone, so the thumbnail costs a
sixth of a full decode; frames from OpenCV sources are shrunk instead.

The other way round, a scene where nothing moved since the last detection (a fixed camera on an
empty corridor: most frames of most cameras) cannot hold a face that was not there before, so its
periodic detection is skipped (``moved``).
"""

from __future__ import annotations

import cv2
import numpy as np

#: Mean absolute grey-level change (0-255) between consecutive 1/8-scale frames that counts as a
#: cut. Measured on the sample clip (80x45 thumbnails): its four cuts 24-31, pans and zooms ≤ 14.
CUT_LEVEL = 18.0
#: Largest grey-level change of any 8x8 block that still counts as "nothing moved". A face coming
#: in changes its blocks by tens of levels; JPEG and sensor noise move block means by a few.
STILL_LEVEL = 10
#: Thumbnails are 1/8 of the frame (libjpeg's reduced decode).
THUMB_SCALE = 8


def moved(a: np.ndarray | None, b: np.ndarray | None, level: int = STILL_LEVEL) -> bool:
    """Whether anything changed between two thumbnails (True when either is missing)."""
    if a is None or b is None or a.shape != b.shape:
        return True
    return int(np.abs(a - b).max()) > level


def thumbnail(frame) -> np.ndarray | None:
    """``frame`` (with ``jpeg`` bytes and/or decoded ``bgr``) as a 1/8-scale grey int16 image."""
    jpeg = getattr(frame, "jpeg", None)
    if jpeg:
        grey = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_REDUCED_GRAYSCALE_8)
    else:
        bgr = getattr(frame, "bgr", None)
        if bgr is None:
            return None
        grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY) if bgr.ndim == 3 else bgr
        grey = cv2.resize(grey, (max(1, grey.shape[1] // THUMB_SCALE), max(1, grey.shape[0] // THUMB_SCALE)),
                          interpolation=cv2.INTER_AREA)
    return None if grey is None or not grey.size else grey.astype(np.int16)


class CutDetector:
    """``is_cut(frame)``: True when ``frame`` starts a new scene (a new size counts as one)."""

    def __init__(self, level: float = CUT_LEVEL):
        self.level = level
        self.latest: np.ndarray | None = None      # the last good frame's thumbnail

    def is_cut(self, frame) -> bool:
        thumb = thumbnail(frame)
        if thumb is None:                      # undecodable: keep comparing with the last good one
            return False
        previous, self.latest = self.latest, thumb
        if previous is None:
            return False
        if previous.shape != thumb.shape:
            return True
        return float(np.abs(thumb - previous).mean()) > self.level
