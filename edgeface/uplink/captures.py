"""Unknown and doubtful faces of the live service become captures for the core.

The live pipeline already made a snapshot of each recognised face (the face with a margin,
``EDGEFACE_LIVE_SNAPSHOT_MARGIN``). For the events the quality gate finds worth it, one thread
here finds the face again in that snapshot, measures it (size, sharpness, frontalness from dlib's
5-point landmarks), computes its embedding and hands the capture to the outbox. Events are
rare (one per tracked face and name change), so this costs little; when more arrive than it can
handle, the newest wait in a short queue and the rest are counted as skipped, never blocking a
camera. When the event carries the analysed frame (``event.frame``, a camera ``Frame``), it is
kept as the capture's context frame (as JPEG, encoded on this thread, not the camera's).
"""

from __future__ import annotations

import logging
import queue
from typing import TYPE_CHECKING, Any

from edgeface.lifecycle import Service
from edgeface.uplink.outbox import Capture, Outbox
from edgeface.uplink.quality import QualityGate

if TYPE_CHECKING:
    from edgeface.events import RecognitionEvent

log = logging.getLogger(__name__)

QUEUE_MAX = 32


class CaptureMaker(Service):
    def __init__(self, outbox: Outbox, tolerance: float, gate: QualityGate | None = None):
        super().__init__("capture-maker")
        self.outbox = outbox
        self.tolerance = tolerance
        self.gate = gate or QualityGate()
        self.kept = 0
        self.refused = 0          # below the quality gate
        self.skipped = 0          # more candidates than this thread could handle
        self._queue: queue.Queue[tuple[RecognitionEvent, bytes, str, Any] | None] = queue.Queue(QUEUE_MAX)

    def offer(self, event: RecognitionEvent) -> None:
        """From the camera's pipeline thread: keep the event if it is a candidate; never blocks."""
        reason = self.gate.candidate(event.name, event.distance, self.tolerance)
        if reason is None or not event.snapshot:
            return
        try:
            # The snapshot bytes now: the event store may move them to disk and drop them from the event.
            self._queue.put_nowait((event, event.snapshot, reason, getattr(event, "frame", None)))
        except queue.Full:
            self.skipped += 1

    def _wake(self) -> None:
        try:
            self._queue.put_nowait(None)
        except queue.Full:
            pass

    def run(self) -> None:
        engine = predictor = None
        while not self.stopping:
            item = self._queue.get()
            if item is None:
                continue
            if engine is None:
                engine, predictor = _load_models()
            try:
                self._make(engine, predictor, *item)
            except Exception:  # one bad snapshot must not end captures
                log.exception("captures: cannot make a capture of event %s", item[0].id)

    def _make(self, engine, predictor, event: RecognitionEvent, jpeg: bytes, reason: str, frame: Any) -> None:
        import cv2
        import dlib
        import numpy as np

        bgr = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        if bgr is None:
            return
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        boxes = engine.detect(rgb)
        if not boxes:
            self.refused += 1
            return
        top, right, bottom, left = box = boxes[0]            # the largest: the face the event is about
        shape = predictor(rgb, dlib.rectangle(left, top, right, bottom))
        landmarks = [(shape.part(i).x, shape.part(i).y) for i in range(5)]
        quality = self.gate.assess(bgr[max(0, top):bottom, max(0, left):right], box, landmarks)
        if not quality.ok:
            self.refused += 1
            log.debug("captures: event %s not kept: %s", event.id, ", ".join(quality.reasons))
            return
        embedding = engine.encode(rgb, [box])[0]
        frame_jpeg = frame.jpeg_bytes() if hasattr(frame, "jpeg_bytes") else None
        self.outbox.add(Capture(camera=event.camera, face_jpeg=jpeg, frame_jpeg=frame_jpeg, seen_at=event.time,
                                name=event.name, distance=event.distance, embedding=embedding.tolist(),
                                model_version=event.model_version, box=list(event.box), reason=reason,
                                quality=quality.as_json(), id=event.id))
        self.kept += 1


def _load_models():
    """The full-resolution engine (snapshots are small) and dlib's 5-point landmark model."""
    import dlib
    import face_recognition_models

    from edgeface.engine import FaceEngine
    from edgeface.recognize import STILL_SETTINGS

    return (FaceEngine(STILL_SETTINGS),
            dlib.shape_predictor(face_recognition_models.pose_predictor_five_point_model_location()))
