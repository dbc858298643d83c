"""Which faces are worth sending to the core for training: big enough, sharp, frontal enough.

Only Unknown faces and doubtful matches (named, but close to the threshold) are candidates; a
blurred, tiny or profile face would teach a model little and cost upload and review time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from edgeface.images import sharpness

UNKNOWN = "Unknown"


@dataclass(frozen=True)
class QualityGate:
    min_face_px: int = 60             # the face box's shorter side, in frame pixels
    # Variance of the Laplacian of the grey face crop. The sample clip's stranger (a 69 px face in
    # a 640x360 video) measures 13-18, its named faces 400-2300, a portrait blurred (sigma 2) 6-11:
    # at 40 the one face worth reviewing was refused.
    min_sharpness: float = 10.0
    max_yaw: float = 0.2              # nose offset from the eyes' midpoint, in eye distances (0: frontal)
    aspect_range: tuple[float, float] = (0.7, 1.4)   # box width/height when there are no landmarks
    doubtful_margin: float = 0.06     # a match this close to the tolerance is doubtful

    def candidate(self, name: str, distance: float, tolerance: float) -> str | None:
        """``"unknown"`` or ``"doubtful"`` when this result is worth a capture, else None."""
        if name == UNKNOWN:
            return "unknown"
        if distance >= tolerance - self.doubtful_margin:
            return "doubtful"
        return None

    def assess(self, face_bgr: np.ndarray, box: Sequence[int],
               landmarks: Sequence[Sequence[float]] | None = None) -> Quality:
        """Measure a face crop (``box`` is [top, right, bottom, left] in the frame)."""
        top, right, bottom, left = box
        size = min(bottom - top, right - left)
        sharp = sharpness(face_bgr)
        if landmarks is not None and len(landmarks) == 5:
            frontal = yaw_ratio(landmarks) <= self.max_yaw
        else:
            aspect = (right - left) / max(1, bottom - top)
            frontal = self.aspect_range[0] <= aspect <= self.aspect_range[1]
        reasons = []
        if size < self.min_face_px:
            reasons.append(f"face {size} px < {self.min_face_px}")
        if sharp < self.min_sharpness:
            reasons.append(f"sharpness {sharp:.0f} < {self.min_sharpness:g}")
        if not frontal:
            reasons.append("not frontal")
        return Quality(size=size, sharpness=sharp, frontal=frontal, reasons=reasons)


@dataclass(frozen=True)
class Quality:
    size: int
    sharpness: float
    frontal: bool
    reasons: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.reasons

    @property
    def score(self) -> float:
        """How good a face to train on, to pick a visit's best: bigger and sharper (past a point
        sharpness is noise), a turned head counting half."""
        return self.size * self.size * min(self.sharpness, 300.0) * (1.0 if self.frontal else 0.5)

    def as_json(self) -> dict:
        return {"size": self.size, "sharpness": round(self.sharpness, 1), "frontal": self.frontal}


def yaw_ratio(points: Sequence[Sequence[float]]) -> float:
    """How far the nose sits from the eyes' midpoint along the eye line, in eye distances.

    ``points`` are dlib's 5-point landmarks: two corners of each eye, then the base of the nose.
    About 0 for a frontal face, growing towards 0.5 as the head turns to a profile.
    """
    p = np.asarray(points, dtype=float)
    eye_a, eye_b, nose = p[0:2].mean(axis=0), p[2:4].mean(axis=0), p[4]
    axis = eye_b - eye_a
    distance = float(np.linalg.norm(axis))
    if distance < 1e-6:
        return 1.0
    return abs(float(np.dot(nose - (eye_a + eye_b) / 2, axis / distance))) / distance
