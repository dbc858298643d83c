"""Shared detection/encoding threads for all cameras: a job in, a result out.

dlib work is what costs (tens of ms per detection, ~100 ms per encoding), and dlib releases the
GIL only partly, so all cameras share a small pool sized to the cores instead of one thread
each. Every camera has at most one job queued or running: a camera that falls behind skips
analysis of stale frames rather than building a backlog, and the FIFO queue gives round-robin
fairness between cameras.

The flow is one way. A camera's pipeline submits an :class:`AnalysisJob` — the frame and a
private snapshot of its tracks — and gets a ``Future``; the job detects faces, associates them
with the snapshot's tracks, encodes and matches the ones due, all in one round trip (a second
trip for the encodings would add a queue wait to every new face's first name). The pipeline
adopts the updated tracks on its own thread; nothing here touches a pipeline.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field

import cv2
import numpy as np

from edgeface.engine import Box, Engine
from edgeface.images import bgr_to_rgb, decode_jpeg, encode_jpeg
from edgeface.lifecycle import LogOnChange
from edgeface.live.events import RecognitionEvent
from edgeface.live.metrics import StageTimes
from edgeface.live.modelwatch import LoadedModel, ModelHolder
from edgeface.live.settings import LiveSettings
from edgeface.live.tracking import Track, TrackSet, appearance, grown, look_alike, same_place

log = logging.getLogger(__name__)

#: With no face in the scaled copy, the whole frame is searched at full resolution at most this
#: often (a search costs ~1.8 scaled ones): small faces arriving in a scene are found this late.
SWEEP_S = 1.0
#: Around a track, the detector looks at its predicted box grown by this many face widths on every
#: side, with the region's corner on a multiple of ``REGION_ALIGN_PX`` (HOG's cells then fall as in
#: a whole-frame search). On the sample clip it finds 56 of the 57 faces the whole-frame search
#: finds, for 20 ms instead of 54; magnified crops found fewer (interpolation blurs the gradients).
REGION_GROW = 1.5
REGION_ALIGN_PX = 16
#: A large face's region is scaled down until the face is this wide where the detector scans it.
REGION_FACE_PX = 100

@dataclass
class AnalysisJob:
    camera_id: str
    frame: object                 # has ``time`` and ``jpeg`` and/or ``bgr`` (see ``frame_bgr``)
    tracks: TrackSet              # the camera's tracks when submitted: a snapshot, ours to update
    lead_s: float = 0.0           # new tracks may be drawn this long before the frame (delayed output)
    urgent: bool = False          # the first frame of a new scene: jumps the queue
    analysed_at: float = float("-inf")   # frame time of the camera's newest analysis: the oldest goes first
    min_face_px: int = 0          # narrower faces are drawn, never named (too small to name reliably)
    motion: Box | None = None     # where the scene moved since the last detection, away from the tracks


@dataclass
class AnalysisResult:
    frame_time: float
    tracks: TrackSet | None       # the updated snapshot; None: nothing was analysed (no model, undecodable)
    model: LoadedModel | None = None
    encodings: int = 0
    events: list[RecognitionEvent] = field(default_factory=list)   # with snapshots

    @property
    def detected(self) -> bool:
        return self.tracks is not None


class Analyzer:
    """Runs jobs on ``threads`` worker threads; with ``threads=0`` jobs run inline in ``submit``
    (deterministic, for benchmarks and tests) and its future is done when ``submit`` returns."""

    def __init__(self, engine: Engine, models: ModelHolder, threads: int = 2, stages: StageTimes | None = None):
        self.engine = engine
        self.models = models
        self.stages = stages or StageTimes()
        self.inline = threads == 0
        self.failures = 0
        self._failures_lock = threading.Lock()
        self._errors = LogOnChange(repeat_s=60.0)
        # (priority, analysed_at, order, job, future): urgent jobs jump the queue; then the camera
        # whose newest analysis is oldest goes first (fair when the cores cannot keep up); the
        # order number keeps FIFO within a tie and never compares jobs.
        self._queue: queue.PriorityQueue = queue.PriorityQueue()
        self._order = itertools.count()
        self._closed = False
        self._threads = [threading.Thread(target=self._run, name=f"analyzer-{i}", daemon=True)
                         for i in range(threads)]
        for t in self._threads:
            t.start()

    def submit(self, job: AnalysisJob) -> Future[AnalysisResult]:
        future: Future[AnalysisResult] = Future()
        if self.inline:
            self._call(job, future)
        else:
            self._queue.put((0 if job.urgent else 1, job.analysed_at, next(self._order), job, future))
        return future

    def queue_depth(self) -> int:
        return self._queue.qsize()

    def _call(self, job: AnalysisJob, future: Future[AnalysisResult]) -> None:
        if not future.set_running_or_notify_cancel():
            return                               # cancelled while queued (a scene cut made it stale)
        try:
            future.set_result(self.analyze(job))
        except Exception as err:  # noqa: BLE001 - one bad frame must not stop analysis for every camera
            self._report(err)
            future.set_exception(err)

    def analyze(self, job: AnalysisJob) -> AnalysisResult:
        """Detect → associate with the job's tracks → encode the tracks due, verify that each is
        still the face it was (else a new track takes its place) and match → events."""
        t = job.frame.time              # type: ignore[attr-defined]
        loaded = self.models.current()
        bgr = None if loaded is None else frame_bgr(job.frame, self.stages)
        if loaded is None or bgr is None:
            return AnalysisResult(t, None)
        rgb = bgr_to_rgb(bgr)
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)     # ~0.1 ms: looks compare faces without encoding
        tracks = job.tracks
        boxes = self._find_faces(rgb, gray, tracks, t, job.urgent or job.analysed_at == float("-inf"), job.motion)
        with self.stages.timed("track"):
            tracks.update(boxes, t, job.lead_s)
            due = tracks.due_for_encoding(t, loaded.generation, job.min_face_px,
                                           lambda before, box: look_alike(before, gray, box))
        result = AnalysisResult(t, tracks, loaded, len(due))
        if not due:
            return result
        due_boxes = [tr.box for tr in due]
        encodings = self.engine.encode(rgb, due_boxes)
        settings = tracks.settings
        with self.stages.timed("match"):
            alone = loaded.matcher.match(encodings, margin=settings.match_margin)
            due = [tracks.verify(tr, vector, t, match.name) for tr, vector, match in zip(due, encodings, alone)]
            probes = np.stack([tr.probe(vector) for tr, vector in zip(due, encodings)])
            matches = loaded.matcher.match(probes, margin=settings.match_margin)
        for tr, box, match in zip(due, due_boxes, matches):
            tr.look = appearance(gray, box)
            if tracks.apply(tr, match, t, loaded.generation):
                result.events.append(RecognitionEvent(
                    camera=job.camera_id, name=tr.name or "", distance=match.distance, box=list(box),
                    time=time.time(), track=tr.id, model_version=loaded.version,
                    snapshot=snapshot_jpeg(bgr, box, settings.snapshot_margin, settings.jpeg_quality)))
        return result

    def _find_faces(self, rgb: np.ndarray, gray: np.ndarray, tracks: TrackSet, t: float,
                    new_scene: bool, motion: Box | None = None) -> list[Box]:
        """Faces in the frame. With no face tracked, the whole frame at most every
        ``empty_search_interval_s``. With faces tracked, between whole-frame searches (every
        ``full_search_interval_s``, and at a scene's start): only where the tracks are
        (``_around_tracks``) and where something moved away from them — unless that is more than
        ``motion_search_max_share`` of the frame (the camera moved, a pan or a zoom: the next
        whole-frame search will do). A whole-frame search,
        then where a tracked face was missed, its look."""
        settings = tracks.settings
        live = [tr for tr in tracks.tracks if tr.ended_at > t]
        if not live and not new_scene and t - tracks.searched_at < settings.empty_search_interval_s:
            return []                  # nobody here half a second ago: a newcomer is found at the next look
        if live and not new_scene and t - tracks.searched_at < settings.full_search_interval_s:
            boxes = self._around_tracks(rgb, gray, live, t, settings)
            if motion is not None and _area(motion) < settings.motion_search_max_share * rgb.shape[0] * rgb.shape[1]:
                boxes += [b for b in self._magnified(rgb, _aligned(grown(motion, 0.25, rgb.shape)), 1.0)
                          if not any(same_place(b, o) for o in boxes)]
            return boxes
        tracks.searched_at = t
        boxes = self._whole_frame(rgb, tracks, t, new_scene)
        return boxes + [box for tr in live if not any(tr.joins(b, t) <= settings.max_jump for b in boxes)
                        for box in [_by_look(gray, tr, t, settings.same_look)] if box is not None]

    def _whole_frame(self, rgb: np.ndarray, tracks: TrackSet, t: float, new_scene: bool) -> list[Box]:
        """The scaled copy first (cheap), then full resolution where it may have missed small
        ones — the whole frame when it found nothing at the start of a scene or at most every
        ``SWEEP_S`` after, and a crop around every live track it did not find again (a small face
        the full-resolution look found is kept track of)."""
        boxes = self.engine.detect(rgb)
        factor = 1 / tracks.settings.detect_scale        # the engine scales by detect_scale: net full resolution
        if factor <= 1:
            return boxes
        if not boxes and (new_scene or t - tracks.swept_at >= SWEEP_S):
            tracks.swept_at = t
            return self._magnified(rgb, (0, rgb.shape[1], rgb.shape[0], 0), factor)
        max_jump = tracks.settings.max_jump
        for tr in tracks.tracks:
            if tr.ended_at > t and not any(tr.joins(b, t) <= max_jump for b in boxes):
                boxes += [b for b in self._magnified(rgb, grown(tr.predicted_box(t), 1.0, rgb.shape), factor)
                          if tr.joins(b, t) <= max_jump]
        return boxes

    def _around_tracks(self, rgb: np.ndarray, gray: np.ndarray, live: list[Track], t: float,
                       settings: LiveSettings) -> list[Box]:
        """Each track's face: followed by its look where it still looks as at its last encoding
        (~0.1 ms), else looked for by the detector in a region around where it is predicted, at
        the scale it likes best (``REGION_*``, ~20 ms); a face two regions found counts once."""
        engine_factor, max_jump = settings.detect_scale * 2 ** settings.upsample, settings.max_jump
        boxes: list[Box] = []
        for tr in live:
            followed = _by_look(gray, tr, t, settings.same_look)
            if followed is not None:
                boxes.append(followed)
                continue
            box = tr.predicted_box(t)
            factor = min(1.0, REGION_FACE_PX / max(1, box[1] - box[3]) / engine_factor)
            boxes += [b for b in self._magnified(rgb, _aligned(grown(box, REGION_GROW, rgb.shape)), factor)
                      if tr.joins(b, t) <= max_jump and not any(same_place(b, o) for o in boxes)]
        return boxes

    def _magnified(self, rgb: np.ndarray, region: Box, factor: float) -> list[Box]:
        """Faces in ``region`` of ``rgb``, looked for on a copy scaled by ``factor``, in ``rgb``'s pixels."""
        top, right, bottom, left = region
        crop = rgb[top:bottom, left:right]
        if factor != 1:
            crop = cv2.resize(crop, None, fx=factor, fy=factor,
                              interpolation=cv2.INTER_LINEAR if factor > 1 else cv2.INTER_AREA)
        return [(top + round(b[0] / factor), left + round(b[1] / factor), top + round(b[2] / factor),
                 left + round(b[3] / factor)) for b in self.engine.detect(crop)]

    def _report(self, err: Exception) -> None:
        """Log a failure; the same one again only once a minute (it may recur on every frame)."""
        text = f"{err.__class__.__name__}: {err}"
        with self._failures_lock:
            self.failures += 1
        if self._errors.fresh(text):
            log.error("analysis failed (%d so far): %s", self.failures, text, exc_info=err)

    def _run(self) -> None:
        while True:
            *_, job, future = self._queue.get()
            if job is None:
                return
            self._call(job, future)

    def close(self) -> None:
        """Stop the threads once their current jobs end; queued ones are dropped (idempotent)."""
        if self._closed:
            return
        self._closed = True
        for _ in self._threads:
            self._queue.put((-1, 0.0, next(self._order), None, None))
        for t in self._threads:
            t.join(timeout=10)


class TimedEngine:
    """An in-process engine whose detect/encode times are recorded (``ProcessEngine`` records
    the times its children report)."""

    def __init__(self, engine: Engine, stages: StageTimes):
        self.engine = engine
        self.stages = stages

    def detect(self, rgb: np.ndarray) -> list[tuple[int, int, int, int]]:
        with self.stages.timed("detect"):
            return self.engine.detect(rgb)

    def encode(self, rgb: np.ndarray, boxes: list[tuple[int, int, int, int]]) -> np.ndarray:
        with self.stages.timed("encode"):
            return self.engine.encode(rgb, boxes)

    def close(self) -> None:
        self.engine.close()


def frame_bgr(frame, stages: StageTimes) -> np.ndarray | None:
    """The decoded frame (None when undecodable), timing the decode when this call does it."""
    if getattr(frame, "decoded", True):       # decoded already, or a frame that carries pixels
        return _decode(frame)
    with stages.timed("decode"):
        return _decode(frame)


def _decode(frame) -> np.ndarray | None:
    """Camera ``Frame`` objects decode once and cache (``bgr`` property)."""
    try:
        bgr = getattr(frame, "bgr", None)
    except Exception:  # noqa: BLE001 - a corrupt JPEG is the camera's fault, not ours
        bgr = None
    if bgr is None and getattr(frame, "jpeg", None):
        bgr = decode_jpeg(frame.jpeg)
    return bgr


def _aligned(region: Box) -> Box:
    """``region`` with its top-left corner moved onto the ``REGION_ALIGN_PX`` grid."""
    top, right, bottom, left = region
    return top - top % REGION_ALIGN_PX, right, bottom, left - left % REGION_ALIGN_PX


def _area(box: Box) -> int:
    return max(0, box[1] - box[3]) * max(0, box[2] - box[0])


def _by_look(gray: np.ndarray, tr: Track, t: float, same_look: float) -> Box | None:
    """Where ``tr``'s face is in ``gray`` if it still looks as it did at its last encoding
    (searched a little around where it is predicted; see ``look_alike``); None when it does not,
    or when the track lost its name since (it must be found and encoded again)."""
    if tr.look is None or tr.named_until < float("inf"):
        return None
    score, box = look_alike(tr.look, gray, tr.predicted_box(t))
    return box if score >= same_look else None


def snapshot_jpeg(bgr: np.ndarray, box, margin: float, quality: int) -> bytes:
    """The face with some context around it, as JPEG (the event's thumbnail)."""
    top, right, bottom, left = box
    h, w = bgr.shape[:2]
    my, mx = int((bottom - top) * margin), int((right - left) * margin)
    crop = bgr[max(0, top - my):min(h, bottom + my), max(0, left - mx):min(w, right + mx)]
    return encode_jpeg(np.ascontiguousarray(crop), quality)
