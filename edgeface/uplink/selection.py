"""Which measured faces become captures: one per visit (its best face), no near-duplicates, a cap
per camera and hour, and a few confident names sampled for accuracy.

The live path reports one recognition event per track and name change, so a person who stays
(or a looping clip) starts a new track again and again: sending each would fill the bucket with
copies of one face (43 byte-identical crops of one person in 7 minutes of the sample clip) and
the review with noise. The events carry no visit id yet, so visits are found here the way the
history finds them (``edgeface.history.visits``): a named face joins the camera's visit of that
name seen within ``visit_gap_s``; an Unknown one the visit of its track, or an Unknown visit on
the camera whose face lies within the match tolerance. A visit's best face (size, sharpness,
frontal) is sent ``hold_s`` after its first one; later faces of the visit are merged into it
(counted, not sent). A face closer than ``same_face_distance`` to a capture sent today (UTC)
is merged too, whatever its visit. Past ``max_per_camera_hour`` a camera's visits are dropped
(``capped``). Pure bookkeeping, owned by the capture thread; times are epoch seconds.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import numpy as np

from edgeface.uplink.outbox import Capture
from edgeface.uplink.quality import UNKNOWN


@dataclass(frozen=True)
class CapturePolicy:
    visit_gap_s: float = 30.0          # as EDGEFACE_EVENTS_VISIT_GAP_S: faces less apart are one visit
    hold_s: float = 10.0               # a visit's first face waits this long for a better one
    same_face_distance: float = 0.15   # closer embeddings are the same look (one person's photos: 0.3-0.5); 0: off
    max_per_camera_hour: int = 20      # captures a camera may send in any hour; 0: none
    samples_per_name_day: int = 1      # confident matches sent per person and day, to check accuracy


@dataclass
class Candidate:
    """A measured face that passed the quality gate, waiting to be sent or merged."""
    capture: Capture                  # embedding set
    track: int
    score: float                      # higher is a better face to train on
    frame: Any = None                 # the camera Frame, encoded as the context JPEG only if sent

    @property
    def vector(self) -> np.ndarray:
        return np.asarray(self.capture.embedding, dtype=np.float32)


@dataclass
class _Visit:
    camera: str
    name: str
    first_at: float
    last_at: float
    best: Candidate | None            # None once sent (or capped)
    vector: np.ndarray                # of its first face: what Unknown faces are compared with
    tracks: set[int] = field(default_factory=set)


class CaptureFilter:
    def __init__(self, policy: CapturePolicy | None = None, tolerance: float = 0.6):
        self.policy = policy or CapturePolicy()
        self.tolerance = tolerance
        self.merged = 0               # faces folded into a visit's capture or a capture of today
        self.capped = 0               # visits not sent: their camera's hourly cap was reached
        self.sampled = 0              # captures of confident names sent for the accuracy check
        self._visits: list[_Visit] = []
        self._day = ""
        self._today: list[np.ndarray] = []           # embeddings of the captures sent today
        self._sent: dict[str, deque[float]] = {}     # camera -> send times within the last hour
        self._samples: dict[str, int] = {}           # name -> samples started today

    def wants_sample(self, name: str, at: float) -> bool:
        """Whether a confident match of ``name`` should be measured as an accuracy sample."""
        self._roll(at)
        return name != UNKNOWN and self._samples.get(name, 0) < self.policy.samples_per_name_day

    def add(self, candidate: Candidate) -> None:
        c = candidate.capture
        at = c.seen_at
        self._roll(at)
        if c.reason == "sample":
            if self._samples.get(c.name, 0) >= self.policy.samples_per_name_day:
                return                # the day's samples of this person are taken already
            self._samples[c.name] = self._samples.get(c.name, 0) + 1     # taken, even if merged below
        visit = self._visit_of(c.camera, c.name, candidate.track, candidate.vector, at)
        if visit is not None:
            visit.tracks.add(candidate.track)
            visit.last_at = max(visit.last_at, at)
            self.merged += 1
            if visit.best is not None and candidate.score > visit.best.score:
                candidate.capture.merged = visit.best.capture.merged + 1
                visit.best = candidate
            elif visit.best is not None:
                visit.best.capture.merged += 1
            return
        if self._seen_today(candidate.vector):
            self.merged += 1
            return
        self._visits.append(_Visit(c.camera, c.name, at, at, candidate, candidate.vector, {candidate.track}))

    def remember(self, capture: Capture) -> None:
        """A capture sent outside the filter (an operator's label): later look-alikes of today merge into it."""
        self._roll(capture.seen_at)
        if capture.embedding is not None:
            self._today.append(np.asarray(capture.embedding, dtype=np.float32))

    def due(self, now: float) -> list[Candidate]:
        """The visits' best faces whose hold is over, to send now; forgets visits that ended."""
        out = [c for v in self._visits if v.best is not None and now - v.first_at >= self.policy.hold_s
               for c in self._release(v, now)]
        self._visits = [v for v in self._visits if v.best is not None or now - v.last_at < self.policy.visit_gap_s]
        return out

    def drain(self, now: float) -> list[Candidate]:
        """Every waiting best face (the app stops): sent now, within the caps."""
        out = [c for v in self._visits if v.best is not None for c in self._release(v, now)]
        self._visits = []
        return out

    @property
    def waiting(self) -> int:
        return sum(v.best is not None for v in self._visits)

    def _release(self, visit: _Visit, now: float) -> list[Candidate]:
        best, visit.best = visit.best, None
        assert best is not None
        sent = self._sent.setdefault(visit.camera, deque())
        while sent and now - sent[0] >= 3600:
            sent.popleft()
        if len(sent) >= self.policy.max_per_camera_hour:
            self.capped += 1
            return []
        sent.append(now)
        self._today.append(best.vector)
        self.sampled += best.capture.reason == "sample"
        return [best]

    def _visit_of(self, camera: str, name: str, track: int, vector: np.ndarray, at: float) -> _Visit | None:
        for v in self._visits:
            if v.camera != camera or v.name != name or at - v.last_at >= self.policy.visit_gap_s:
                continue
            if name != UNKNOWN or track in v.tracks or _distance(v.vector, vector) <= self.tolerance:
                return v
        return None

    def _seen_today(self, vector: np.ndarray) -> bool:
        near = self.policy.same_face_distance
        waiting = [v.best.vector for v in self._visits if v.best is not None]
        return any(_distance(other, vector) < near for other in self._today + waiting)

    def _roll(self, at: float) -> None:
        day = datetime.fromtimestamp(at, timezone.utc).strftime("%Y-%m-%d") if math.isfinite(at) else self._day
        if day > self._day:
            self._day, self._today, self._samples = day, [], {}


def _distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b))
