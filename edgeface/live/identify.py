"""Face crops from a camera's identify (main) stream, at the moment the detect frame was seen.

Two checks stand between the identify stream and a name, so that the crop is always the face the
detect stream boxed (never a wrong name):

- the moment: of the identify frames that arrived within ``identify_max_skew_s`` of the detect
  frame (the two streams of a camera leave it together; arrival jitter measured ±16 ms on an idle
  loopback, more under load), the one whose picture (a small grey thumbnail) clearly matches the
  detect frame's best, else the nearest in time. When a frame further away (up to twice the
  bound) matches clearly better than all of those, the streams drift and none is used. In a still
  scene every frame matches alike, and then nothing moved, so nothing can be misplaced;
- the face: the detect box is mapped into the identify frame by scaling each axis (the two
  streams show the same field of view, a 4:3 sub-stream of a 16:9 camera stretched, as cameras
  do), the detector must find one face there at the same place, and its picture must correlate
  with the detect stream's. A letterboxed or cropped stream, a face that moved, a crop with no
  face: the face is encoded from the detect stream instead.

Everything here is pure: the frames come in, crops and the reason for a fallback go out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

from edgeface.engine import Engine
from edgeface.geometry import Box, grown, same_place, width
from edgeface.images import bgr_to_rgb
from edgeface.live.regions import magnified

THUMB_SIZE = (64, 36)
#: Drift: another kept frame matches the detect frame's picture better than the one nearest in
#: time by this much (mean grey levels; below, the scene is too still to tell) and this ratio.
MATCH_MARGIN = 1.5
DRIFT_RATIO = 0.75
#: Frames kept differ this much from the detect frame's picture between best and worst: the
#: scene moves, and the best match's time says where the detect frame's moment lies.
MOTION = 0.5
#: The drift is judged on the median of this many recent moments at least.
MIN_OFFSETS = 5
#: The identify crop's grey picture must correlate this much with the detect stream's.
MIN_CORRELATION = 0.6
#: The detector looks for the face in the mapped box grown by this much on every side; the region
#: is kept as the face's shot, with margin enough for a training capture (``uplink.captures.CROP_MARGIN``).
GROW = 0.7
#: ... scaled until the face is about this wide where the detector scans it.
FACE_PX = 100


class Picture(Protocol):
    """An identify frame: when it arrived, its size, and its pixels, converted as far as asked (a
    camera's frame, ``cameras.source.Frame``): a small copy, or one region (BGR); None: its
    pixels cannot be decoded."""

    @property
    def time(self) -> float: ...
    @property
    def size(self) -> tuple[int, int] | None: ...
    def small(self, size: tuple[int, int]) -> np.ndarray | None: ...
    def region(self, top: int, right: int, bottom: int, left: int) -> np.ndarray | None: ...


@dataclass(frozen=True)
class IdentifyFrame:
    """A ``Picture`` of pixels at hand."""
    time: float
    bgr: np.ndarray

    @property
    def size(self) -> tuple[int, int]:
        return self.bgr.shape[0], self.bgr.shape[1]

    def small(self, size: tuple[int, int]) -> np.ndarray:
        return cv2.resize(self.bgr, size, interpolation=cv2.INTER_AREA)

    def region(self, top: int, right: int, bottom: int, left: int) -> np.ndarray:
        return self.bgr[top:bottom, left:right]


@dataclass(frozen=True)
class FaceCrop:
    """A face from the identify stream: the region around it (RGB, for the encoder; BGR for the
    snapshot) and the face's box in that region."""
    rgb: np.ndarray
    bgr: np.ndarray
    box: Box


def thumbnail(bgr: np.ndarray) -> np.ndarray:
    """A small grey picture (``THUMB_SIZE``) of a frame, or of a frame already that small."""
    small = bgr if bgr.shape[1::-1] == THUMB_SIZE else cv2.resize(bgr, THUMB_SIZE, interpolation=cv2.INTER_AREA)
    grey = small if small.ndim == 2 else cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
    return grey.astype(np.float32)


@dataclass(frozen=True)
class Choice:
    """The identify frame for a detect frame's moment (None: none usable, ``why``), and how far
    from the detect frame's time the identify frame whose picture matches best arrived (None: the
    picture cannot tell, a still scene) — the streams' drift, judged over many frames."""
    frame: Picture | None
    why: str | None = None
    offset_s: float | None = None


def choose_frame(pictures: tuple[Picture, ...], t: float, detect_bgr: np.ndarray, skew_s: float) -> Choice:
    """The identify frame of the detect frame's moment ``t`` (see the module); the pictures are
    compared by small copies, none converted whole."""
    frames, smalls = list(pictures), []
    if len(pictures) >= 3:      # enough to judge by their pictures (a JPEG that does not decode is left out)
        pairs = [(p, small) for p in pictures if (small := p.small(THUMB_SIZE)) is not None]
        frames, smalls = [p for p, _ in pairs], [small for _, small in pairs]
    if not frames:
        return Choice(None, "no identify frame near the detect frame's time (the stream is late or stalled)")
    offset = None
    diffs: list[float] = []
    if len(frames) >= 3:
        thumb = thumbnail(detect_bgr)
        diffs = [float(np.abs(thumbnail(small) - thumb).mean()) for small in smalls]
        best = min(range(len(frames)), key=diffs.__getitem__)
        if max(diffs) - diffs[best] >= MOTION:
            offset = frames[best].time - t
    near = [i for i, f in enumerate(frames) if abs(f.time - t) <= skew_s]
    if not near:
        skew = min(abs(f.time - t) for f in frames)
        return Choice(None, f"the identify stream is late: its nearest frame is {skew * 1000:.0f} ms from the "
                            f"detect frame (at most {skew_s * 1000:.0f} ms)", offset)
    nearest = min(near, key=lambda i: abs(frames[i].time - t))
    if not diffs:
        return Choice(frames[nearest], None, offset)
    best, best_near = (min(pool, key=diffs.__getitem__) for pool in (range(len(frames)), near))
    if best not in near and _clearly(diffs[best], diffs[best_near]):
        return Choice(None, "the identify stream drifts: the detect frame's picture matches an identify frame "
                            f"{abs(frames[best].time - t) * 1000:.0f} ms away better than those within "
                            f"{skew_s * 1000:.0f} ms", offset)
    return Choice(frames[best_near if _clearly(diffs[best_near], diffs[nearest]) else nearest], None, offset)


def drifting(offsets: list[float], skew_s: float) -> float | None:
    """The streams' drift when the recent best-match offsets say they drift beyond ``skew_s``
    (their median, over at least ``MIN_OFFSETS``); None while they do not."""
    if len(offsets) < MIN_OFFSETS:
        return None
    median = float(np.median(offsets))
    return median if abs(median) > skew_s else None


def _clearly(better: float, than: float) -> bool:
    return than - better >= MATCH_MARGIN and better < DRIFT_RATIO * than


def crop_face(engine: Engine, frame: Picture, detect_gray: np.ndarray, box: Box,
              engine_factor: float) -> FaceCrop | None:
    """The face of detect ``box`` in the identify frame, checked (see the module); None: use
    the detect stream."""
    size = frame.size
    if size is None:
        return None
    dh, dw = detect_gray.shape[:2]
    ih, iw = size
    sy, sx = ih / dh, iw / dw
    region = _scaled(grown(box, GROW, detect_gray.shape), sy, sx, size)
    top, _, _, left = region
    cut = frame.region(*region)     # only this part of a decoded picture is converted
    if cut is None:
        return None
    bgr = np.ascontiguousarray(cut)
    rgb = bgr_to_rgb(bgr)
    face_px = width(box) * sx
    factor = min(1.0, FACE_PX / max(1.0, face_px) / engine_factor)
    found = [b for b in magnified(engine, rgb, (0, rgb.shape[1], rgb.shape[0], 0), factor)
             if same_place(_scaled((b[0] + top, b[1] + left, b[2] + top, b[3] + left), 1 / sy, 1 / sx,
                                   detect_gray.shape), box)]
    if len(found) != 1:
        return None
    mtop, mright, mbottom, mleft = _scaled(box, sy, sx, size)
    mapped = (mtop - top, mright - left, mbottom - top, mleft - left)
    if _correlation(detect_gray, box, cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), mapped) < MIN_CORRELATION:
        return None      # another moment, or another view of the scene
    return FaceCrop(rgb, bgr, found[0])


def _scaled(box: Box, sy: float, sx: float, shape: tuple[int, ...]) -> Box:
    top, right, bottom, left = box
    h, w = shape[:2]
    top, bottom = max(0, round(top * sy)), min(h, round(bottom * sy))
    left, right = max(0, round(left * sx)), min(w, round(right * sx))
    return top, max(left + 1, right), max(top + 1, bottom), left


def _correlation(detect_gray: np.ndarray, box: Box, crop_gray: np.ndarray, mapped: Box) -> float:
    """Normalised correlation of the two pictures of the face, at the detect stream's size."""
    top, right, bottom, left = box
    small = detect_gray[max(0, top):bottom, max(0, left):right].astype(np.float32)
    mtop, mright, mbottom, mleft = mapped
    big = crop_gray[max(0, mtop):mbottom, max(0, mleft):mright]
    if small.size == 0 or big.size == 0:
        return 0.0
    big = cv2.resize(big, (small.shape[1], small.shape[0]), interpolation=cv2.INTER_AREA).astype(np.float32)
    a, b = small - small.mean(), big - big.mean()
    norm = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / norm) if norm > 0 else 0.0
