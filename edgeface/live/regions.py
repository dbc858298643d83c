"""Looking for faces in one region of a frame, at the scale the detector likes."""

from __future__ import annotations

import cv2
import numpy as np

from edgeface.engine import Engine
from edgeface.geometry import Box


def magnified(engine: Engine, rgb: np.ndarray, region: Box, factor: float) -> list[Box]:
    """Faces in ``region`` of ``rgb``, looked for on a copy scaled by ``factor``, in ``rgb``'s pixels."""
    top, right, bottom, left = region
    crop = rgb[top:bottom, left:right]
    if factor != 1:
        crop = cv2.resize(crop, None, fx=factor, fy=factor,
                          interpolation=cv2.INTER_LINEAR if factor > 1 else cv2.INTER_AREA)
    return [(top + round(b[0] / factor), left + round(b[1] / factor), top + round(b[2] / factor),
             left + round(b[3] / factor)) for b in engine.detect(crop)]
