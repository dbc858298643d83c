"""The history as operators work on it: visits marked reviewed, deleted or exported in bulk, who
is here now (open visits, with their last sightings elsewhere), a labelled person's summary, and
since when each camera is online or offline.

Reads and small writes from the web app's threads (WAL); a deletion first drops the open visits
on the writer thread (their owner), so a deleted visit is not written again.
"""

from __future__ import annotations

import csv
import io
import json
import threading
import time
import zipfile
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, func, or_, select, update

from edgeface.history import clips, retention
from edgeface.history.schema import events
from edgeface.history.store import History, Visit, _iso

CLOSE = 0.75        # of the tolerance: distances below are a "close match"
MAX_BULK = 500      # visits one bulk action may name (SQLite binds, a zip a browser can take)
#: The CSV's columns; a spreadsheet reads them without the app.
CSV_COLUMNS = ("id", "camera", "camera_name", "who", "label", "first_seen_utc", "last_seen_utc", "duration_s",
               "match", "distance", "model_version", "model_versions", "reviewed", "snapshot")


@dataclass
class Presence:
    """One person (or one Unknown face) here now: the visits open on cameras, and where else they
    were seen last (cameras without an open visit of theirs)."""
    name: str
    unknown: bool
    here: list[Visit]
    elsewhere: list[tuple[str, float]] = field(default_factory=list)   # (camera, last seen), newest first


class Archive:
    def __init__(self, history: History):
        self.history = history
        self._states: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    # -- bulk ------------------------------------------------------------------------------------
    def mark(self, ids: Collection[str], reviewed: bool, role: str) -> int:
        """Mark visits reviewed (or not); how many exist."""
        values = {"reviewed_at": time.time(), "reviewed_by_role": role} if reviewed else \
            {"reviewed_at": None, "reviewed_by_role": None}
        with self.history.engine.begin() as conn:
            return conn.execute(update(events).where(events.c.id.in_(list(ids))).values(**values)).rowcount

    def delete(self, ids: Collection[str]) -> int:
        """Delete visits with their snapshots and the clips that show them; how many there were."""
        self.history.on_writer(lambda: self.history.visits.forget_ids(set(ids)))   # not written again
        with self.history.engine.begin() as conn:
            rows = conn.execute(select(events.c.id, events.c.camera, events.c.started_at, events.c.last_seen,
                                       events.c.face_path, events.c.frame_path)
                                .where(events.c.id.in_(list(ids)))).all()
            clips.remove_showing(conn, self.history.directory, rows)
            return retention.remove(conn, self.history.directory, rows)

    def visits(self, ids: Collection[str]) -> list[Visit]:
        """These visits, newest first (unknown ids left out)."""
        with self.history.engine.connect() as conn:
            rows = conn.execute(select(events).where(events.c.id.in_(list(ids)))
                                .order_by(events.c.started_at.desc(), events.c.id.desc())).all()
        return [Visit.from_row(r, self.history.visits.gap_s) for r in rows]

    def match_words(self, visit: Visit) -> str:
        """How close the face was to the person named, in words (the console says the same)."""
        return match_words(visit.best_distance, self.history.visits.tolerance, visit.unknown)

    def export(self, visits: list[Visit], camera_name: Callable[[str], str]) -> bytes:
        """A zip: ``visits.csv`` (one row per visit) and each visit's face as ``snapshots/<id>.jpg``."""
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
            table = io.StringIO()
            writer = csv.writer(table)
            writer.writerow(CSV_COLUMNS)
            for v in visits:
                face = self.history.image(v.id, "snapshot")
                if face is not None:
                    archive.writestr(f"snapshots/{v.id}.jpg", face)
                writer.writerow([_cell(x) for x in (
                    v.id, v.camera, camera_name(v.camera), v.name, v.label or "", _iso(v.started_at),
                    _iso(v.last_seen), round(v.last_seen - v.started_at, 1), self.match_words(v),
                    "" if v.best_distance is None else round(v.best_distance, 3), v.model_version or "",
                    " ".join(v.model_versions), "yes" if v.reviewed_at else "no",
                    f"snapshots/{v.id}.jpg" if face is not None else "")])
            archive.writestr("visits.csv", table.getvalue())
        return out.getvalue()

    # -- who is here now ---------------------------------------------------------------------------
    def present(self, now: float | None = None) -> list[Presence]:
        """Everyone with an open visit seen within the visit gap: named people first (by name),
        then Unknown faces (a repeat stranger's visits together, else each visit apart: they are
        different faces), longest here first."""
        now = time.time() if now is None else now
        gap = self.history.visits.gap_s
        with self.history.engine.connect() as conn:
            rows = conn.execute(select(events).where(and_(events.c.ended.is_(False), events.c.last_seen >= now - gap))
                                .order_by(events.c.started_at)).all()
            here = [Visit.from_row(r, gap) for r in rows]
            names = sorted({v.name for v in here if not v.unknown})
            seen = conn.execute(select(events.c.name, events.c.camera, func.max(events.c.last_seen))
                                .where(events.c.name.in_(names)).group_by(events.c.name, events.c.camera)
                                .order_by(func.max(events.c.last_seen).desc())).all() if names else []
        people: dict[str, Presence] = {}
        for v in here:
            key = (f"stranger {v.stranger}" if v.stranger is not None else v.id) if v.unknown else v.name
            people.setdefault(key, Presence(v.label or v.name if v.unknown else v.name, v.unknown, [])).here.append(v)
        for name, camera, last in seen:
            person = people[name]
            if camera not in {v.camera for v in person.here}:
                person.elsewhere.append((camera, last))
        return sorted(people.values(), key=lambda p: (p.unknown, p.name.lower() if not p.unknown else "",
                                                      p.here[0].started_at))

    # -- people and cameras ------------------------------------------------------------------------
    def person(self, name: str) -> dict[str, Any] | None:
        """What the history holds of ``name`` (named so, or labelled so by an operator, in any case):
        visits, last seen and the spelling last used; None when nothing."""
        folded = name.strip().lower()
        match = or_(and_(events.c.unknown.is_(False), func.lower(events.c.name) == folded),
                    func.lower(events.c.label) == folded)
        with self.history.engine.connect() as conn:
            count, last = conn.execute(select(func.count(), func.max(events.c.last_seen)).where(match)).one()
            latest = conn.execute(select(events.c.name, events.c.label).where(match)
                                  .order_by(events.c.last_seen.desc()).limit(1)).first()
        if not count or latest is None:
            return None
        spelling = latest.label if (latest.label or "").lower() == folded else latest.name
        return {"name": spelling, "visits": count, "last_seen": last, "known_to_model": False}

    def camera_since(self, camera_id: str, state: str, last_frame_age_s: float | None) -> float:
        """When the camera entered ``state`` (online, offline, disabled), as far as this app saw:
        an offline camera is offline since its last picture; a state first seen now is since now."""
        now = time.time()
        with self._lock:
            known = self._states.get(camera_id)
            if known is None or known[0] != state:
                since = now - last_frame_age_s if state == "offline" and last_frame_age_s else now
                known = self._states[camera_id] = (state, since)
        return known[1]


def match_words(distance: float | None, tolerance: float, unknown: bool) -> str:
    """Distances in words: below CLOSE x the tolerance a close match, up to it a weak one; an
    Unknown face's nearest known face is further than the tolerance (webapp/static/app.js agrees)."""
    if distance is None:
        return "not measured"
    if unknown or distance > tolerance:
        return "like nobody known"
    return "close match" if distance <= CLOSE * tolerance else "weak match"


def _cell(value: Any) -> str:
    """A CSV cell a spreadsheet shows as text: never run as a formula (=, +, -, @ first)."""
    text = value if isinstance(value, str) else json.dumps(value) if isinstance(value, (list, dict)) else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
