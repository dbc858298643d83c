"""Where the scene moved apart from the people already tracked: where a newcomer can be.

A fixed camera's new face comes with motion. Between whole-frame searches the camera's look
searches where its 1/8-scale thumbnail changed since the previous look, apart from each tracked
person — the face and the body below it, which move as the person walks and hold no new face —
instead of waiting for the next whole-frame search. What stayed still is searched again only
every ``still_recheck_s`` (``CameraTracker.plan``). A motion region larger than
``motion_search_max_share`` of the frame (the camera moved, the light changed, a crowd) is not
worth a region search: the whole frame is searched instead. Region searches draw on the camera's
budget — the pixels the whole-frame searches every ``full_search_interval_s`` used to cost — so
they replace whole-frame searches instead of adding to them (``CameraTracker.plan``).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from edgeface.geometry import Box, area
from edgeface.live.regions import FAR_FACE_PX, factor_for
from edgeface.live.scenecut import STILL_LEVEL, THUMB_SCALE

#: A tracked person's head around the face box (hair, ears; turning, talking), in face widths:
#: on each side and above.
HEAD_SIDE, HEAD_TOP = 0.6, 0.7
#: ... and body: below the face, this many face heights down, as wide as the head (shoulders).
#: A face entering further below (a child in front) is found by the motion search; nearer, by the
#: next whole-frame search (every ``still_recheck_s``).
BODY_HEIGHTS = 3.0
#: The changed blocks are grown by this much of the region (and ``GROW_PX``) before the
#: detector looks: a walking face's changed blocks may not cover all of it.
GROW, GROW_PX = 0.25, 16


@dataclass(frozen=True)
class Motion:
    """Where the scene moved away from the tracked people (frame pixels: one region per separate
    place), whether that is more than the share of the frame worth region searches (``wide``:
    search the whole frame), and the frame's pixels (what a whole-frame search costs)."""
    regions: tuple[Box, ...]
    wide: bool
    frame_px: int

    def factor(self, engine_factor: float) -> float:
        """The regions' magnification: a ``FAR_FACE_PX`` face fills the detector's window, as long
        as the magnified regions hold no more pixels than the frame."""
        room = (self.frame_px / max(1, sum(area(r) for r in self.regions))) ** 0.5
        return max(1.0, min(room, factor_for(FAR_FACE_PX, engine_factor)))

    def cost(self, engine_factor: float) -> float:
        """The pixels the regions hand the detector, magnified (a whole-frame search: ``frame_px``)."""
        return sum(area(r) for r in self.regions) * self.factor(engine_factor) ** 2


def person(face: Box) -> list[Box]:
    """Where a tracked face's own motion and its body's fall (frame pixels)."""
    top, right, bottom, left = face
    w, h = right - left, bottom - top
    side = round(w * HEAD_SIDE)
    return [(top - round(w * HEAD_TOP), right + side, bottom + round(h * BODY_HEIGHTS), left - side)]


def away_from(latest: np.ndarray | None, before: np.ndarray | None, faces: list[Box],
              max_share: float) -> Motion | None:
    """Where thumbnail ``latest`` changed since ``before`` apart from the people whose faces are
    (or were, at the previous look) at ``faces``; None when nowhere (or the thumbnails cannot be
    compared). Separate places are separate regions: two people coming in from both sides cost
    two small regions, not the frame between them."""
    if latest is None or before is None or latest.shape != before.shape:
        return None
    changed = (np.abs(latest - before) > STILL_LEVEL).astype(np.uint8)
    for top, right, bottom, left in (_to_thumb(box) for face in faces for box in person(face)):
        changed[max(0, top):max(0, bottom), max(0, left):max(0, right)] = 0
    if not changed.any():
        return None
    count, _, stats, _ = cv2.connectedComponentsWithStats(cv2.dilate(changed, np.ones((3, 3), np.uint8)))
    height, width = latest.shape[0] * THUMB_SCALE, latest.shape[1] * THUMB_SCALE
    regions = _merged([_grown(x * THUMB_SCALE, y * THUMB_SCALE, w * THUMB_SCALE, h * THUMB_SCALE, width, height)
                       for x, y, w, h, _ in stats[1:count]])
    return Motion(tuple(regions), sum(area(r) for r in regions) > max_share * width * height, width * height)


def _grown(x: int, y: int, w: int, h: int, width: int, height: int) -> Box:
    dy, dx = round(h * GROW) + GROW_PX, round(w * GROW) + GROW_PX
    return max(0, y - dy), min(width, x + w + dx), min(height, y + h + dy), max(0, x - dx)


def _merged(regions: list[Box]) -> list[Box]:
    """Overlapping regions as one (a face must not be cut in two)."""
    out = list(regions)
    i = 0
    while i < len(out):
        j = next((j for j in range(i + 1, len(out)) if _overlap(out[i], out[j])), None)
        if j is None:
            i += 1
            continue
        a, b = out[i], out.pop(j)
        out[i] = min(a[0], b[0]), max(a[1], b[1]), max(a[2], b[2]), min(a[3], b[3])
        i = 0                       # the union may overlap one already passed
    return out


def _overlap(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[3] < b[1] and b[3] < a[1]


def _to_thumb(box: Box) -> Box:
    """A frame-pixel box as thumbnail pixels, rounded outwards."""
    top, right, bottom, left = box
    return top // THUMB_SCALE, right // THUMB_SCALE + 1, bottom // THUMB_SCALE + 1, left // THUMB_SCALE
