"""Clips: short WebM videos of a camera's shown frames around faces (docs/clips.md).

A camera's recorder (``edgeface.live.recorder``) hands over a finished segment — JPEG frames
already blurred as the camera's privacy requires, stamped in epoch seconds — and ``ClipStore``
encodes it to WebM/VP8 on its own thread (never a camera's, never the history writer's), writes
it under ``clips/<day>/`` beside the snapshots and adds a ``clips`` row. A visit's clips are the
rows on its camera that overlap its time span. Retention (``edgeface.history.retention``) counts
their bytes; a clip goes when no visit it shows is left, or by its camera's age limit; deleting a
visit or a person deletes the clips that show them.
"""

from __future__ import annotations

import logging
import os
import queue
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import cv2
import numpy as np
from sqlalchemy import Connection, Engine, and_, delete, exists, func, insert, or_, select

from edgeface.history.schema import clips, events
from edgeface.images import decode_jpeg
from edgeface.lifecycle import LogOnChange, Service

log = logging.getLogger(__name__)

CLIPS = "clips"
FOURCC = "VP80"              # WebM/VP8: what browsers play without an H.264 licence (headless Chromium too)
QUEUE_MAX = 8                # segments waiting to be encoded; more are dropped (counted), never waited for
ORPHAN_AFTER_S = 300.0       # a clip no visit overlaps this long after it ended showed only deleted visits


@dataclass(frozen=True)
class Segment:
    """A camera's frames to keep: (epoch seconds, JPEG bytes), oldest first, sampled at ``fps``."""
    camera: str
    frames: list[tuple[float, bytes]]
    fps: float


@dataclass(frozen=True)
class Clip:
    id: int
    camera: str
    started_at: float
    ended_at: float
    bytes: int
    frames: int
    path: str

    def as_json(self, url: str) -> dict:
        return {"id": self.id, "url": url, "started_at": self.started_at, "ended_at": self.ended_at,
                "duration_s": round(self.ended_at - self.started_at, 2), "bytes": self.bytes}


class ClipStore(Service):
    """Encodes segments (``submit``, from any thread: never waits) and answers which clips a span has."""

    def __init__(self, engine: Engine, directory: Path):
        super().__init__("clip-writer")
        self.engine, self.directory = engine, directory
        self.dropped = 0             # segments the encoder could not keep up with
        self.failed = 0              # segments that could not be encoded or written
        self._queue: queue.Queue[Segment | None] = queue.Queue(QUEUE_MAX)
        self._errors = LogOnChange(repeat_s=60.0)

    def submit(self, segment: Segment) -> bool:
        if not segment.frames:
            return False
        try:
            self._queue.put_nowait(segment)
            return True
        except queue.Full:
            self.dropped += 1
            return False

    def run(self) -> None:
        # On close, what is queued is still written: a stay's last clip is not lost on shutdown.
        while not (self.stopping and self._queue.empty()):
            try:
                segment = self._queue.get(timeout=1.0)
            except queue.Empty:
                continue
            if segment is not None:
                self.save(segment)

    def _wake(self) -> None:
        try:
            self._queue.put_nowait(None)
        except queue.Full:
            pass

    def save(self, segment: Segment) -> Clip | None:
        """Encode and keep one segment (on the caller's thread); None when it could not be written."""
        start, end = segment.frames[0][0], segment.frames[-1][0]
        day = datetime.fromtimestamp(start, timezone.utc).strftime("%Y-%m-%d")
        rel = f"{CLIPS}/{day}/{_slug(segment.camera)}.{int(start * 1000)}.webm"
        path = self.directory / rel
        partial = path.with_name(path.stem + ".partial.webm")     # OpenCV picks the container by extension
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            frames = encode_webm(segment.frames, segment.fps, partial)
            os.replace(partial, path)
            size = path.stat().st_size
            with self.engine.begin() as conn:
                clip_id = conn.execute(insert(clips).values(
                    camera=segment.camera, started_at=start, ended_at=end, path=rel, bytes=size,
                    frames=frames)).inserted_primary_key[0]  # type: ignore[index]
        except Exception as err:  # noqa: BLE001 - a full disk or a bad frame costs this clip, never recognition
            self.failed += 1
            partial.unlink(missing_ok=True)
            if self._errors.fresh(f"{err.__class__.__name__}: {err}"):
                log.warning("clips: cannot keep a clip of %s (%d failures so far): %s", segment.camera,
                            self.failed, err)
            return None
        return Clip(int(clip_id), segment.camera, start, end, size, frames, rel)

    def overlapping(self, camera: str, start: float, end: float) -> list[Clip]:
        """The clips of ``camera`` that overlap [start, end], oldest first."""
        stmt = (select(clips).where(clips.c.camera == camera, clips.c.started_at <= end, clips.c.ended_at >= start)
                .order_by(clips.c.started_at, clips.c.id))
        with self.engine.connect() as conn:
            return [_clip(r) for r in conn.execute(stmt)]

    def file(self, clip: Clip) -> Path | None:
        path = self.directory / clip.path
        return path if path.is_file() else None


def encode_webm(frames: list[tuple[float, bytes]], fps: float, path: Path) -> int:
    """Write ``frames`` to ``path`` at a constant ``fps`` (a frame repeats until the next one is
    due, so the clip plays in real time even where samples were missed); the frames written."""
    start, end = frames[0][0], frames[-1][0]
    first = decode_jpeg(frames[0][1])
    if first is None:
        raise ValueError("the clip's first frame is not a JPEG")
    h, w = first.shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*FOURCC), fps, (w, h))
    if not writer.isOpened():
        raise OSError(f"OpenCV cannot write {FOURCC} video to {path.name}")
    try:
        count = max(1, round((end - start) * fps) + 1)
        index, shown, current = 0, 0, first
        for k in range(count):
            tick = start + k / fps
            while index + 1 < len(frames) and frames[index + 1][0] <= tick + 1e-6:
                index += 1
            if index != shown:                   # decode only the frames that are written
                shown, current = index, _frame(frames[index][1], (w, h), current)
            writer.write(current)
    finally:
        writer.release()
    return count


def _frame(jpeg: bytes, size: tuple[int, int], previous: np.ndarray) -> np.ndarray:
    """A frame at the clip's size; the previous one again when this JPEG is broken."""
    bgr = decode_jpeg(jpeg)
    if bgr is None:             # a corrupt camera JPEG repeats the frame before it
        return previous
    return bgr if (bgr.shape[1], bgr.shape[0]) == size else cv2.resize(bgr, size)


def _slug(camera: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", camera)[:48] or "camera"


def _clip(row) -> Clip:
    return Clip(row.id, row.camera, row.started_at, row.ended_at, row.bytes, row.frames, row.path)


def clip_bytes(conn: Connection) -> int:
    return int(conn.execute(select(func.coalesce(func.sum(clips.c.bytes), 0))).scalar_one())


def remove_showing(conn: Connection, directory: Path, visits: Iterable) -> int:
    """Delete the clips that show these visits (rows with ``camera``, ``started_at``, ``last_seen``),
    even where they show other visits too: a deleted visit or a forgotten person leaves no video."""
    terms = [and_(clips.c.camera == v.camera, clips.c.started_at <= v.last_seen, clips.c.ended_at >= v.started_at)
             for v in visits]
    rows: list = []
    for start in range(0, len(terms), 100):       # SQLite's limit on bound parameters
        rows += conn.execute(select(clips.c.id, clips.c.path).where(or_(*terms[start:start + 100]))).all()
    return _remove(conn, directory, {r.id: r for r in rows}.values())


def remove_orphans(conn: Connection, directory: Path, now: float) -> int:
    """Delete the clips no visit overlaps any more (their visits aged out or were deleted), once
    they are old enough that a visit they show cannot still be on its way to the database."""
    shows = exists().where(events.c.camera == clips.c.camera, events.c.started_at <= clips.c.ended_at,
                           events.c.last_seen >= clips.c.started_at)
    rows = conn.execute(select(clips.c.id, clips.c.path)
                        .where(clips.c.ended_at < now - ORPHAN_AFTER_S, ~shows)).all()
    return _remove(conn, directory, rows)


def remove_older(conn: Connection, directory: Path, too_old) -> int:
    """Delete the clips matching ``too_old(ended_at column, camera column)`` (the retention's age rule)."""
    rows = conn.execute(select(clips.c.id, clips.c.path).where(too_old(clips.c.ended_at, clips.c.camera))).all()
    return _remove(conn, directory, rows)


def _remove(conn: Connection, directory: Path, rows: Iterable) -> int:
    rows = list(rows)
    for start in range(0, len(rows), 500):
        conn.execute(delete(clips).where(clips.c.id.in_([r.id for r in rows[start:start + 500]])))
    for row in rows:
        (directory / row.path).unlink(missing_ok=True)
    return len(rows)
