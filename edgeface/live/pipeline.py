"""Per-camera recognition: frames in, annotated frames and recognition events out.

``FramePipeline.process(frame)`` never waits for dlib: when a detection is due (periodically, at
once after a scene cut, never while nothing moves) it submits the frame and a snapshot of its
tracks to the shared :class:`Analyzer`, and draws the current tracks (moved along their velocity)
on this frame. The analysis comes back as a result that the next ``process`` call adopts — on the
camera's thread, the only one that touches the tracks, stats and busy state.
Frames without faces pass through as the camera's own JPEG — no decode, no re-encode.
Usable without Flask: the web app's camera workers and the benchmark both drive it.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgeface.history.cameras import CameraOptions, apply_options
from edgeface.images import encode_jpeg
from edgeface.lifecycle import RateCounter
from edgeface.live.analyzer import AnalysisJob, AnalysisResult, Analyzer, frame_bgr
from edgeface.live.annotate import FaceLabel, describe, draw_faces
from edgeface.live.events import RecognitionEvent, Sighting, attach_context, sightings
from edgeface.live.metrics import StageTimes
from edgeface.live.modelwatch import ModelHolder
from edgeface.live.scenecut import THUMB_SCALE, CutDetector, moved, moved_outside
from edgeface.live.settings import LiveSettings
from edgeface.live.tracking import Track, TrackSet, TrackState


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
    """One camera's tracks. ``process`` is called from one thread, which alone touches the tracks;
    ``models`` and ``stages`` default to the analyzer's."""

    def __init__(self, camera_id: str, analyzer: Analyzer, settings: LiveSettings | None = None,
                 on_event: Callable[[RecognitionEvent], object] | None = None, *,
                 models: ModelHolder | None = None, stages: StageTimes | None = None,
                 on_sighting: Callable[[list[Sighting]], object] | None = None):
        self.camera_id = camera_id
        self.analyzer = analyzer
        self.models = models or analyzer.models
        self.stages = stages or analyzer.stages
        self.settings = settings or LiveSettings()
        self.on_event = on_event
        self.on_sighting = on_sighting     # reported tracks seen again (visit history)
        self.options = CameraOptions()     # the operator's settings; the service swaps in new ones
        self.tracks = TrackSet(self.settings)
        self.stats = PipelineStats()
        self._pending: Future[AnalysisResult] | None = None   # our job, queued or running
        self._pending_frame: Any = None    # its frame: the context of the events it finds
        self._last_submit = float("-inf")
        self._searched_at = float("-inf")           # frame time of the last frame really submitted
        self._new_events: list[RecognitionEvent] = []
        self._cuts = CutDetector()
        self._cut_frame: Any = None        # the first frame of a new scene, until it is analysed
        self._detected_thumb: np.ndarray | None = None   # thumbnail of the last frame sent to detection
        self._buffer: deque = deque(maxlen=256)   # frames waiting out output_delay_s
        self._analysed_at = float("-inf")           # frame time of the last detection pass
        self._looks = RateCounter(window_s=10.0)    # detections done, and skipped because nothing moved

    @property
    def busy(self) -> bool:
        """A job of ours is queued or running (at most one per camera)."""
        return self._pending is not None

    def process(self, frame, *, render: bool = True) -> FrameResult:
        """``frame``: anything with ``seq``, ``time`` (monotonic s), ``jpeg`` and/or ``bgr``.

        Returns this frame annotated — or, with ``output_delay_s``, the frame that arrived that
        long ago (``seq``/``time`` say which; ``jpeg`` is None while the delay fills up)."""
        t = frame.time
        self._collect()
        with self.stages.timed("cut"):
            cut = self._cuts.is_cut(frame)
        if cut:
            self.tracks.cut(t)
            self._cut_frame = frame
            if self._pending is not None and self._pending.cancel():
                self._pending = None       # still queued: its frame is from before the cut
        if self._detection_due(t):
            self._detect(frame)
            self._collect()                # inline analysis is done already
        shown = self._delayed(frame)
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
        stale_s = self.tracks.stale_s()
        return [_label(tr, t, stale_s) for tr in self.tracks.visible(t)]

    def _detection_due(self, t: float) -> bool:
        return (self._pending is None and self.models.current() is not None
                and self.options.recognition and self.options.enabled
                and (self._cut_frame is not None or t - self._last_submit >= self.settings.detect_interval_s))

    def _detect(self, frame) -> None:
        """Submit a frame for analysis: the cut frame first if there is one — even if we were
        busy when it came, faces found there are drawn from the cut on (delayed output) and a new
        face's first look is its earliest — else this one, unless nothing moved since the last."""
        cut_frame, self._cut_frame = self._cut_frame, None
        still = cut_frame is None and not moved(self._cuts.latest, self._detected_thumb)
        if still and frame.time - self._searched_at < self.settings.still_recheck_s:
            self._last_submit = frame.time            # a still scene: every face is where it was
            self.stats.still_skips += 1
            self._looks.tick(frame.time)
            self.tracks.hold(frame.time)
            self._sighted(self.tracks, frame.time, frame)      # still there: the visit goes on
            return
        target = frame if cut_frame is None else cut_frame
        motion = self._motion(frame.time) if cut_frame is None and self.settings.motion_search_max_share else None
        self._last_submit, self._detected_thumb = frame.time, self._cuts.latest
        self._searched_at = frame.time
        # With delayed output, a new face is drawn back to the previous analysed frame: it
        # appeared somewhere in between (not before a cut: the tracks know the cuts).
        lead = min(target.time - self._analysed_at, self.settings.detect_interval_s * 2) \
            if self.settings.output_delay_s > 0 else 0.0
        self._pending_frame = target
        self._pending = self.analyzer.submit(AnalysisJob(
            self.camera_id, target, self.tracks.snapshot(), lead, urgent=cut_frame is not None,
            analysed_at=self._analysed_at, min_face_px=self.options.min_face_px or self.settings.min_face_px,
            motion=motion))

    def _motion(self, t: float):
        """Where the scene moved since the last detection apart from the faces tracked (their
        boxes; a quarter of a face's width around each), in frame pixels: someone may be coming in
        there. (Not more around them: a face coming in just below another one must count.)"""
        def thumb_box(box):
            top, right, bottom, left = box
            m = (right - left) // 4
            return ((top - m) // THUMB_SCALE, (right + m) // THUMB_SCALE + 1,
                    (bottom + m) // THUMB_SCALE + 1, (left - m) // THUMB_SCALE)
        box = moved_outside(self._cuts.latest, self._detected_thumb,
                            [thumb_box(tr.predicted_box(t)) for tr in self.tracks.tracks if tr.ended_at > t])
        return None if box is None else tuple(v * THUMB_SCALE for v in box)

    def _collect(self) -> None:
        """Adopt our finished analysis, if there is one: its updated tracks, counts and events."""
        if self._pending is None or not self._pending.done():
            return
        future, self._pending = self._pending, None
        if future.cancelled() or future.exception() is not None:
            return                         # the analyzer logged why; the next detection retries
        result = future.result()
        if result.tracks is None:
            return
        self.stats.detections += 1
        self._looks.tick(result.frame_time)
        self.stats.encodings += result.encodings
        self._analysed_at = result.frame_time
        # Cuts that came while it ran end its tracks too (the snapshot predates them).
        for cut in self.tracks.cuts:
            if cut > result.tracks.last_cut():
                result.tracks.cut(cut)
        self.tracks = result.tracks
        result.events = apply_options(self.options, result.tracks, result.events, self._pending_frame)
        attach_context(result.events, result.tracks, self._pending_frame)
        self._sighted(result.tracks, result.frame_time, self._pending_frame)
        for event in result.events:
            if self.on_event:
                self.on_event(event)
        self._new_events.extend(result.events)

    def _sighted(self, tracks: TrackSet, t: float, frame) -> None:
        if self.on_sighting is not None:
            self.on_sighting(sightings(self.camera_id, tracks, t, frame, time.time()))

    def health(self) -> dict:
        """Age of the newest analysis (frame times are monotonic), detections per second achieved
        (a look skipped because nothing moved counts: it needed none) against planned — fewer
        when the cores cannot keep up — and the names on camera now."""
        lag = time.monotonic() - self._analysed_at if self._analysed_at > float("-inf") else None
        now = [tr.name for tr in self.tracks.tracks if tr.state == TrackState.NAMED and tr.name]
        on = self.models.current() is not None and self.options.recognition and self.options.enabled
        planned = 1 / max(self.settings.detect_interval_s, 1 / 30) if on else 0.0
        return {"analysis_lag_s": None if lag is None else round(lag, 3),
                "detections_per_s": round(self._looks.rate(), 2), "detections_planned_per_s": round(planned, 2),
                "people_now": sorted(set(now))}

    def _render(self, frame, faces: list[FaceLabel]) -> bytes | None:
        jpeg = getattr(frame, "jpeg", None)
        if not faces and jpeg:
            return jpeg                       # nothing to draw: the camera's bytes are the output
        bgr = frame_bgr(frame, self.stages)
        if bgr is None:
            self.stats.undecodable += 1
            return None
        with self.stages.timed("annotate"):
            annotated = draw_faces(bgr.copy(), faces)
        with self.stages.timed("jpeg_out"):
            return describe(encode_jpeg(annotated, self.settings.jpeg_quality), jpeg, frame.time, faces)


def _label(tr: Track, t: float, stale_s: float) -> FaceLabel:
    return FaceLabel(tr.id, tr.predicted_box(t), *tr.identity_at(t, stale_s))
