"""What the live pipeline reports to the event history (``edgeface.history``).

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
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from edgeface.live.tracking import TrackSet


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


def attach_context(events: list[RecognitionEvent], tracks: TrackSet, frame: Any) -> None:
    """Give each event the frame it was found in and its track's embedding (the mean the
    match used), for the visit's context frame and Unknown-visit merging."""
    by_id = {tr.id: tr for tr in tracks.tracks}
    for event in events:
        event.frame = frame
        tr = by_id.get(event.track)
        if tr is not None and len(tr.encodings):
            event.embedding = np.mean(tr.encodings, axis=0).astype(np.float32)


def sightings(camera: str, tracks: TrackSet, frame_time: float, frame: Any, now: float) -> list[Sighting]:
    """The reported tracks that the detection pass of ``frame_time`` saw."""
    return [Sighting(camera, tr.id, tr.reported, tr.distance, tr.box, now, frame)
            for tr in tracks.tracks if tr.reported is not None and tr.seen_at == frame_time]
