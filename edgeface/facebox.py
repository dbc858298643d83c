"""Where the face is in a capture's crop, carried inside the JPEG itself.

A capture from the edge is the face with a margin, cut from a camera frame in which the live
detector found it. Training's detector may miss it in that small crop (the sample clip's
labelled Unknown: 123x126 pixels, no face found even upsampled twice), so ``edgeface review
--accept`` writes the box (and the 5-point landmarks) the edge found it with into the JPEG as a
comment segment (``edgeface.jpegmeta``); training enrols from that box when its detector finds
nothing there. A comment travels with the file through copies, renames and pipeline uploads,
and decoders ignore it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from edgeface import jpegmeta

#: ``edgeface-face:<JSON>``: {"box": [top, right, bottom, left], "landmarks": [[x, y] x5], "capture": id}
FACE_BOX = b"edgeface-face:"
#: A stored box smaller than this (pixels, shorter side) is no face to enrol from.
MIN_SIDE = 20

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class StoredFace:
    box: Box                                      # [top, right, bottom, left] in the JPEG's pixels
    landmarks: tuple[tuple[int, int], ...] = ()
    capture: str | None = None


def stamp(jpeg: bytes, box: Sequence[int], landmarks: Sequence[Sequence[int]] | None = None,
          capture: str | None = None) -> bytes:
    """``jpeg`` with the face's box (and landmarks) in a comment, placed before any older stamp
    (the first one is read)."""
    text = json.dumps({"box": [int(v) for v in box],
                       "landmarks": [[int(x), int(y)] for x, y in (landmarks or [])],
                       "capture": capture}, separators=(",", ":")).encode()
    return jpegmeta.add_comment(jpeg, FACE_BOX + text)


def stored(jpeg: bytes, shape: tuple[int, ...]) -> StoredFace | None:
    """The stamped face of a JPEG whose decoded pixels have ``shape``; None when there is none or
    it does not fit the image (a stamp copied onto another picture is ignored, not trusted)."""
    raw = jpegmeta.comment_with_prefix(jpeg, FACE_BOX) if jpeg[:2] == b"\xff\xd8" else None
    if raw is None:
        return None
    try:
        data = json.loads(raw)
        top, right, bottom, left = (int(v) for v in data["box"])
        landmarks = tuple((int(x), int(y)) for x, y in data.get("landmarks") or ())
        capture = data.get("capture")
    except (ValueError, KeyError, TypeError):
        return None
    height, width = shape[:2]
    if not (0 <= top < bottom <= height and 0 <= left < right <= width) or min(bottom - top, right - left) < MIN_SIDE:
        return None
    return StoredFace((top, right, bottom, left), landmarks, str(capture) if capture else None)


def overlap(a: Sequence[int], b: Sequence[int]) -> float:
    """Intersection over union of two [top, right, bottom, left] boxes (0 … 1)."""
    top, bottom = max(a[0], b[0]), min(a[2], b[2])
    left, right = max(a[3], b[3]), min(a[1], b[1])
    inter = max(0, bottom - top) * max(0, right - left)
    union = _area(a) + _area(b) - inter
    return inter / union if union else 0.0


def _area(r: Sequence[int]) -> int:
    return max(0, r[2] - r[0]) * max(0, r[1] - r[3])
