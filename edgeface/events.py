"""What the live pipeline reports to the event history (``edgeface.history``) and the uplink.

- :class:`RecognitionEvent`: a track was named or found Unknown — with the face snapshot, the
  analysed frame and the track's embedding, so the history can start or update a visit.
- :class:`Sighting`: a track that was reported before was seen again by a detection pass — it
  keeps its visit's ``last_seen`` current and may give the visit a better snapshot.

Both carry the camera's frame object itself (JPEG bytes and/or decoded pixels, decoded once):
turning it into files happens on the history's writer thread, never on the camera's.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import numpy as np


@dataclass
class RecognitionEvent:
    camera: str
    name: str
    distance: float
    box: list[int]                 # [top, right, bottom, left] in the camera frame
    time: float                    # epoch seconds
    track: int = 0
    model_version: str | None = None
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    snapshot: bytes | None = field(default=None, repr=False, compare=False)
    frame: Any = field(default=None, repr=False, compare=False)      # the analysed frame (see module doc)
    embedding: np.ndarray | None = field(default=None, repr=False, compare=False)
    # The faces in ``frame`` (this one included) the camera's privacy blurs: never stored as seen.
    hide: list[tuple[int, int, int, int]] = field(default_factory=list, repr=False, compare=False)
    # The region around the face in the camera's identify (main) stream at this moment (BGR), and
    # the face's box in it: captures for training are cut from there (more pixels, margin enough).
    shot: np.ndarray | None = field(default=None, repr=False, compare=False)
    shot_box: list[int] | None = field(default=None, repr=False, compare=False)

    def as_json(self) -> dict:
        return {"camera": self.camera, "name": self.name, "distance": round(self.distance, 4), "box": self.box,
                "time": self.time, "track": self.track, "model_version": self.model_version, "id": self.id,
                "time_iso": datetime.fromtimestamp(self.time, timezone.utc).isoformat(timespec="milliseconds")}


@dataclass
class Sighting:
    camera: str
    track: int
    name: str
    distance: float | None
    box: tuple[int, int, int, int]
    time: float                    # epoch seconds
    frame: Any = field(default=None, repr=False, compare=False)
    hide: list[tuple[int, int, int, int]] = field(default_factory=list, repr=False, compare=False)   # as above
    # The face with margin, cropped from the camera's identify (main) stream at this moment (BGR);
    # None: the history crops the frame's box.
    shot: np.ndarray | None = field(default=None, repr=False, compare=False)
