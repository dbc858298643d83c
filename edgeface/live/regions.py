"""Looking for faces in one region of a frame, at the scale the detector likes."""

from __future__ import annotations

import cv2
import numpy as np

from edgeface.engine import Engine
from edgeface.geometry import Box, area

#: dlib's HOG detector scans an 80x80 window: a face narrower than that where it looks (after the
#: engine's scaling and upsampling) is not found.
HOG_WINDOW_PX = 80
#: The smallest face a magnified region is meant to find: around a small track, and where the
#: scene moved (a far face walking in). Smaller ones are left to the identify stream.
FAR_FACE_PX = 30


#: dlib's CNN (no upsampling) finds faces from about this wide: 65 px found, 49 px not.
TURNED_FACE_PX = 64
#: A region given to the CNN is magnified so that a face this wide reaches ``TURNED_FACE_PX``...
TURNED_MIN_FACE_PX = 40
#: ... as long as it hands the CNN at most this many pixels (~2.5 ms of CPU per 1000 here); a
#: larger region is scaled down to it, and only larger faces are found there (in a 640x360
#: frame that moved all over, faces from ~80 px).
TURNED_MAX_PX = 120_000


def factor_for(face_px: float, engine_factor: float) -> float:
    """The scale a region needs for a ``face_px`` face to fill the detector's window, given the
    engine's own ``detect_scale × 2^upsample``."""
    return HOG_WINDOW_PX / max(1.0, face_px) / engine_factor


def magnified(engine: Engine, rgb: np.ndarray, region: Box, factor: float) -> list[Box]:
    """Faces in ``region`` of ``rgb``, looked for on a copy scaled by ``factor``, in ``rgb``'s pixels."""
    return _placed(engine.detect(_scaled(rgb, region, factor)), region, factor)


def turned(engine: Engine, rgb: np.ndarray, region: Box) -> list[Box]:
    """Faces the CNN finds in ``region`` of ``rgb`` (turned ones, which HOG misses), in ``rgb``'s pixels."""
    factor = min(TURNED_FACE_PX / TURNED_MIN_FACE_PX, (TURNED_MAX_PX / max(1, area(region))) ** 0.5)
    return _placed(engine.detect_turned(_scaled(rgb, region, factor)), region, factor)


def _scaled(rgb: np.ndarray, region: Box, factor: float) -> np.ndarray:
    top, right, bottom, left = region
    crop = rgb[top:bottom, left:right]
    if factor == 1:
        return crop
    interpolation = cv2.INTER_LINEAR if factor > 1 else cv2.INTER_AREA
    return cv2.resize(crop, None, fx=factor, fy=factor, interpolation=interpolation)


def _placed(boxes: list[Box], region: Box, factor: float) -> list[Box]:
    """Boxes found in ``region`` scaled by ``factor``, in the frame's pixels."""
    top, left = region[0], region[3]
    return [(top + round(b[0] / factor), left + round(b[1] / factor), top + round(b[2] / factor),
             left + round(b[3] / factor)) for b in boxes]
