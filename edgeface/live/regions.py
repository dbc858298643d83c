"""Looking for faces in one region of a frame, at the scale the detector likes."""

from __future__ import annotations

import cv2
import numpy as np

from edgeface.engine import Engine
from edgeface.geometry import Box

#: dlib's HOG detector scans an 80x80 window: a face narrower than that where it looks (after the
#: engine's scaling and upsampling) is not found.
HOG_WINDOW_PX = 80
#: The smallest face a magnified region is meant to find: around a small track, and where the
#: scene moved (a far face walking in). Smaller ones are left to the identify stream.
FAR_FACE_PX = 30


def factor_for(face_px: float, engine_factor: float) -> float:
    """The scale a region needs for a ``face_px`` face to fill the detector's window, given the
    engine's own ``detect_scale × 2^upsample``."""
    return HOG_WINDOW_PX / max(1.0, face_px) / engine_factor


def magnified(engine: Engine, rgb: np.ndarray, region: Box, factor: float) -> list[Box]:
    """Faces in ``region`` of ``rgb``, looked for on a copy scaled by ``factor``, in ``rgb``'s pixels."""
    top, right, bottom, left = region
    crop = rgb[top:bottom, left:right]
    if factor != 1:
        crop = cv2.resize(crop, None, fx=factor, fy=factor,
                          interpolation=cv2.INTER_LINEAR if factor > 1 else cv2.INTER_AREA)
    return [(top + round(b[0] / factor), left + round(b[1] / factor), top + round(b[2] / factor),
             left + round(b[3] / factor)) for b in engine.detect(crop)]
