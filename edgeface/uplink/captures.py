"""Unknown and doubtful faces of the live service, and operators' labels, become captures for the core.

For each recognition event the quality gate calls a candidate (Unknown, doubtful, or a confident
name sampled for accuracy), one thread here cuts the face with a margin (``CROP_MARGIN``) out of
the frame it was found in (``event.frame``; without it, the event's snapshot, the face with
``EDGEFACE_LIVE_SNAPSHOT_MARGIN``), finds it again there (or keeps the live detector's box when
the still detector misses it in the crop), measures it (size, sharpness, frontalness from dlib's
5-point landmarks), computes its embedding and hands it to ``edgeface.uplink.selection``, which
sends one per visit, merges near-duplicates and caps each camera. A capture records where the
face is in its crop (``face_box``, ``landmarks``), so training can enrol it when its own
detector misses the face there (``edgeface.facebox``).

Labelled faces (:meth:`CaptureMaker.add_labelled`) are measured the same way but never refused
or merged: an operator chose them. Events are rare (one per tracked face and name change), so
this costs little; when more arrive than it can handle, the newest wait in a short queue and the
rest are counted as skipped, never blocking a camera.
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from edgeface.facebox import Box, overlap
from edgeface.lifecycle import Service
from edgeface.settings import LiveSettings, default
from edgeface.uplink.outbox import Capture, Outbox
from edgeface.uplink.quality import QualityGate
from edgeface.uplink.selection import Candidate, CaptureFilter, CapturePolicy

if TYPE_CHECKING:
    from edgeface.events import RecognitionEvent

log = logging.getLogger(__name__)

QUEUE_MAX = 32
#: The capture's crop: the face box grown by this fraction on each side (2.2x the face across), so
#: that a detector has the context it needs (at the snapshot's 0.4 it missed faces of the sample clip).
CROP_MARGIN = 0.6
JPEG_QUALITY = 90
LABEL_WAIT_S = 5.0            # an operator's label may wait this long for room in the queue
POLL_S = 1.0                  # how often waiting visits are checked when no event comes


@dataclasses.dataclass
class _Job:
    capture: Capture              # what the event or label says; measured fields filled in here
    frame: Any = None             # the camera Frame (pixels, maybe decoded) if the event has it
    track: int = 0
    shot: Any = None              # (region, face box in it) from the camera's identify stream, if any


class CaptureMaker(Service):
    def __init__(self, outbox: Outbox, tolerance: float, gate: QualityGate | None = None,
                 policy: CapturePolicy | None = None,
                 snapshot_margin: float = default(LiveSettings, "snapshot_margin")):
        super().__init__("capture-maker")
        self.outbox = outbox
        self.tolerance = tolerance
        self.gate = gate or QualityGate()
        self.filter = CaptureFilter(policy, tolerance)
        self.snapshot_margin = snapshot_margin
        self.kept = 0             # handed to the outbox
        self.refused = 0          # below the quality gate, or no face found
        self.skipped = 0          # more candidates than this thread could handle
        self._queue: queue.Queue[_Job | None] = queue.Queue(QUEUE_MAX)
        self._models: tuple[Any, Any] | None = None

    def counts(self) -> dict[str, int]:
        """Candidates so far: kept, refused, skipped, merged (near-duplicates), capped (camera's hour
        full), sampled (confident names kept for the accuracy check, part of kept)."""
        f = self.filter
        return {"kept": self.kept, "refused": self.refused, "skipped": self.skipped, "merged": f.merged,
                "capped": f.capped, "sampled": f.sampled}

    # -- callers ---------------------------------------------------------------------------------
    def offer(self, event: RecognitionEvent) -> None:
        """From the camera's pipeline thread: keep the event if it is a candidate; never blocks."""
        reason = self.gate.candidate(event.name, event.distance, self.tolerance)
        if reason is None and self.filter.wants_sample(event.name, event.time):
            reason = "sample"
        if reason is None or not event.snapshot:
            return
        # The snapshot bytes now: the event store may move them to disk and drop them from the event.
        capture = Capture(camera=event.camera, face_jpeg=event.snapshot, frame_jpeg=None, seen_at=event.time,
                          name=event.name, distance=event.distance, model_version=event.model_version,
                          box=list(event.box), reason=reason, id=event.id)
        try:
            shot = (event.shot, event.shot_box) if event.shot is not None and event.shot_box else None
            self._queue.put_nowait(_Job(capture, getattr(event, "frame", None), event.track, shot))
        except queue.Full:
            self.skipped += 1

    def add_labelled(self, capture: Capture) -> bool:
        """An operator's label (``reason="labelled"``, ``label`` set; ``face_jpeg`` the snapshot with
        the live margin, ``frame_jpeg`` and ``box`` the frame it was found in): made into a capture
        like the others, but never refused or merged. False when the queue stayed full."""
        try:
            self._queue.put(_Job(capture), timeout=LABEL_WAIT_S)
        except queue.Full:
            self.skipped += 1
            return False
        return True

    def _wake(self) -> None:
        try:
            self._queue.put_nowait(None)
        except queue.Full:
            pass

    # -- the thread --------------------------------------------------------------------------------
    def run(self) -> None:
        while not self.stopping:
            self.step(POLL_S)
        self.release(time.time(), everything=True)    # the waiting visits' best faces are not lost

    def step(self, wait_s: float = 0.0, now: float | None = None) -> None:
        """Measure one waiting candidate (waiting up to ``wait_s`` for one), then hand the outbox
        what is due at ``now`` (default: the clock)."""
        try:
            job = self._queue.get(timeout=wait_s) if wait_s > 0 else self._queue.get_nowait()
        except queue.Empty:
            job = None
        if job is not None:
            try:
                self._make(job)
            except Exception:  # one bad snapshot must not end captures
                log.exception("captures: cannot make a capture of event %s", job.capture.id)
        self.release(time.time() if now is None else now)

    def release(self, now: float, everything: bool = False) -> None:
        """Hand the outbox the visits' best faces that are due (all of them with ``everything``)."""
        for candidate in (self.filter.drain(now) if everything else self.filter.due(now)):
            frame = candidate.frame
            if candidate.capture.frame_jpeg is None and hasattr(frame, "jpeg_bytes"):
                candidate.capture.frame_jpeg = frame.jpeg_bytes()     # encoded only for what is sent
            self._keep(candidate.capture)

    def _keep(self, capture: Capture) -> None:
        self.outbox.add(capture)
        self.kept += 1

    def _make(self, job: _Job) -> None:
        import cv2

        capture, labelled = job.capture, job.capture.reason == "labelled"
        bgr, expected, face_jpeg = self._crop(job)
        if bgr is None:
            self.refused += not labelled
            if labelled:
                self._keep(capture)              # as the operator saw it: better than nothing
            return
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        engine, predictor = self._loaded()
        box = _face_box(engine.detect(rgb), expected)
        if box is None:
            self.refused += not labelled
            if labelled:
                self._keep(dataclasses.replace(capture, face_jpeg=face_jpeg))
            return
        top, right, bottom, left = box
        landmarks = _landmarks(predictor, rgb, box)
        quality = self.gate.assess(bgr[top:bottom, left:right], box, landmarks)
        if not quality.ok and not labelled:
            self.refused += 1
            log.debug("captures: event %s not kept: %s", capture.id, ", ".join(quality.reasons))
            return
        # A label keeps the embedding the history gave it (the one its visit was matched with).
        embedding = capture.embedding if labelled and capture.embedding is not None else \
            engine.encode(rgb, [box])[0].tolist()
        measured = dataclasses.replace(capture, face_jpeg=face_jpeg, face_box=list(box), landmarks=landmarks,
                                       quality=quality.as_json(), embedding=embedding)
        if labelled:
            self.filter.remember(measured)
            self._keep(measured)
        else:
            self.filter.add(Candidate(measured, job.track, quality.score, job.frame))

    def _crop(self, job: _Job) -> tuple[np.ndarray | None, Box | None, bytes]:
        """(the crop's pixels, where the live detector's box falls in it, its JPEG): cut with
        ``CROP_MARGIN`` from the identify stream's region when the event has one, else from the
        frame when there is one, else the snapshot as it is."""
        from edgeface.images import encode_jpeg

        capture = job.capture
        frame = _frame_pixels(job.frame, capture.frame_jpeg)
        box = capture.box
        if job.shot is not None:       # the identify stream's pixels of the same face: 3-6x as many
            frame, box = job.shot
        if frame is not None and box is not None:
            crop, in_crop = margin_crop(frame, box, CROP_MARGIN)
            if crop.size:
                # Measured as sent: the embedding is that of the JPEG's pixels, as training will see them.
                jpeg = encode_jpeg(crop, JPEG_QUALITY)
                return _decode(jpeg), in_crop, jpeg
        snapshot = _decode(capture.face_jpeg)
        if snapshot is None:
            return None, None, capture.face_jpeg
        in_snapshot = snapshot_box(capture.box, self.snapshot_margin, snapshot.shape) if capture.box else None
        return snapshot, in_snapshot, capture.face_jpeg

    def _loaded(self) -> tuple[Any, Any]:
        if self._models is None:
            self._models = _load_models()
        return self._models


def margin_crop(frame: np.ndarray, box: Sequence[int], margin: float) -> tuple[np.ndarray, Box]:
    """The face ``box`` ([top, right, bottom, left] in ``frame``) grown by ``margin`` of its size on
    each side (clipped to the frame), and where the box lies in that crop."""
    y0, x0, y1, x1 = _grown(box, margin)
    h, w = frame.shape[:2]
    crop = np.ascontiguousarray(frame[y0:min(h, y1), x0:min(w, x1)])
    return crop, _inside(box, y0, x0, crop.shape)


def snapshot_box(box: Sequence[int], margin: float, shape: tuple[int, ...]) -> Box:
    """Where the face lies in a snapshot of ``shape`` cut around ``box`` with ``margin`` (the live
    pipeline's and the history's rule: grown by the margin, clipped to the frame)."""
    y0, x0, _, _ = _grown(box, margin)
    return _inside(box, y0, x0, shape)


def _grown(box: Sequence[int], margin: float) -> tuple[int, int, int, int]:
    """(top, left, bottom, right) of ``box`` grown by ``margin``; top and left clipped at 0."""
    top, right, bottom, left = (int(v) for v in box)
    my, mx = int((bottom - top) * margin), int((right - left) * margin)
    return max(0, top - my), max(0, left - mx), bottom + my, right + mx


def _inside(box: Sequence[int], y0: int, x0: int, shape: tuple[int, ...]) -> Box:
    """``box`` in the coordinates of a crop of ``shape`` whose corner is (y0, x0), clipped to it."""
    top, right, bottom, left = (int(v) for v in box)
    h, w = shape[:2]
    return max(0, top - y0), min(w, right - x0), min(h, bottom - y0), max(0, left - x0)


def _face_box(found: list[Box], expected: Box | None) -> Box | None:
    """The detected face that is the event's (overlapping the live box), else the live box itself
    (the live detector found a face there, in the whole frame); without a live box, the largest."""
    if expected is None:
        return found[0] if found else None
    best = max(found, key=lambda b: overlap(b, expected), default=None)
    if best is not None and overlap(best, expected) >= 0.3:
        return best
    top, right, bottom, left = expected
    return expected if bottom - top >= 8 and right - left >= 8 else None


def _landmarks(predictor: Any, rgb: np.ndarray, box: Box) -> list[list[int]]:
    import dlib

    top, right, bottom, left = box
    shape = predictor(rgb, dlib.rectangle(left, top, right, bottom))
    return [[shape.part(i).x, shape.part(i).y] for i in range(5)]


def _frame_pixels(frame: Any, jpeg: bytes | None) -> np.ndarray | None:
    bgr = getattr(frame, "bgr", None) if frame is not None else None
    return bgr if bgr is not None else (_decode(jpeg) if jpeg else None)


def _decode(jpeg: bytes | None) -> np.ndarray | None:
    import cv2

    if not jpeg:
        return None
    return cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)


def _load_models():
    """The full-resolution engine (crops are small) and dlib's 5-point landmark model."""
    import dlib
    import face_recognition_models

    from edgeface.engine import FaceEngine
    from edgeface.recognize import STILL_SETTINGS

    return (FaceEngine(STILL_SETTINGS),
            dlib.shape_predictor(face_recognition_models.pose_predictor_five_point_model_location()))
