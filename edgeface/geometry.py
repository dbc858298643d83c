"""Face boxes and regions in a frame: the one ``Box`` every package uses, and what is asked of it.

A box is ``(top, right, bottom, left)`` in pixels — face_recognition's order.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

Box = tuple[int, int, int, int]
#: A zone: a polygon of ``[x, y]`` points, as fractions of the frame's width and height.
Zone = Sequence[Sequence[float]]

#: Search regions start on a multiple of this: HOG's 8 px cells then fall as in a whole-frame search.
ALIGN_PX = 16


def as_box(values: Iterable[float]) -> Box:
    top, right, bottom, left = (round(v) for v in values)
    return top, right, bottom, left


def width(box: Box) -> int:
    return box[1] - box[3]


def area(box: Box) -> int:
    return max(0, box[1] - box[3]) * max(0, box[2] - box[0])


def jump(a: Box, b: Box) -> float:
    """Distance between the boxes' centres, in units of their mean width."""
    dy = (a[0] + a[2] - b[0] - b[2]) / 2
    dx = (a[1] + a[3] - b[1] - b[3]) / 2
    size = max(1.0, ((a[1] - a[3]) + (b[1] - b[3])) / 2)
    return (dx * dx + dy * dy) ** 0.5 / size


def same_place(a: Box, b: Box) -> bool:
    """Two detections of one face: centres less than half a face width apart."""
    return jump(a, b) < 0.5


def grown(box: Box, grow: float, shape: tuple[int, ...]) -> Box:
    """``box`` grown by ``grow`` of its height and width on every side, inside a frame of ``shape``."""
    top, right, bottom, left = box
    dy, dx = round((bottom - top) * grow), round((right - left) * grow)
    top, bottom = max(0, top - dy), min(shape[0], bottom + dy)
    left, right = max(0, left - dx), min(shape[1], right + dx)
    return top, max(left + 1, right), max(top + 1, bottom), left


def aligned(region: Box) -> Box:
    """``region`` with its top-left corner moved onto the ``ALIGN_PX`` grid."""
    top, right, bottom, left = region
    return top - top % ALIGN_PX, right, bottom, left - left % ALIGN_PX


def inside(zone: Zone | None, x: float, y: float) -> bool:
    """Whether the point (fractions of width and height) lies in the polygon (even-odd rule);
    no zone: everywhere."""
    if not zone:
        return True
    hit = False
    j = len(zone) - 1
    for i in range(len(zone)):
        (xi, yi), (xj, yj) = zone[i], zone[j]
        if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / (yj - yi) + xi:
            hit = not hit
        j = i
    return hit
