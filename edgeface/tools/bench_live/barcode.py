"""A frame's number drawn into its pixels: how the benchmark knows which source frame a viewer got
when the camera sends H.264 (``--transport rtsp``), which has no JPEG comment to carry it.

Sixteen black/white blocks, two rows of eight, in the top-left corner: 14 bits of the number and
two parity bits (one per half), so a block misread after H.264 and the app's JPEG re-encode gives
no number rather than a wrong one. Blocks are a fixed share of the frame (1/40 of its width,
1/24 of its height: 16x15 px at 640x360, 48x45 at 1920x1080): the same part of the picture in a
camera's main and sub-stream. ``read`` decodes a JPEG at a quarter of its size, grey only (libjpeg
scales while decoding): ~4x4 px a block, a fraction of a full decode's cost.
"""

from __future__ import annotations

import cv2
import numpy as np

COLUMNS, ROWS = 8, 2
VALUE_BITS = 14
#: Largest number drawn (a scene of 300 s at 30 fps is 9000 frames).
LIMIT = 1 << VALUE_BITS
#: Share of the frame's width and height one block takes.
BLOCK_W, BLOCK_H = 1 / 40, 1 / 24


def _bits(n: int) -> list[int]:
    value = [n >> i & 1 for i in range(VALUE_BITS)]
    half = VALUE_BITS // 2
    return [*value, sum(value[:half]) & 1, sum(value[half:]) & 1]


def _centres(width: int, height: int) -> list[tuple[int, int]]:
    """(row, column) pixel at the middle of each block, in bit order."""
    bw, bh = width * BLOCK_W, height * BLOCK_H
    return [(int((k // COLUMNS + 0.5) * bh), int((k % COLUMNS + 0.5) * bw)) for k in range(COLUMNS * ROWS)]


def draw(bgr: np.ndarray, n: int) -> None:
    """Draw ``n`` (0 <= n < LIMIT) into ``bgr`` in place."""
    if not 0 <= n < LIMIT:
        raise ValueError(f"frame number {n} does not fit in {VALUE_BITS} bits")
    h, w = bgr.shape[:2]
    for k, bit in enumerate(_bits(n)):
        row, col = divmod(k, COLUMNS)
        top, left = round(row * h * BLOCK_H), round(col * w * BLOCK_W)
        bottom, right = round((row + 1) * h * BLOCK_H), round((col + 1) * w * BLOCK_W)
        bgr[top:bottom, left:right] = 255 if bit else 0


def value(grey: np.ndarray) -> int | None:
    """The number drawn into a frame (grey or BGR, any size), or None when there is none or a
    parity bit disagrees."""
    if grey.ndim == 3:
        grey = cv2.cvtColor(grey, cv2.COLOR_BGR2GRAY)
    h, w = grey.shape[:2]
    bits = [int(grey[r, c]) > 127 for r, c in _centres(w, h)]
    n = sum(1 << i for i, bit in enumerate(bits[:VALUE_BITS]) if bit)
    return n if [int(b) for b in bits] == _bits(n) else None


def read(jpeg: bytes) -> int | None:
    """The number in a JPEG frame, decoded at a quarter of its size; None if undecodable or absent."""
    grey = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_REDUCED_GRAYSCALE_4)
    return None if grey is None else value(grey)
