"""Retention: visits older than ``days`` go (or than their camera's own ``retention_days``), then the
oldest until the history fits ``max_bytes`` and ``max_events``, whatever their camera.

The size counted is what the history holds: its snapshot files, its clips (``edgeface.history.clips``)
plus the database's pages in use (deleted rows free pages at once; the file itself is reused rather
than shrunk). Open visits are never deleted: they are being written. A clip goes by its camera's age
limit too, and once no visit it shows is left.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Collection, Iterable
from pathlib import Path

from sqlalchemy import Connection, Engine, and_, delete, func, or_, select, text

from edgeface.history import clips
from edgeface.history.schema import cameras, events

log = logging.getLogger(__name__)

BATCH = 500


def history_bytes(conn: Connection) -> int:
    snapshots = conn.execute(select(func.coalesce(func.sum(events.c.bytes), 0))).scalar_one()
    pragma = {name: int(conn.execute(text(f"PRAGMA {name}")).scalar_one())
              for name in ("page_count", "freelist_count", "page_size")}
    in_use = (pragma["page_count"] - pragma["freelist_count"]) * pragma["page_size"]
    return int(snapshots) + clips.clip_bytes(conn) + in_use


def enforce(engine: Engine, directory: Path, now: float, days: float, max_bytes: int, max_events: int,
            keep: Collection[str] = ()) -> int:
    """Delete what is past the limits (age, size, count); the number of visits deleted."""
    deleted = 0
    with engine.begin() as conn:
        own = dict(conn.execute(select(cameras.c.id, cameras.c.retention_days)
                                .where(cameras.c.retention_days.is_not(None))).all())
        # A camera with its own retention keeps its visits (and clips) that long, the others ``days``.
        def too_old(seen, camera):
            terms = [and_(camera == cam, seen < now - limit * 86400) for cam, limit in own.items()]
            return or_(and_(camera.not_in(list(own)), seen < now - days * 86400), *terms)
        old = conn.execute(select(events.c.id, events.c.face_path, events.c.frame_path)
                           .where(too_old(events.c.last_seen, events.c.camera))).all()
        deleted += remove(conn, directory, [r for r in old if r.id not in keep])
        clips.remove_older(conn, directory, too_old)
        clips.remove_orphans(conn, directory, now)
    while True:
        with engine.begin() as conn:
            count = conn.execute(select(func.count()).select_from(events)).scalar_one()
            size = history_bytes(conn)
            if count <= max_events and size <= max_bytes:
                break
            # As many of the oldest as the excess count, or as the excess bytes at the mean size per visit.
            n = max(count - max_events, math.ceil((size - max_bytes) / max(1, size / max(1, count))), 1)
            n = min(n, BATCH)
            oldest = conn.execute(select(events.c.id, events.c.face_path, events.c.frame_path)
                                  .order_by(events.c.started_at, events.c.id).limit(n + len(keep))).all()
            batch = [r for r in oldest if r.id not in keep][:n]
            if not batch:
                break
            deleted += remove(conn, directory, batch)
            clips.remove_orphans(conn, directory, now)
    if deleted:
        log.info("history: %d visits past the retention limits deleted", deleted)
    return deleted


def remove(conn: Connection, directory: Path, rows: Iterable) -> int:
    """Delete these visits' rows and snapshot files (rows have ``id``, ``face_path``, ``frame_path``)."""
    rows = list(rows)
    for start in range(0, len(rows), 500):       # SQLite's limit on bound parameters
        conn.execute(delete(events).where(events.c.id.in_([r.id for r in rows[start:start + 500]])))
    for row in rows:
        for rel in (row.face_path, row.frame_path):
            if rel:
                (directory / rel).unlink(missing_ok=True)
    return len(rows)
