"""A visit's best shot: which look of a face is worth keeping as its snapshot.

The score is sharpness × pixels × frontal: a crisp, large, frontal face beats a blurred, small or
turned one. Pixels are the crop's own, so a face cropped from the camera's identify (main)
stream, at 3–6× the pixels of the detect stream, wins over the same face seen on the sub-stream.
Frontal is the face's left–right symmetry (a frontal face mirrors onto itself; a turned one does
not), a cheap stand-in for landmarks on the history's writer thread.
"""

from __future__ import annotations

import cv2
import numpy as np

from edgeface.images import sharpness

#: A profile still scores this much of a frontal face of the same size and sharpness (never 0:
#: a visit of turned faces still gets a snapshot).
MIN_FRONTAL = 0.2
#: Sharpness is compared at this size (pixels a side).
SHARPNESS_PX = 96
#: The symmetry is measured on the face's centre, this fraction of the crop (the margin is context).
CENTRE = 0.6


def frontal(bgr: np.ndarray) -> float:
    """MIN_FRONTAL … 1: the correlation of the crop's centre with its mirror image."""
    grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY) if bgr.ndim == 3 else bgr
    h, w = grey.shape[:2]
    dy, dx = int(h * (1 - CENTRE) / 2), int(w * (1 - CENTRE) / 2)
    centre = grey[dy:h - dy, dx:w - dx].astype(np.float32)
    if centre.size < 16:
        return MIN_FRONTAL
    a = centre - centre.mean()
    b = a[:, ::-1]
    norm = float(np.sqrt((a * a).sum() * (b * b).sum()))
    symmetry = float((a * b).sum() / norm) if norm > 0 else 0.0
    return max(MIN_FRONTAL, symmetry)


def shot_score(crop: np.ndarray) -> float:
    """How good a snapshot the face crop (face with margin) makes: sharpness × pixels × frontal.
    Sharpness is measured at one size (``SHARPNESS_PX``): the Laplacian's variance grows as a
    picture shrinks, so measured as it comes, a sub-stream's small face would beat the main
    stream's large one."""
    h, w = crop.shape[:2]
    if h == 0 or w == 0:
        return 0.0
    common = cv2.resize(crop, (SHARPNESS_PX, SHARPNESS_PX), interpolation=cv2.INTER_AREA if w > SHARPNESS_PX
                        else cv2.INTER_LINEAR)
    return sharpness(common) * h * w * frontal(crop)
