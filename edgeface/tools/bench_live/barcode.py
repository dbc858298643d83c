"""A frame's number drawn into its pixels: how the benchmark knows which source frame a viewer got
when the camera sends H.264 (``--transport rtsp``), which has no JPEG comment to carry it.

Sixteen blocks, two rows of eight, in the top-left corner: 14 bits of the number and two parity
bits (one per half), so a block misread after H.264 and the app's JPEG re-encode gives no number
rather than a wrong one. A bit is a colour, reddish or greenish, *of the same brightness*: the
app's still-scene check compares grey thumbnails (``edgeface.live.scenecut``), and black/white
blocks flipping every frame made every scene "moving" there (no detection was ever skipped as
still, unlike the same scene over MJPEG). Blocks are a fixed share of the frame (1/40 of its
width, 1/24 of its height: 16x15 px at 640x360, 48x45 at 1920x1080), large enough for 4:2:0
chroma, the same part of the picture in a camera's main and sub-stream. ``read`` decodes a JPEG at
a quarter of its size (libjpeg scales while decoding): ~4x4 px a block, a fraction of a full decode.
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
#: BGR of a 1 and a 0: grey level 128 both (0.299 R + 0.587 G + 0.114 B), red-difference +-60.
ONE, ZERO = (128, 85, 212), (128, 171, 44)


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
        bgr[top:bottom, left:right] = ONE if bit else ZERO


def value(bgr: np.ndarray) -> int | None:
    """The number drawn into a frame (BGR, any size), or None when there is none or a parity bit
    disagrees."""
    h, w = bgr.shape[:2]
    bits = [int(bgr[r, c, 2]) > int(bgr[r, c, 1]) for r, c in _centres(w, h)]     # red above green: a 1
    n = sum(1 << i for i, bit in enumerate(bits[:VALUE_BITS]) if bit)
    return n if [int(b) for b in bits] == _bits(n) else None


def read(jpeg: bytes) -> int | None:
    """The number in a JPEG frame, decoded at a quarter of its size; None if undecodable or absent."""
    bgr = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_REDUCED_COLOR_4)
    return None if bgr is None else value(bgr)
