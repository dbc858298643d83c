"""Repeat strangers: an Unknown face seen again gets the same site-local id ("Unknown 17").

Incremental clustering on the history's writer thread: an Unknown visit's face (its embedding) is
compared with the mean face of every group; it joins the nearest group within ``distance`` (a
conservative threshold, tighter than the match tolerance: two strangers in one group would be
named as one), else it starts a group. The groups and the visits' group ids are kept in the history
database, so the ids survive a restart. What a group shows (visits, cameras, first and last seen)
is read from its visits, so retention and deletions need no bookkeeping here.

An operator may merge two groups (the same person, seen too differently) or name one: naming is
the people use case's (``edgeface.live.people``); this module records it.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np
from sqlalchemy import Engine, delete, func, insert, select, update

from edgeface.history.schema import events, strangers
from edgeface.matcher import EMBEDDING_DIM

#: Faces shown per group (its best looks) and named when the group is named.
FACES_SHOWN = 4


@dataclass(frozen=True)
class StrangerGroup:
    """One repeat stranger as the console shows it."""
    id: int
    visits: int
    cameras: list[str]                 # newest first
    first_seen: float
    last_seen: float
    faces: list[str]                   # visit ids of its best looks, best first
    name: str | None                   # an operator named the whole group
    named_by_role: str | None

    @property
    def label(self) -> str:
        return f"Unknown {self.id}"

    def as_json(self) -> dict:
        return {"id": self.id, "label": self.label, "visits": self.visits, "cameras": self.cameras,
                "first_seen": self.first_seen, "last_seen": self.last_seen, "faces": self.faces,
                "name": self.name, "named_by_role": self.named_by_role}


class Strangers:
    """The groups; ``assign`` and ``merge`` on the writer thread (the centroids' owner), reads from any."""

    def __init__(self, engine: Engine, distance: float):
        self.engine = engine
        self.distance = float(distance)
        self._lock = threading.Lock()        # the centroids: the writer changes them, a merge may too
        with engine.connect() as conn:
            rows = conn.execute(select(strangers.c.id, strangers.c.centroid, strangers.c.faces)).all()
        self._ids = [r.id for r in rows]
        self._faces = [r.faces for r in rows]
        self._centroids = np.array([np.frombuffer(r.centroid, np.float32) for r in rows],
                                   np.float32).reshape(-1, EMBEDDING_DIM)

    def __len__(self) -> int:
        return len(self._ids)

    def assign(self, embedding: np.ndarray, now: float | None = None) -> int:
        """The group of an Unknown face: the nearest within ``distance`` (its mean moves towards
        the face), else a new one."""
        face = np.asarray(embedding, np.float32).reshape(EMBEDDING_DIM)
        with self._lock:
            if len(self._ids):
                d = np.linalg.norm(self._centroids - face, axis=1)
                k = int(d.argmin())
                if d[k] <= self.distance:
                    n = self._faces[k]
                    self._centroids[k] = (self._centroids[k] * n + face) / (n + 1)
                    self._faces[k] = n + 1
                    self._save(k)
                    return self._ids[k]
            with self.engine.begin() as conn:
                made = conn.execute(insert(strangers).values(
                    centroid=face.tobytes(), faces=1, created_at=time.time() if now is None else now))
            new_id = int(made.inserted_primary_key[0])    # type: ignore[index]
            self._ids.append(new_id)
            self._faces.append(1)
            self._centroids = np.vstack([self._centroids, face[None]])
            return new_id

    def merge(self, group: int, into: int) -> bool:
        """``group``'s visits join ``into`` (an operator says they are one person); False when
        either is unknown or they are the same."""
        with self._lock:
            if group == into or group not in self._ids or into not in self._ids:
                return False
            a, b = self._ids.index(group), self._ids.index(into)
            na, nb = self._faces[a], self._faces[b]
            self._centroids[b] = (self._centroids[a] * na + self._centroids[b] * nb) / (na + nb)
            self._faces[b] = na + nb
            self._save(b)
            with self.engine.begin() as conn:
                conn.execute(update(events).where(events.c.stranger == group).values(stranger=into))
                conn.execute(delete(strangers).where(strangers.c.id == group))
            del self._ids[a], self._faces[a]
            self._centroids = np.delete(self._centroids, a, axis=0)
            return True

    def name(self, group: int, name: str, role: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(strangers).where(strangers.c.id == group)
                         .values(name=name, named_by_role=role, named_at=time.time()))

    def forget(self, name: str) -> None:
        """Privacy: the groups named ``name`` lose their name (their visits are deleted by the caller)."""
        with self.engine.begin() as conn:
            conn.execute(update(strangers).where(strangers.c.name == name)
                         .values(name=None, named_by_role=None, named_at=None))

    def _save(self, k: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(strangers).where(strangers.c.id == self._ids[k])
                         .values(centroid=self._centroids[k].tobytes(), faces=self._faces[k]))

    # -- reading (any thread) ---------------------------------------------------------------------
    def groups(self, limit: int = 50, ids: list[int] | None = None) -> list[StrangerGroup]:
        """The groups with visits kept, last seen first (``ids``: only these)."""
        stmt = (select(events.c.stranger, func.count(), func.min(events.c.started_at), func.max(events.c.last_seen))
                .where(events.c.stranger.is_not(None)).group_by(events.c.stranger)
                .order_by(func.max(events.c.last_seen).desc()).limit(limit))
        if ids is not None:
            stmt = stmt.where(events.c.stranger.in_(ids))
        with self.engine.connect() as conn:
            rows = conn.execute(stmt).all()
            found = [r[0] for r in rows]
            named = {r.id: r for r in conn.execute(select(strangers).where(strangers.c.id.in_(found)))}
            cameras = conn.execute(select(events.c.stranger, events.c.camera).where(events.c.stranger.in_(found))
                                   .group_by(events.c.stranger, events.c.camera)
                                   .order_by(func.max(events.c.last_seen).desc())).all()
            # Each group's best looks, without reading all its visits (a regular may have thousands).
            rank = func.row_number().over(partition_by=events.c.stranger,
                                          order_by=(events.c.score.desc(), events.c.last_seen.desc())).label("rank")
            ranked = select(events.c.stranger, events.c.id, rank).where(events.c.stranger.in_(found)).subquery()
            best = conn.execute(select(ranked.c.stranger, ranked.c.id).where(ranked.c.rank <= FACES_SHOWN)
                                .order_by(ranked.c.stranger, ranked.c.rank)).all()
        out = []
        for group, count, first, last in rows:
            row = named.get(group)
            out.append(StrangerGroup(group, count, [c.camera for c in cameras if c.stranger == group], first, last,
                                     [b.id for b in best if b.stranger == group], row.name if row else None,
                                     row.named_by_role if row else None))
        return out

    def group(self, group: int) -> StrangerGroup | None:
        found = self.groups(limit=1, ids=[group])
        return found[0] if found else None

    def visit_ids(self, group: int) -> list[str]:
        """Every visit of ``group``, best look first."""
        with self.engine.connect() as conn:
            return list(conn.execute(select(events.c.id).where(events.c.stranger == group)
                                     .order_by(events.c.score.desc(), events.c.last_seen.desc())).scalars())
