"""A decoded picture (a PyAV video frame, YUV as the decoder gave it) to BGR: whole, scaled down,
or one region of it.

An identify stream's 1080p picture is converted only as far as a face needs: a small copy to
choose the moment (scaled before it is converted), then the region around the face. Converting
the whole picture costs ~20x the region's pixels, and its BGR array (6 MB) would stay with the
frame kept for the next ask.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

#: Planar 4:2:0, what H.264/H.265 cameras send: the region is cut from the planes and converted
#: by OpenCV; other formats are converted whole first.
I420 = ("yuv420p", "yuvj420p")


def whole(picture: Any) -> np.ndarray:
    return picture.to_ndarray(format="bgr24")


def scaled(picture: Any, size: tuple[int, int]) -> np.ndarray:
    """The picture at ``size`` (w, h), scaled before it is converted."""
    return picture.reformat(width=size[0], height=size[1], format="bgr24", interpolation="AREA").to_ndarray()


def region(picture: Any, top: int, right: int, bottom: int, left: int) -> np.ndarray:
    """Rows ``top:bottom``, columns ``left:right`` of the picture (within it), as BGR."""
    top, left = max(0, top), max(0, left)
    bottom, right = min(picture.height, bottom), min(picture.width, right)
    if picture.format.name not in I420 or picture.height % 2 or picture.width % 2:
        return whole(picture)[top:bottom, left:right]
    if bottom <= top or right <= left:
        return np.zeros((max(0, bottom - top), max(0, right - left), 3), np.uint8)
    # Chroma covers 2x2 pixels: convert from even edges, then cut the extra row or column off.
    y0, x0, y1, x1 = top - top % 2, left - left % 2, bottom + bottom % 2, right + right % 2
    luma, cb, cr = (np.frombuffer(p, np.uint8).reshape(p.height, p.line_size) for p in picture.planes[:3])
    cut = [luma[y0:y1, x0:x1]] + [c[y0 // 2:y1 // 2, x0 // 2:x1 // 2] for c in (cb, cr)]
    i420 = np.concatenate([c.reshape(-1) for c in cut]).reshape((y1 - y0) * 3 // 2, x1 - x0)
    return cv2.cvtColor(i420, cv2.COLOR_YUV2BGR_I420)[top - y0:bottom - y0, left - x0:right - x0]
