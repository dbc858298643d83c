"""Recognitions and sightings in, visits out: the rules that make one event per visit.

A visit is one person's (or one Unknown face's) presence on one camera. A named recognition joins
the camera's open visit of that name if it was seen within ``gap_s``; an Unknown one joins the
visit its track already belongs to, or an open Unknown visit whose face is within ``tolerance``
of it; otherwise it starts a visit. A track first reported Unknown and then named moves its
Unknown visit over to the name (that visit was the same person, not yet recognised). Visits end
``gap_s`` after they were last seen. A visit keeps the model version that named it; a newer model
naming it after a hot reload is added to ``model_versions``, so per-version figures stay right.
Pure bookkeeping, owned by the history's writer thread.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from edgeface.events import RecognitionEvent, Sighting
from edgeface.matcher import UNKNOWN


@dataclass
class OpenVisit:
    id: str
    camera: str
    name: str
    started_at: float
    last_seen: float
    best_distance: float | None
    model_version: str | None                # the version that named it: kept through a hot reload
    tracks: list[int] = field(default_factory=list)
    model_versions: list[str] = field(default_factory=list)   # every version that named it, in order
    embedding: np.ndarray | None = None      # of the first look: what Unknown faces are compared with
    score: float = -1.0                      # of the best snapshot so far
    box: list[int] | None = None
    face_path: str | None = None             # the best snapshot's files, relative to the events folder
    frame_path: str | None = None
    bytes: int = 0
    best_embedding: np.ndarray | None = None   # of the best snapshot, for a label's training candidate
    written_at: float = float("-inf")        # last_seen when the row was last written
    looks: int = 0                           # snapshots taken so far: numbers each pair of files
    stale: list[str] = field(default_factory=list)   # replaced files, deleted once the row points past them
    stranger: int | None = None              # an Unknown visit's repeat-stranger group (history.strangers)

    @property
    def unknown(self) -> bool:
        return self.name == UNKNOWN


@dataclass
class Change:
    visit: OpenVisit
    kind: str                                # "start" or "update"
    merged_away: str | None = None           # a visit folded into this one: delete its row


class VisitAggregator:
    def __init__(self, gap_s: float, tolerance: float):
        self.gap_s = gap_s
        self.tolerance = tolerance
        self.open: dict[str, OpenVisit] = {}
        self._by_track: dict[tuple[str, int], str] = {}

    def on_event(self, ev: RecognitionEvent) -> Change:
        prev = self.open.get(self._by_track.get((ev.camera, ev.track), ""))
        if ev.name == UNKNOWN:
            target = prev if prev is not None and prev.unknown else self._similar_unknown(ev)
            return self._join(target, ev)
        target = self._find(ev.camera, lambda v: v.name == ev.name, ev.time)
        if prev is not None and prev.unknown and prev.tracks == [ev.track]:
            if target is None:                  # the Unknown visit was this person all along
                prev.name = ev.name
                return self._join(prev, ev)
            self._drop(prev)
            change = self._join(target, ev)
            change.merged_away = prev.id
            target.started_at = min(target.started_at, prev.started_at)
            return change
        return self._join(target, ev)

    def on_sighting(self, s: Sighting) -> OpenVisit | None:
        visit = self.open.get(self._by_track.get((s.camera, s.track), ""))
        if visit is None or visit.name != s.name:
            return None
        visit.last_seen = max(visit.last_seen, s.time)
        if s.distance is not None and (visit.best_distance is None or s.distance < visit.best_distance):
            visit.best_distance = s.distance
        return visit

    def expire(self, now: float) -> list[OpenVisit]:
        """The visits not seen for ``gap_s``: they end."""
        ended = [v for v in self.open.values() if now - v.last_seen > self.gap_s]
        for visit in ended:
            self._drop(visit)
        return ended

    def forget(self, name: str) -> None:
        for visit in [v for v in self.open.values() if v.name == name]:
            self._drop(visit)

    def forget_ids(self, ids: set[str]) -> None:
        """Deleted by an operator: not written again."""
        for visit in [v for v in self.open.values() if v.id in ids]:
            self._drop(visit)

    def _join(self, visit: OpenVisit | None, ev: RecognitionEvent) -> Change:
        kind = "update"
        if visit is None:
            visit = OpenVisit(ev.id, ev.camera, ev.name, ev.time, ev.time, ev.distance, ev.model_version,
                              embedding=ev.embedding)
            self.open[visit.id] = visit
            kind = "start"
        if ev.track not in visit.tracks:
            visit.tracks.append(ev.track)
        self._by_track[(ev.camera, ev.track)] = visit.id
        visit.last_seen = max(visit.last_seen, ev.time)
        if visit.best_distance is None or ev.distance < visit.best_distance:
            visit.best_distance = ev.distance
        if ev.model_version and ev.model_version not in visit.model_versions:
            visit.model_versions.append(ev.model_version)   # a reload during the visit: recorded, not overwritten
        visit.model_version = visit.model_version or ev.model_version
        if visit.embedding is None:
            visit.embedding = ev.embedding
        return Change(visit, kind)

    def _find(self, camera: str, wanted, t: float) -> OpenVisit | None:
        for visit in self.open.values():
            if visit.camera == camera and wanted(visit) and t - visit.last_seen <= self.gap_s:
                return visit
        return None

    def _similar_unknown(self, ev: RecognitionEvent) -> OpenVisit | None:
        if ev.embedding is None:
            return None
        emb = ev.embedding
        return self._find(ev.camera, lambda v: v.unknown and v.embedding is not None
                          and float(np.linalg.norm(v.embedding - emb)) <= self.tolerance, ev.time)

    def _drop(self, visit: OpenVisit) -> None:
        self.open.pop(visit.id, None)
        for key in [k for k, vid in self._by_track.items() if vid == visit.id]:
            del self._by_track[key]
