"""Per-camera recognition: frames in, the faces on them and recognition events out.

``FramePipeline.process(frame)`` never waits for dlib. It owns the timing: scene cuts, when a
detection is due (periodically, at once after a cut, never while nothing moves), where the scene
moved, the output delay. When a detection is due, the camera's ``CameraTracker`` plans the search,
the shared :class:`Analyzer` runs it, and the next ``process`` call hands the observation back to
the tracker — on the camera's thread, the only one that touches the tracks, stats and busy state.
A frame goes pipeline → tracker → search → tracker → pipeline, and nothing calls back upstream.
A shown frame is the camera's own JPEG — no decode, no re-encode: the browser draws the faces
over it (``edgeface.live.marks``) — unless the camera's privacy hides a face on it (blurred in).
A frame with the boxes drawn in is made only when asked (``draw=True``: viewers without a
browser). ``_output`` is the one place a shown frame's JPEG bytes are made.
Usable without Flask: the web app's camera workers and the benchmark both drive it.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from edgeface.events import RecognitionEvent, Sighting
from edgeface.history.cameras import CameraOptions
from edgeface.images import decode_jpeg, encode_jpeg
from edgeface.lifecycle import RateCounter
from edgeface.live.analyzer import AnalysisJob, Analyzer
from edgeface.live.annotate import FaceLabel, describe, draw_faces, with_camera_comments
from edgeface.live.frames import frame_bgr
from edgeface.live.identify import drifting
from edgeface.live.metrics import StageTimes
from edgeface.live.modelwatch import ModelHolder
from edgeface.live.motion import away_from
from edgeface.live.plan import Observation, SearchKind
from edgeface.live.scenecut import CutDetector, moved
from edgeface.live.tracker import CameraTracker
from edgeface.live.tracking import TrackState
from edgeface.matcher import UNKNOWN
from edgeface.privacy import blur_boxes, blur_frame
from edgeface.settings import LiveSettings


@dataclass
class FrameResult:
    seq: int
    time: float
    faces: list[FaceLabel]
    events: list[RecognitionEvent]     # recorded since the previous process() call
    jpeg: bytes | None                 # the frame shown (None when render=False or undecodable)
    drawn: bytes | None = None         # the same with the faces drawn in (only with draw=True)
    lag_s: float | None = None         # how old the newest analysis is at this frame (None: none yet)


@dataclass
class PipelineStats:
    frames: int = 0
    detections: int = 0
    encodings: int = 0
    still_skips: int = 0               # periodic detections not needed: nothing moved since the last
    undecodable: int = 0
    identify_crops: int = 0            # faces encoded from the identify stream


class FramePipeline:
    """One camera's frames. ``process`` is called from one thread, which alone touches the
    tracker; ``stages`` defaults to the analyzer's."""

    def __init__(self, camera_id: str, analyzer: Analyzer, models: ModelHolder, settings: LiveSettings | None = None,
                 on_event: Callable[[RecognitionEvent], object] | None = None, *,
                 stages: StageTimes | None = None,
                 on_sighting: Callable[[list[Sighting]], object] | None = None,
                 on_shadow: Callable[[str, str, str, str], object] | None = None):
        self.camera_id = camera_id
        self.analyzer = analyzer
        self.models = models
        self.stages = stages or analyzer.stages
        self.settings = settings or LiveSettings()
        self.on_event = on_event
        self.on_sighting = on_sighting     # reported tracks seen again (visit history)
        self.tracker = CameraTracker(camera_id, self.settings, self.stages)
        self.tracker.on_shadow = on_shadow  # a candidate model's decisions beside ours (edgeface.uplink.stats)
        self.stats = PipelineStats()
        self._pending: Future[Observation | None] | None = None   # our job, queued or running
        self._pending_job: AnalysisJob | None = None    # its frame (the events' context) and plan
        self._last_submit = float("-inf")
        self._searched_at = float("-inf")           # frame time of the last frame really submitted
        self._new_events: list[RecognitionEvent] = []
        self._cuts = CutDetector()
        self._cut_frame: Any = None        # the first frame of a new scene, until it is analysed
        self._detected_thumb: np.ndarray | None = None   # thumbnail of the last frame sent to detection
        self._buffer: deque = deque(maxlen=256)   # frames waiting out output_delay_s
        self._analysed_at = float("-inf")           # frame time of the last detection pass
        self._looks = RateCounter(window_s=10.0)    # detections done, and skipped because nothing moved
        # The camera's identify (main) stream (``edgeface.cameras.identify``), if any: faces are
        # encoded from it; why the last encodings could not be (None: they were, or none yet).
        self.identify: Any = None
        self._identify_note: str | None = None
        self._offsets: deque[float] = deque(maxlen=9)    # recent best-match offsets (drift)

    @property
    def options(self) -> CameraOptions:
        return self.tracker.options

    @options.setter
    def options(self, options: CameraOptions) -> None:
        """The operator's settings for this camera (the service swaps in new ones)."""
        self.tracker.options = options

    @property
    def busy(self) -> bool:
        """A job of ours is queued or running (at most one per camera)."""
        return self._pending is not None

    def process(self, frame, *, render: bool = True, draw: bool = False) -> FrameResult:
        """``frame``: anything with ``seq``, ``time`` (monotonic s), ``jpeg`` and/or ``bgr``.

        Returns this frame and its faces — or, with ``output_delay_s``, the frame that arrived
        that long ago (``seq``/``time`` say which; ``jpeg`` is None while the delay fills up).
        ``render``: its JPEG (the camera's bytes when it sent JPEG); ``draw``: also one with the
        faces drawn in."""
        t = frame.time
        self._collect()
        with self.stages.timed("cut"):
            cut = self._cuts.is_cut(frame)
        if cut:
            self.tracker.cut(t)
            self._cut_frame = frame
            if self._pending is not None and self._pending.cancel():
                self._pending = None       # still queued: its frame is from before the cut
        model = self.models.current()
        if model is not None and self._detection_due(t):
            self._detect(frame, model)
            self._collect()                # inline analysis is done already
        shown = self._delayed(frame)
        self.tracker.expire(t)
        faces = [] if shown is None else self._private(self.tracker.labels(shown.time))
        events, self._new_events = self._new_events, []
        self.stats.frames += 1
        if shown is None:
            return FrameResult(frame.seq, t, [], events, None)
        lag = max(0.0, shown.time - self._analysed_at) if self._analysed_at > float("-inf") else None
        return FrameResult(shown.seq, shown.time, faces, events,
                           self._output(shown, faces, draw=False) if render else None,
                           self._output(shown, faces, draw=True) if draw else None, lag)

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

    def _detection_due(self, t: float) -> bool:
        return (self._pending is None and self.options.recognition and self.options.enabled
                and (self._cut_frame is not None or t - self._last_submit >= self.settings.detect_interval_s))

    def _detect(self, frame, model) -> None:
        """Submit a frame for analysis: the cut frame first if there is one — even if we were
        busy when it came, faces found there are drawn from the cut on (delayed output) and a new
        face's first look is its earliest — else this one, unless nothing moved since the last."""
        cut_frame, self._cut_frame = self._cut_frame, None
        still = cut_frame is None and not moved(self._cuts.latest, self._detected_thumb)
        if still and frame.time - self._searched_at < self.settings.still_recheck_s:
            self._last_submit = frame.time            # a still scene: every face is where it was
            self.stats.still_skips += 1
            self._looks.tick(frame.time)
            self._sighted(self.tracker.hold(frame.time, frame))    # still there: the visit goes on
            return
        target = frame if cut_frame is None else cut_frame
        motion = away_from(self._cuts.latest, self._detected_thumb, self.tracker.occupied(frame.time),
                           self.settings.motion_search_max_share) \
            if cut_frame is None and self.settings.motion_search_max_share else None
        self._last_submit, self._detected_thumb = frame.time, self._cuts.latest
        self._searched_at = frame.time
        # With delayed output, a new face is drawn back to the previous analysed frame: it
        # appeared somewhere in between (not before a cut: the tracks know the cuts).
        lead = min(target.time - self._analysed_at, self.settings.detect_interval_s * 2) \
            if self.settings.output_delay_s > 0 else 0.0
        # The CNN only on spare capacity: with other cameras' analyses waiting, it would cost them
        # detections (eight cameras on two cores: named-frame recall 0.13-0.40 against 0.64-0.67).
        plan = self.tracker.plan(target.time, model, new_scene=cut_frame is not None or
                                 self._analysed_at == float("-inf"), motion=motion, lead_s=lead,
                                 spare=self.analyzer.queue_depth() == 0)
        if plan.kind == SearchKind.NONE:
            self._adopt(AnalysisJob(target, plan), Observation(plan.time, plan.model))   # no decode either
            return
        # Holding costs nothing until a face due an encoding asks (packets or JPEG bytes are
        # kept; only the asked moment is decoded), so a newcomer's first encoding is the main
        # stream's too.
        held = None if self.identify is None else \
            self.identify.hold(target.time, 2 * self.settings.identify_max_skew_s)
        job = AnalysisJob(target, plan, urgent=cut_frame is not None, analysed_at=self._analysed_at, identify=held,
                          drift=drifting(list(self._offsets), self.settings.identify_max_skew_s))
        self._pending_job, self._pending = job, self.analyzer.submit(job)

    def _collect(self) -> None:
        """Hand our finished analysis, if there is one, to the tracker: counts, events, sightings."""
        if self._pending is None or not self._pending.done():
            return
        future, self._pending = self._pending, None
        job, self._pending_job = self._pending_job, None
        if future.cancelled() or future.exception() is not None or job is None:
            return                         # the analyzer logged why; the next detection retries
        seen = future.result()
        if seen is not None:
            self._adopt(job, seen)

    def _adopt(self, job: AnalysisJob, seen: Observation) -> None:
        self.stats.detections += 1
        self._looks.tick(seen.time)
        self.stats.encodings += seen.encodings
        self.stats.identify_crops += sum(face.shot is not None for face in seen.faces)
        if seen.identify_offset_s is not None:
            self._offsets.append(seen.identify_offset_s)
        if seen.encodings and job.identify is not None:
            self._identify_note = seen.identify_note
        self._analysed_at = seen.time
        events, sighted = self.tracker.apply(job.plan, seen, job.frame)
        self._sighted(sighted)
        for event in events:
            if self.on_event:
                self.on_event(event)
        self._new_events.extend(events)

    def _sighted(self, sighted: list[Sighting]) -> None:
        if self.on_sighting is not None:
            self.on_sighting(sighted)

    def health(self) -> dict:
        """Age of the newest analysis (frame times are monotonic), detections per second achieved
        (a look skipped because nothing moved counts: it needed none) against planned — fewer
        when the cores cannot keep up — and the names on camera now."""
        lag = time.monotonic() - self._analysed_at if self._analysed_at > float("-inf") else None
        on = self.models.current() is not None and self.options.recognition and self.options.enabled
        planned = 1 / max(self.settings.detect_interval_s, 1 / 30) if on else 0.0
        return {"analysis_lag_s": None if lag is None else round(lag, 3),
                "detections_per_s": round(self._looks.rate(), 2), "detections_planned_per_s": round(planned, 2),
                "people_now": self.tracker.people_now(), "identify": self._identify_health()}

    def _identify_health(self) -> str | None:
        """How faces are encoded: None without an identify stream; else whether from it, or
        from the detect stream and why (the stream is down, drifts, or does not match)."""
        if self.identify is None:
            return None
        status = self.identify.status()
        if not status["online"]:
            return f"detect stream (identify stream offline: {status['error'] or 'connecting'})"
        if self._identify_note is not None:
            return f"detect stream ({self._identify_note})"
        return "identify stream"

    def _private(self, faces: list[FaceLabel]) -> list[FaceLabel]:
        """The camera's privacy: a named face it hides keeps no name in what leaves (drawn as Unknown)."""
        options = self.options
        return [replace(f, name=UNKNOWN, state=TrackState.UNKNOWN, distance=None)
                if f.state == TrackState.NAMED and options.hides(f.name) else f for f in faces]

    def _hidden_boxes(self, faces: list[FaceLabel]) -> list:
        """The faces ``_private`` left without a name, unless the camera's privacy is off."""
        if self.options.privacy in (None, "off"):
            return []
        return [f.box for f in faces if f.state != TrackState.NAMED]

    def clip_frame(self, result: FrameResult) -> bytes | None:
        """A shown frame as a clip keeps it (``edgeface.live.recorder``): as shown, except that a
        camera whose privacy hides faces keeps a frame with no face on it blurred whole — a face not
        found yet (a clip's seconds before the first detection, after a track is lost) would be
        stored as the camera saw it."""
        if result.jpeg is None or result.faces or self.options.privacy in (None, "off"):
            return result.jpeg
        bgr = decode_jpeg(result.jpeg)
        return None if bgr is None else encode_jpeg(blur_frame(bgr), self.settings.jpeg_quality)

    def _output(self, frame, faces: list[FaceLabel], draw: bool) -> bytes | None:
        """The one place a shown frame's JPEG bytes are made: the camera's own bytes when nothing is
        hidden (its privacy, ``edgeface.privacy``) or drawn in (``draw``), else decoded, the hidden
        faces blurred, the faces drawn on, and encoded once."""
        jpeg = getattr(frame, "jpeg", None)
        hidden, drawn = self._hidden_boxes(faces), faces if draw else []
        if not hidden and not drawn and jpeg:
            return jpeg                       # the camera's bytes are the output
        bgr = frame_bgr(frame, self.stages)
        if bgr is None:
            self.stats.undecodable += 1
            return None
        bgr = blur_boxes(bgr, hidden)         # a copy when it hid something
        if drawn:
            with self.stages.timed("annotate"):
                bgr = draw_faces(bgr.copy(), drawn)
        with self.stages.timed("jpeg_out"):
            out = encode_jpeg(bgr, self.settings.jpeg_quality)
        # A blurred frame keeps the camera's comments: viewers match frames by its number.
        return describe(out, jpeg, frame.time, drawn) if drawn else with_camera_comments(out, jpeg)
