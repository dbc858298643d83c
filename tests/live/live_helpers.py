"""What the live tests share: a frame as a camera source hands it to a pipeline."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Frame:
    seq: int
    time: float                    # monotonic seconds
    jpeg: bytes | None = None
    bgr: np.ndarray | None = None


def decide(tracks, boxes: list, t: float, *, generation: int = 1, gray: np.ndarray | None = None,
           min_face_px: int = 0) -> list:
    """What the search decides for ``boxes`` detected at frame time ``t`` (which track each is,
    looks, who needs an encoding), taken in by ``tracks`` as the camera's tracker does; the
    tracks due for an encoding."""
    from edgeface.live.modelwatch import LoadedModel
    from edgeface.live.plan import Observation, SearchKind, SearchPlan
    from edgeface.live.search import identify
    from edgeface.live.tracker import CameraTracker, view

    model = LoadedModel(None, None, "test", "test", 0.0, generation)  # type: ignore[arg-type]
    plan = SearchPlan("cam", t, model, tracks.settings, SearchKind.AROUND,
                      tuple(view(tr, t) for tr in tracks.tracks if tr.ended_at > t), min_face_px=min_face_px)
    decided = identify(plan, boxes, np.zeros((480, 640), np.uint8) if gray is None else gray)
    tracker = CameraTracker("cam", tracks.settings)
    tracker.tracks = tracks
    tracker.apply(plan, Observation(t, model, tuple(face for face, _ in decided)), None)
    return [next(tr for tr in tracks.tracks if tr.seen_at == t and tr.box == tuple(face.box))
            for face, due in decided if due]
