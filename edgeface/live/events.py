"""Recognition events: one per tracked face when it is named or found Unknown, with a snapshot.

Kept in memory (newest ``max_events``), and optionally in a directory — ``events.jsonl`` plus
one ``<id>.jpg`` per snapshot — so a restarted pod still shows recent recognitions.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import uuid
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from edgeface.matcher import UNKNOWN

log = logging.getLogger(__name__)


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

    def as_json(self) -> dict:
        out = {k: v for k, v in asdict(self).items() if k != "snapshot"}
        out["distance"] = round(self.distance, 4)
        out["time_iso"] = datetime.fromtimestamp(self.time, timezone.utc).isoformat(timespec="milliseconds")
        return out

    @classmethod
    def from_json(cls, data: dict) -> RecognitionEvent:
        return cls(camera=str(data["camera"]), name=str(data["name"]), distance=float(data["distance"]),
                   box=[int(v) for v in data["box"]], time=float(data["time"]), track=int(data.get("track", 0)),
                   model_version=data.get("model_version"), id=str(data["id"]))


class EventStore:
    """Thread-safe bounded store; snapshots live in memory or, with ``directory``, on disk."""

    def __init__(self, max_events: int = 1000, directory: str | os.PathLike | None = None):
        self.max_events = max_events
        self.directory = Path(directory) if directory else None
        self._events: OrderedDict[str, RecognitionEvent] = OrderedDict()   # oldest first
        self._lock = threading.Lock()
        self._lines_written = 0
        self.counts: dict[tuple[str, bool], int] = {}    # (camera, named) -> total since start
        if self.directory:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._load()

    # -- writing -----------------------------------------------------------------------------
    def add(self, event: RecognitionEvent) -> RecognitionEvent:
        with self._lock:
            self._events[event.id] = event
            key = (event.camera, event.name != UNKNOWN)
            self.counts[key] = self.counts.get(key, 0) + 1
            dropped = []
            while len(self._events) > self.max_events:
                dropped.append(self._events.popitem(last=False)[1])
            if self.directory:
                self._persist(event, dropped)
        return event

    @property
    def _dir(self) -> Path:
        assert self.directory is not None, "called only when events are kept in a directory"
        return self.directory

    def _persist(self, event: RecognitionEvent, dropped: list[RecognitionEvent]) -> None:
        try:
            if event.snapshot:
                (self._dir / f"{event.id}.jpg").write_bytes(event.snapshot)
                event.snapshot = None          # on disk now; keep memory flat
            with open(self._dir / "events.jsonl", "a", encoding="utf-8") as f:
                f.write(json.dumps(event.as_json()) + "\n")
            self._lines_written += 1
            for old in dropped:
                (self._dir / f"{old.id}.jpg").unlink(missing_ok=True)
            if self._lines_written > 2 * self.max_events:
                self._compact()
        except OSError as err:   # a full disk must not stop recognition
            log.warning("cannot persist event %s: %s", event.id, err)

    def _compact(self) -> None:
        tmp = self._dir / "events.jsonl.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            for ev in self._events.values():
                f.write(json.dumps(ev.as_json()) + "\n")
        os.replace(tmp, self._dir / "events.jsonl")
        self._lines_written = len(self._events)

    def _load(self) -> None:
        path = self._dir / "events.jsonl"
        if not path.exists():
            return
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                ev = RecognitionEvent.from_json(json.loads(line))
            except (ValueError, KeyError, TypeError):
                continue    # a torn last line after a crash
            self._events[ev.id] = ev
        while len(self._events) > self.max_events:
            self._events.popitem(last=False)
        self._lines_written = len(self._events)

    # -- reading -----------------------------------------------------------------------------
    def query(self, camera: str | None = None, name: str | None = None, since: float | None = None,
              until: float | None = None, limit: int = 50) -> list[RecognitionEvent]:
        """Newest first."""
        out = []
        with self._lock:
            events = list(self._events.values())
        for ev in reversed(events):
            if camera is not None and ev.camera != camera:
                continue
            if name is not None and ev.name != name:
                continue
            if since is not None and ev.time < since:
                continue
            if until is not None and ev.time > until:
                continue
            out.append(ev)
            if len(out) >= limit:
                break
        return out

    def get(self, event_id: str) -> RecognitionEvent | None:
        with self._lock:
            return self._events.get(event_id)

    def snapshot(self, event_id: str) -> bytes | None:
        ev = self.get(event_id)
        if ev is None:
            return None
        if ev.snapshot is not None:
            return ev.snapshot
        if self.directory:
            try:
                return (self.directory / f"{ev.id}.jpg").read_bytes()
            except OSError:
                return None
        return None
