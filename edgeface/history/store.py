"""The event history: visits in SQLite, their snapshots on disk, written by one thread.

Camera threads only put recognitions and sightings on a bounded queue (``record``, ``seen``);
when it is full they are counted as dropped, never waited for. The writer thread turns them into
visits (``visits.VisitAggregator``), picks each visit's best snapshot — the sharpest, largest,
most frontal face (``shots.shot_score``), from the identify stream when the camera has one — and
writes rows and files. A full disk or a broken file costs that write (logged once a minute), never
recognition. Retention runs on the same thread every minute. The web app reads through
``query``/``get``/``image`` from its own threads (WAL: readers never wait for the writer).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import queue
import shutil
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Row, and_, func, insert, or_, select, tuple_, update
from sqlalchemy.exc import SQLAlchemyError

from edgeface.errors import EdgefaceError
from edgeface.events import RecognitionEvent, Sighting
from edgeface.history import clips, legacy, retention
from edgeface.history.clips import Clip, ClipStore
from edgeface.history.db import open_database
from edgeface.history.schema import events
from edgeface.history.shots import shot_score
from edgeface.history.strangers import Strangers
from edgeface.history.visits import OpenVisit, VisitAggregator
from edgeface.images import decode_jpeg, encode_jpeg
from edgeface.lifecycle import LogOnChange, Service
from edgeface.matcher import UNKNOWN
from edgeface.privacy import blur_boxes

log = logging.getLogger(__name__)

QUEUE_MAX = 512
RETENTION_EVERY_S = 60.0
ROW_REFRESH_S = 1.0          # an open visit's last_seen is written at most this often
SNAPSHOTS = "snapshots"
KINDS = {"snapshot": "face_path", "frame": "frame_path"}


@dataclass(frozen=True)
class Visit:
    """One row of the history, as the API shows it."""
    id: str
    camera: str
    name: str
    unknown: bool
    started_at: float
    last_seen: float
    ended: bool
    best_distance: float | None
    box: list[int] | None
    tracks: list[int]
    model_version: str | None
    has_snapshot: bool
    has_frame: bool
    label: str | None
    labelled_by_role: str | None
    reviewed_at: float | None = None
    reviewed_by_role: str | None = None
    model_versions: tuple[str, ...] = ()      # every version that named it, when a reload came mid-visit
    still_here: bool = False                  # open and seen within the visit gap
    # Changes whenever a better look replaces the face and frame: their URLs carry it, so a
    # browser's cached face (max-age) is never shown beside a newer frame.
    image_version: str = ""
    stranger: int | None = None               # an Unknown visit's repeat-stranger group ("Unknown 17")

    @classmethod
    def from_row(cls, row: Row, gap_s: float | None = None) -> Visit:
        """``gap_s``: how long an open visit may go unseen and still be "here" (None: open is here)."""
        here = not row.ended and (gap_s is None or time.time() - row.last_seen <= gap_s)
        return cls(id=row.id, camera=row.camera, name=row.name, unknown=bool(row.unknown),
                   started_at=row.started_at, last_seen=row.last_seen, ended=bool(row.ended),
                   best_distance=row.best_distance, box=json.loads(row.box) if row.box else None,
                   tracks=json.loads(row.tracks), model_version=row.model_version,
                   has_snapshot=bool(row.face_path), has_frame=bool(row.frame_path), label=row.label,
                   labelled_by_role=row.labelled_by_role, reviewed_at=row.reviewed_at,
                   reviewed_by_role=row.reviewed_by_role, still_here=here,
                   model_versions=tuple(json.loads(row.model_versions)) if row.model_versions else (),
                   image_version=f"{zlib.crc32(f'{row.score}:{row.bytes}'.encode()):08x}",
                   stranger=row.stranger)

    def as_json(self, camera_name: str | None = None) -> dict[str, Any]:
        base = f"/api/v1/events/{self.id}"
        return {"id": self.id, "camera": self.camera, "camera_name": camera_name or self.camera, "name": self.name,
                "unknown": self.unknown,
                "distance": None if self.best_distance is None else round(self.best_distance, 4),
                "box": self.box, "time": self.started_at, "time_iso": _iso(self.started_at),
                "started_at": self.started_at, "last_seen": self.last_seen,
                "duration_s": round(self.last_seen - self.started_at, 3), "ended": self.ended,
                "track": self.tracks[0] if self.tracks else 0, "tracks": self.tracks,
                "model_version": self.model_version,
                "snapshot_url": f"{base}/snapshot.jpg?v={self.image_version}" if self.has_snapshot else None,
                "frame_url": f"{base}/frame.jpg?v={self.image_version}" if self.has_frame else None,
                "label": self.label, "labelled_by_role": self.labelled_by_role,
                "model_versions": list(self.model_versions) or ([self.model_version] if self.model_version else []),
                "still_here": self.still_here, "reviewed": self.reviewed_at is not None,
                "reviewed_at": self.reviewed_at, "reviewed_by_role": self.reviewed_by_role,
                "stranger": self.stranger}


@dataclass(frozen=True)
class EventQuery:
    camera: str | None = None
    name: str | None = None
    unknown: bool | None = None
    since: float | None = None
    until: float | None = None
    model_version: str | None = None
    reviewed: bool | None = None
    cameras: tuple[str, ...] | None = None     # any of these (a camera group)
    limit: int = 50
    cursor: str | None = None


@dataclass(frozen=True)
class Page:
    events: list[Visit]
    next_cursor: str | None


class History(Service):
    """See the module docstring. Without ``directory`` it lives in a temporary folder removed by ``close``."""

    def __init__(self, directory: str | os.PathLike | None, *, gap_s: float = 30.0, tolerance: float = 0.6,
                 retention_days: float = 30.0, max_mb: float = 2048.0, max_events: int = 100_000,
                 snapshot_margin: float = 0.4, jpeg_quality: int = 85, stranger_distance: float = 0.5):
        super().__init__("history-writer")
        self._temporary = directory is None
        self.directory = Path(tempfile.mkdtemp(prefix="edgeface-history-") if directory is None else directory)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise EdgefaceError(f"cannot create the events folder {self.directory}: {err.strerror}",
                                "set EDGEFACE_EVENTS_DIR to a writable folder") from err
        self.engine = open_database(self.directory)
        legacy.import_jsonl(self.engine, self.directory, SNAPSHOTS)    # an older pod's events, once
        with self.engine.begin() as conn:       # a restart ends every visit that was open
            conn.execute(update(events).where(events.c.ended.is_(False)).values(ended=True))
        self.visits = VisitAggregator(gap_s, tolerance)
        self.strangers = Strangers(self.engine, stranger_distance)   # repeat strangers' ids
        self.clips = ClipStore(self.engine, self.directory)          # started by whoever records clips
        self.retention_days, self.max_bytes, self.max_events = retention_days, int(max_mb * (1 << 20)), max_events
        self.snapshot_margin, self.jpeg_quality = snapshot_margin, jpeg_quality
        self.counts: dict[tuple[str, bool], int] = {}    # (camera, named) -> recognitions since start
        self.dropped = 0                 # recognitions/sightings the writer could not keep up with
        self.write_errors = 0
        self._queue: queue.Queue[Any] = queue.Queue(QUEUE_MAX)
        self._counts_lock = threading.Lock()
        self._errors = LogOnChange(repeat_s=60.0)
        self._listeners: list[Callable[[str, Visit], object]] = []
        self._next_retention = 0.0

    # -- camera threads: never block ------------------------------------------------------------
    def record(self, event: RecognitionEvent) -> None:
        with self._counts_lock:
            key = (event.camera, event.name != UNKNOWN)
            self.counts[key] = self.counts.get(key, 0) + 1
        self._put(event)

    def seen(self, sightings: list[Sighting]) -> None:
        if sightings:
            self._put(sightings)

    def _put(self, item: Any) -> None:
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self.dropped += 1

    def subscribe(self, listener: Callable[[str, Visit], object]) -> None:
        """``listener(kind, visit)`` on the writer thread for each visit ``start``/``update``/``end``."""
        self._listeners.append(listener)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything queued so far is written (tests, shutdown); False on timeout."""
        done = threading.Event()
        self._put(done)
        return done.wait(timeout)

    # -- the writer thread --------------------------------------------------------------------
    def run(self) -> None:
        while not self.stopping:
            try:
                item = self._queue.get(timeout=1.0)
            except queue.Empty:
                item = None
            try:
                self._handle(item)
            except (OSError, SQLAlchemyError) as err:     # a full disk: this write is lost, recognition goes on
                self.write_errors += 1
                if self._errors.fresh(f"{err.__class__.__name__}: {err}"):
                    log.warning("history: cannot write (%d failures so far): %s", self.write_errors, err)
            except Exception:
                self.write_errors += 1
                log.exception("history: unexpected error")

    def _wake(self) -> None:
        self._put(None)

    def _handle(self, item: Any) -> None:
        if isinstance(item, RecognitionEvent):
            self._on_event(item)
        elif isinstance(item, list):
            for sighting in item:
                self._on_sighting(sighting)
        elif isinstance(item, threading.Event):
            item.set()
        elif isinstance(item, _OnWriter):
            item.run()
        now = time.time()
        for visit in self.visits.expire(now):
            self._write(visit, ended=True)
            self._tell("end", visit.id)
        if now >= self._next_retention:
            self._next_retention = now + RETENTION_EVERY_S
            self.enforce_retention(now)

    def enforce_retention(self, now: float | None = None) -> int:
        return retention.enforce(self.engine, self.directory, time.time() if now is None else now,
                                 self.retention_days, self.max_bytes, self.max_events, keep=set(self.visits.open))

    def _on_event(self, ev: RecognitionEvent) -> None:
        change = self.visits.on_event(ev)
        if change.merged_away:
            with self.engine.begin() as conn:
                rows = conn.execute(select(events.c.id, events.c.face_path, events.c.frame_path)
                                    .where(events.c.id == change.merged_away)).all()
                retention.remove(conn, self.directory, rows)
        crop = _decode(ev.snapshot)
        self._offer(change.visit, crop, ev.frame, list(ev.box), ev.embedding, snapshot=ev.snapshot, hide=ev.hide)
        self._write(change.visit, kind=change.kind)

    def _on_sighting(self, s: Sighting) -> None:
        visit = self.visits.on_sighting(s)
        if visit is None:
            return
        # Only pixels decoded already: a still scene's frames are not decoded, and need not be for this.
        if s.shot is not None:       # cropped from the identify stream: the same face, more pixels
            crop: np.ndarray | None = s.shot
        else:
            bgr = _pixels(s.frame) if getattr(s.frame, "decoded", True) else None
            crop = None if bgr is None else self._crop(bgr, s.box)
        improved = crop is not None and self._offer(visit, crop, s.frame, list(s.box), None, hide=s.hide)
        if improved or visit.last_seen - visit.written_at >= ROW_REFRESH_S:
            self._write(visit, kind="update")

    def _crop(self, bgr: np.ndarray, box) -> np.ndarray:
        top, right, bottom, left = box
        h, w = bgr.shape[:2]
        my, mx = int((bottom - top) * self.snapshot_margin), int((right - left) * self.snapshot_margin)
        return bgr[max(0, top - my):min(h, bottom + my), max(0, left - mx):min(w, right + mx)]

    def _offer(self, visit: OpenVisit, crop: np.ndarray | None, frame: Any, box: list[int],
               embedding: np.ndarray | None, snapshot: bytes | None = None, hide: list | None = None) -> bool:
        """Keep this look as the visit's snapshot if it beats the best so far; True if it did. The
        faces in ``hide`` (the camera's privacy) are blurred in both files before they are written."""
        if crop is None or crop.size == 0:
            return False
        score = shot_score(crop)
        if score <= visit.score:
            return False
        if hide:
            bgr = _pixels(frame)
            if bgr is None:
                return False       # nothing to blur with: no snapshot rather than one that shows the face
            bgr = blur_boxes(bgr, hide)
            face = encode_jpeg(np.ascontiguousarray(self._crop(bgr, box)), self.jpeg_quality)
            whole: bytes | None = encode_jpeg(bgr, self.jpeg_quality)
        else:
            face = snapshot or encode_jpeg(np.ascontiguousarray(crop), self.jpeg_quality)
            whole = _frame_jpeg(frame, self.jpeg_quality)
        day = datetime.fromtimestamp(visit.started_at, timezone.utc).strftime("%Y-%m-%d")
        folder = self.directory / SNAPSHOTS / day
        folder.mkdir(parents=True, exist_ok=True)
        # New names for each look: a reader holding the row's paths gets one look's face and
        # frame, never the new face beside the old frame; the old pair goes once the row moves on.
        visit.looks += 1
        stem = f"{visit.id}.{visit.looks}"
        _write_file(folder / f"{stem}.face.jpg", face)
        if whole is not None:
            _write_file(folder / f"{stem}.frame.jpg", whole)
        visit.stale += [rel for rel in (visit.face_path, visit.frame_path) if rel]
        visit.score, visit.box = score, box
        visit.face_path = f"{SNAPSHOTS}/{day}/{stem}.face.jpg"
        visit.frame_path = f"{SNAPSHOTS}/{day}/{stem}.frame.jpg" if whole else None
        visit.bytes = len(face) + (len(whole) if whole else 0)
        if embedding is not None:
            visit.best_embedding = embedding
        return True

    def _write(self, visit: OpenVisit, kind: str = "update", ended: bool = False) -> None:
        values: dict[str, Any] = dict(
            camera=visit.camera, name=visit.name, unknown=visit.unknown, started_at=visit.started_at,
            last_seen=visit.last_seen, ended=ended, best_distance=visit.best_distance,
            box=json.dumps(visit.box) if visit.box else None, tracks=json.dumps(visit.tracks),
            model_version=visit.model_version, score=max(visit.score, 0.0),
            model_versions=json.dumps(visit.model_versions) if len(visit.model_versions) > 1 else None,
            face_path=visit.face_path, frame_path=visit.frame_path, bytes=visit.bytes)
        embedding = visit.embedding if visit.best_embedding is None else visit.best_embedding
        if embedding is not None:
            values["embedding"] = np.asarray(embedding, np.float32).tobytes()
        if visit.unknown and visit.stranger is None and visit.embedding is not None:
            visit.stranger = self.strangers.assign(visit.embedding)    # its first look, once
        values["stranger"] = visit.stranger if visit.unknown else None   # named since: nobody's stranger
        with self.engine.begin() as conn:
            done = conn.execute(update(events).where(events.c.id == visit.id).values(**values)).rowcount
            if not done:
                conn.execute(insert(events).values(id=visit.id, **values))
        visit.written_at = visit.last_seen
        for rel in visit.stale:
            (self.directory / rel).unlink(missing_ok=True)
        visit.stale.clear()
        if not ended:
            self._tell(kind, visit.id)

    def _tell(self, kind: str, visit_id: str) -> None:
        if not self._listeners:
            return
        visit = self.get(visit_id)
        for listener in self._listeners:
            if visit is not None:
                try:
                    listener(kind, visit)
                except Exception:
                    log.exception("history: a visit listener failed")

    def _closed(self) -> None:
        self.clips.close()           # what it has queued is written before the database closes
        self.engine.dispose()
        if self._temporary:
            shutil.rmtree(self.directory, ignore_errors=True)

    # -- reading (any thread) ---------------------------------------------------------------------
    def query(self, q: EventQuery | None = None, **filters: Any) -> Page:
        """Newest first, ``q.limit`` at most; ``next_cursor`` continues after the last one.
        ``query(camera=..., limit=...)`` is ``query(EventQuery(camera=..., limit=...))``."""
        q = q or EventQuery(**filters)
        conds = filter_conditions(q)
        if q.cursor:
            started, last_id = decode_cursor(q.cursor)
            conds.append(tuple_(events.c.started_at, events.c.id) < tuple_(started, last_id))
        stmt = (select(events).where(and_(True, *conds))
                .order_by(events.c.started_at.desc(), events.c.id.desc()).limit(q.limit + 1))
        with self.engine.connect() as conn:
            rows = conn.execute(stmt).all()
        visits = [Visit.from_row(r, self.visits.gap_s) for r in rows[:q.limit]]
        more = len(rows) > q.limit
        return Page(visits, encode_cursor(visits[-1]) if more and visits else None)

    def get(self, visit_id: str) -> Visit | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(events).where(events.c.id == visit_id)).first()
        return None if row is None else Visit.from_row(row, self.visits.gap_s)

    def image(self, visit_id: str, kind: str) -> bytes | None:
        """``kind``: ``snapshot`` (the face with margin) or ``frame`` (the whole context frame)."""
        column = events.c[KINDS[kind]]
        with self.engine.connect() as conn:
            rel = conn.execute(select(column).where(events.c.id == visit_id)).scalar_one_or_none()
        return self._read(rel)

    def _read(self, rel: str | None) -> bytes | None:
        if not rel:
            return None
        try:
            return (self.directory / rel).read_bytes()
        except OSError:
            return None

    def training_candidate(self, visit_id: str) -> tuple[bytes | None, bytes | None, list[float] | None]:
        """The face, the frame and the embedding of a visit (for a label's capture)."""
        with self.engine.connect() as conn:     # both paths in one read: one look's pair
            row = conn.execute(select(events.c.embedding, events.c.face_path, events.c.frame_path)
                               .where(events.c.id == visit_id)).first()
        if row is None:
            return None, None, None
        embedding = np.frombuffer(row.embedding, np.float32).tolist() if row.embedding else None
        return self._read(row.face_path), self._read(row.frame_path), embedding

    def embeddings(self, visit_ids: Collection[str]) -> dict[str, np.ndarray]:
        """The best look's embedding of each of these visits that has one (for the "local" tag)."""
        if not visit_ids:
            return {}
        with self.engine.connect() as conn:
            rows = conn.execute(select(events.c.id, events.c.embedding).where(events.c.id.in_(list(visit_ids)))).all()
        return {row.id: np.frombuffer(row.embedding, np.float32) for row in rows if row.embedding}

    def label(self, visit_id: str, name: str, role: str) -> Visit | None:
        with self.engine.begin() as conn:
            done = conn.execute(update(events).where(events.c.id == visit_id)
                                .values(label=name, labelled_by_role=role, labelled_at=time.time())).rowcount
        return self.get(visit_id) if done else None

    def on_writer(self, fn: Callable[[], object], timeout: float = 10.0) -> None:
        """Run ``fn`` on the writer thread, which owns the open visits, and wait for it; directly
        when the writer is not running or does not get to it in time (a full queue)."""
        job = _OnWriter(fn)
        if self.is_alive():
            self._put(job)
            if job.done.wait(timeout):
                return
        job.run()

    def merge_strangers(self, group: int, into: int) -> bool:
        """Two repeat strangers are one person: ``group``'s visits, open ones too, join ``into``
        (on the writer thread, which owns both); False when either is unknown."""
        merged: list[bool] = []

        def merge() -> None:
            merged.append(self.strangers.merge(group, into))
            for visit in self.visits.open.values():
                if merged[0] and visit.stranger == group:
                    visit.stranger = into
        self.on_writer(merge)
        return merged[0]

    def delete_person(self, name: str) -> int:
        """Every visit named ``name`` or labelled so, with its snapshots and clips; how many."""
        return self.forget_person(name)[0]

    def forget_person(self, name: str) -> tuple[int, int, int]:
        """Every visit named ``name`` or labelled so, with its snapshots and the clips that show it:
        (visits, snapshot files, clips) deleted."""
        self.on_writer(lambda: self.visits.forget(name))
        self.strangers.forget(name)
        with self.engine.begin() as conn:
            rows = conn.execute(select(events.c.id, events.c.camera, events.c.started_at, events.c.last_seen,
                                       events.c.face_path, events.c.frame_path)
                                .where(or_(events.c.name == name, events.c.label == name))).all()
            files = sum(1 for r in rows for rel in (r.face_path, r.frame_path)
                        if rel and (self.directory / rel).exists())
            shown = clips.remove_showing(conn, self.directory, rows)
            return retention.remove(conn, self.directory, rows), files, shown

    def visit_clips(self, visit_id: str) -> list[Clip]:
        """The clips of a visit: its camera's that overlap its time span, oldest first."""
        visit = self.get(visit_id)
        return [] if visit is None else self.clips.overlapping(visit.camera, visit.started_at, visit.last_seen)

    def people(self) -> dict[str, tuple[int, float]]:
        """name -> (visits, last seen) for every named person in the history."""
        stmt = (select(events.c.name, func.count(), func.max(events.c.last_seen))
                .where(events.c.unknown.is_(False)).group_by(events.c.name))
        with self.engine.connect() as conn:
            return {name: (count, last) for name, count, last in conn.execute(stmt)}

    def person_cameras(self, name: str) -> list[dict[str, Any]]:
        stmt = (select(events.c.camera, func.count(), func.max(events.c.last_seen))
                .where(or_(events.c.name == name, events.c.label == name)).group_by(events.c.camera)
                .order_by(func.max(events.c.last_seen).desc()))
        with self.engine.connect() as conn:
            rows = conn.execute(stmt).all()
        return [{"camera": camera, "visits": count, "last_seen": last} for camera, count, last in rows]

    def size_bytes(self) -> int:
        with self.engine.connect() as conn:
            return retention.history_bytes(conn)


class _OnWriter:
    """A call for the writer thread (``History.on_writer``); runs once, wherever it runs first."""

    def __init__(self, fn: Callable[[], object]):
        self.fn, self.done, self._lock = fn, threading.Event(), threading.Lock()

    def run(self) -> None:
        with self._lock:
            if not self.done.is_set():
                self.fn()
                self.done.set()


def encode_cursor(visit: Visit) -> str:
    return base64.urlsafe_b64encode(f"{visit.started_at!r}|{visit.id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, str]:
    """Raises ValueError for anything ``encode_cursor`` did not make."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        started, visit_id = text.split("|", 1)
        value = float(started)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ValueError(f"{cursor[:40]!r} is not a cursor") from None
    if not np.isfinite(value) or not visit_id:
        raise ValueError(f"{cursor[:40]!r} is not a cursor")
    return value, visit_id


def _decode(jpeg: bytes | None) -> np.ndarray | None:
    if not jpeg:
        return None
    try:
        return decode_jpeg(jpeg)
    except Exception:  # noqa: BLE001 - a bad snapshot only loses the snapshot
        return None


def _pixels(frame: Any) -> np.ndarray | None:
    try:
        return getattr(frame, "bgr", None)
    except Exception:  # noqa: BLE001 - a corrupt camera JPEG
        return None


def _frame_jpeg(frame: Any, quality: int) -> bytes | None:
    """The camera's own JPEG when it sent one, else the decoded pixels encoded (not cached on the frame)."""
    jpeg = getattr(frame, "jpeg", None)
    if jpeg:
        return jpeg
    bgr = _pixels(frame)
    return None if bgr is None else encode_jpeg(np.ascontiguousarray(bgr), quality)


def _write_file(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).isoformat(timespec="milliseconds")


def filter_conditions(q: EventQuery) -> list:
    """The WHERE terms of a query's filters (not its cursor)."""
    conds = [column == value for column, value in ((events.c.camera, q.camera),
                                                   (events.c.model_version, q.model_version)) if value is not None]
    if q.name:
        conds.append(name_search(q.name))
    if q.cameras is not None:
        conds.append(events.c.camera.in_(q.cameras))
    if q.reviewed is not None:
        conds.append(events.c.reviewed_at.is_not(None) if q.reviewed else events.c.reviewed_at.is_(None))
    if q.unknown is not None:
        conds.append(events.c.unknown.is_(q.unknown))
    if q.since is not None:
        conds.append(events.c.started_at >= q.since)
    if q.until is not None:
        conds.append(events.c.started_at <= q.until)
    return conds


def name_search(text: str):
    """A name or an operator's label that starts with ``text``, or has a word that does, in any
    case: "lin" finds "Lin-Manuel Miranda", "miranda" too. (SQLite folds ASCII letters only.)"""
    pattern = text.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    terms = []
    for column in (events.c.name, events.c.label):
        folded = func.lower(column)
        terms += [folded.like(pattern + "%", escape="\\"), folded.like("% " + pattern + "%", escape="\\"),
                  folded.like("%-" + pattern + "%", escape="\\")]
    return or_(*terms)
