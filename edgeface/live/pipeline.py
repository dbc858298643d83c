"""Per-camera recognition: frames in, annotated frames and recognition events out.

``FramePipeline.process(frame)`` never waits for dlib: when a detection is due (periodically, at
once after a scene cut, never while nothing moves) it hands the frame to the shared
:class:`Analyzer` and draws the current tracks (moved along their velocity) on this frame.
Frames without faces pass through as the camera's own JPEG — no decode, no re-encode.
Usable without Flask: the web app's camera workers and the benchmark both drive it.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from edgeface.images import bgr_to_rgb, decode_jpeg, encode_jpeg
from edgeface.live.analyzer import Analyzer
from edgeface.live.annotate import FaceLabel, describe, draw_faces
from edgeface.live.events import RecognitionEvent
from edgeface.live.scenecut import CutDetector, moved
from edgeface.live.settings import LiveSettings
from edgeface.live.tracking import PENDING, Track, TrackSet


@dataclass
class FrameResult:
    seq: int
    time: float
    faces: list[FaceLabel]
    events: list[RecognitionEvent]     # recorded since the previous process() call
    jpeg: bytes | None                 # annotated frame (None when render=False or undecodable)


@dataclass
class PipelineStats:
    frames: int = 0
    detections: int = 0
    encodings: int = 0
    still_skips: int = 0               # periodic detections not needed: nothing moved since the last
    undecodable: int = 0


class FramePipeline:
    """One camera's tracks. ``process`` is called from one thread; analysis results arrive from
    analyzer threads; a lock keeps the two apart."""

    def __init__(self, camera_id: str, analyzer: Analyzer, settings: LiveSettings | None = None,
                 on_event: Callable[[RecognitionEvent], None] | None = None):
        self.camera_id = camera_id
        self.analyzer = analyzer
        self.settings = settings or LiveSettings()
        self.on_event = on_event
        self.tracks = TrackSet(self.settings)
        self.stats = PipelineStats()
        self._lock = threading.Lock()
        self._busy = False                 # a job of ours is queued or running
        self._last_submit = float("-inf")
        self._new_events: list[RecognitionEvent] = []
        self._cuts = CutDetector()
        self._cut_frame = None             # the first frame of a new scene, until it is analysed
        self._detected_thumb = None        # thumbnail of the last frame sent to detection
        self._buffer: deque = deque(maxlen=256)   # frames waiting out output_delay_s
        self._analysed_at = float("-inf")           # frame time of the last detection pass

    # -- camera thread -------------------------------------------------------------------------
    def process(self, frame, *, render: bool = True) -> FrameResult:
        """``frame``: anything with ``seq``, ``time`` (monotonic s), ``jpeg`` and/or ``bgr``.

        Returns this frame annotated — or, with ``output_delay_s``, the frame that arrived that
        long ago (``seq``/``time`` say which; ``jpeg`` is None while the delay fills up)."""
        t = frame.time
        with self.analyzer.stages.timed("cut"):
            cut = self._cuts.is_cut(frame)
        if cut:
            with self._lock:
                self.tracks.cut(t)
            self._cut_frame = frame
        if self._detection_due(t):
            self._detect(frame)
        shown = self._delayed(frame)
        with self._lock:
            self.tracks.expire(t)
            faces = [] if shown is None else self._labels(shown.time)
            events, self._new_events = self._new_events, []
        self.stats.frames += 1
        if shown is None:
            return FrameResult(frame.seq, t, [], events, None)
        jpeg = self._render(shown, faces) if render else None
        return FrameResult(shown.seq, shown.time, faces, events, jpeg)

    def _delayed(self, frame):
        """The frame to show now: this one, or the oldest buffered one that is ``output_delay_s`` old."""
        delay = self.settings.output_delay_s
        if delay <= 0:
            return frame
        self._buffer.append(frame)
        while self._buffer[0].time < frame.time - delay - 1.0:    # left from before a camera outage
            self._buffer.popleft()
        if self._buffer[0].time <= frame.time - delay:
            return self._buffer.popleft()
        return None

    def _labels(self, t: float) -> list[FaceLabel]:
        return [_label(tr, t) for tr in self.tracks.tracks if tr.visible_at(t, self.settings.track_ttl_s)]

    def _detection_due(self, t: float) -> bool:
        return (not self._busy and self.analyzer.models.current() is not None
                and (self._cut_frame is not None or t - self._last_submit >= self.settings.detect_interval_s))

    def _detect(self, frame) -> None:
        """Hand a frame to the analyzer: the cut frame first if there is one — even if we were
        busy when it came, faces found there are drawn from the cut on (delayed output) and a new
        face's first look is its earliest — else this one, unless nothing moved since the last."""
        cut_frame, self._cut_frame = self._cut_frame, None
        if cut_frame is None and not moved(self._cuts.latest, self._detected_thumb):
            self._last_submit = frame.time            # a still scene: every face is where it was
            self.stats.still_skips += 1
            with self._lock:
                self.tracks.hold(frame.time)
            return
        target = frame if cut_frame is None else cut_frame
        self._busy, self._last_submit, self._detected_thumb = True, frame.time, self._cuts.latest
        self.analyzer.submit(lambda engine: self._analyze(engine, target), urgent=cut_frame is not None)

    def _render(self, frame, faces: list[FaceLabel]) -> bytes | None:
        jpeg = getattr(frame, "jpeg", None)
        if not faces and jpeg:
            return jpeg                       # nothing to draw: the camera's bytes are the output
        bgr = self._bgr(frame)
        if bgr is None:
            self.stats.undecodable += 1
            return None
        stages = self.analyzer.stages
        with stages.timed("annotate"):
            annotated = draw_faces(bgr.copy(), faces)
        with stages.timed("jpeg_out"):
            return describe(encode_jpeg(annotated, self.settings.jpeg_quality), jpeg, frame.time, faces)

    def _bgr(self, frame) -> np.ndarray | None:
        """The decoded frame, timing the decode when this call is the one that does it."""
        if getattr(frame, "decoded", True):       # decoded already, or a frame that carries pixels
            return _frame_bgr(frame)
        with self.analyzer.stages.timed("decode"):
            return _frame_bgr(frame)

    # -- analyzer thread -------------------------------------------------------------------------
    def _analyze(self, engine, frame) -> None:
        try:
            self._detect_and_identify(engine, frame)
        finally:
            self._busy = False

    def _detect_and_identify(self, engine, frame) -> None:
        loaded = self.analyzer.models.current()
        with self._lock:
            stale = self.tracks.last_cut() > frame.time
        if loaded is None or stale:
            return       # a cut came after this frame: its faces are gone, the cut frame is next
        bgr = self._bgr(frame)
        if bgr is None:
            return
        rgb = bgr_to_rgb(bgr)
        boxes = engine.detect(rgb)
        self.stats.detections += 1
        # With delayed output, a new face is drawn back to the previous analysed frame: it
        # appeared somewhere in between (not before a cut: the tracks know the cuts).
        lead = min(frame.time - self._analysed_at, self.settings.detect_interval_s * 2) \
            if self.settings.output_delay_s > 0 else 0.0
        self._analysed_at = frame.time
        with self._lock, self.analyzer.stages.timed("track"):
            self.tracks.update(boxes, frame.time, lead)
            due = self.tracks.due_for_encoding(frame.time, loaded.generation)
            due_boxes = [tr.box for tr in due]
        if not due:
            return
        encodings = engine.encode(rgb, due_boxes)
        with self.analyzer.stages.timed("match"):
            with self._lock:
                probes = np.stack([tr.probe(vector) for tr, vector in zip(due, encodings)])
            matches = loaded.matcher.match(probes)
        self.stats.encodings += len(due)
        news = []
        with self._lock:
            for tr, box, match in zip(due, due_boxes, matches):
                if self.tracks.apply(tr, match, frame.time, loaded.generation):
                    news.append(RecognitionEvent(
                        camera=self.camera_id, name=tr.name, distance=match.distance, box=list(box),
                        time=time.time(), track=tr.id, model_version=loaded.version))
        for ev in news:
            ev.snapshot = snapshot_jpeg(bgr, ev.box, self.settings.snapshot_margin, self.settings.jpeg_quality)
            if self.on_event:
                self.on_event(ev)
        with self._lock:
            self._new_events.extend(news)


def _label(tr: Track, t: float) -> FaceLabel:
    return FaceLabel(tr.id, tr.predicted_box(t), tr.state, None if tr.state == PENDING else tr.name, tr.distance)


def _frame_bgr(frame) -> np.ndarray | None:
    """The decoded frame; camera ``Frame`` objects decode once and cache (``bgr`` property)."""
    try:
        bgr = getattr(frame, "bgr", None)
    except Exception:  # noqa: BLE001 - a corrupt JPEG is the camera's fault, not ours
        bgr = None
    if bgr is None and getattr(frame, "jpeg", None):
        bgr = decode_jpeg(frame.jpeg)
    return bgr


def snapshot_jpeg(bgr: np.ndarray, box, margin: float, quality: int) -> bytes:
    """The face with some context around it, as JPEG (the event's thumbnail)."""
    top, right, bottom, left = box
    h, w = bgr.shape[:2]
    my, mx = int((bottom - top) * margin), int((right - left) * margin)
    crop = bgr[max(0, top - my):min(h, bottom + my), max(0, left - mx):min(w, right + mx)]
    return encode_jpeg(np.ascontiguousarray(crop), quality)
