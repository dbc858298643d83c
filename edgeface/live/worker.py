"""One thread per camera: take the newest frame, run it through the pipeline, publish the frame
(the camera's own JPEG), the faces on it (for the browser to draw) and, for viewers that want
them drawn in, the drawn JPEG."""

from __future__ import annotations

import logging
import time

from edgeface.jpegmeta import FRAME_STAMP, comment_with_prefix, dimensions
from edgeface.lifecycle import RateCounter, Service
from edgeface.live.broadcast import FrameBroadcaster
from edgeface.live.marks import MarkBoard, faces_message
from edgeface.live.metrics import Histogram
from edgeface.live.pipeline import FramePipeline
from edgeface.live.recorder import ClipRecorder

log = logging.getLogger(__name__)


class CameraWorker(Service):
    """Drives ``pipeline`` from ``source.wait_frame``; ``close()`` ends the viewers' streams and
    joins the thread."""

    def __init__(self, source, pipeline: FramePipeline, board: MarkBoard | None = None,
                 recorder: ClipRecorder | None = None):
        super().__init__(f"worker-{source.id}")
        self.source = source
        self.pipeline = pipeline
        self.broadcaster = FrameBroadcaster()      # the camera's frames, as it sent them
        self.drawn = FrameBroadcaster()            # with the faces drawn in, for viewers without a browser
        self.board = board or MarkBoard()
        self.recorder = recorder                   # the visits' clips: a few shown frames a second
        self._marked = False                       # the last faces message sent had faces
        self.latency = Histogram()
        self.faces_now = 0
        self._outputs = RateCounter(window_s=2.0)

    @property
    def camera_id(self) -> str:
        return self.source.id

    def output_fps(self) -> float:
        return self._outputs.rate()

    @property
    def viewers(self) -> int:
        return self.broadcaster.viewers + self.drawn.viewers

    def _wake(self) -> None:
        self.broadcaster.close()       # viewers' streams end now, not at their next poll
        self.drawn.close()
        self.board.forget(self.camera_id)

    def run(self) -> None:
        seq = 0
        while not self.stopping:
            frame = self.source.wait_frame(after_seq=seq, timeout=0.5)
            if frame is None:
                if self.recorder is not None:
                    self.recorder.idle(time.time())
                continue
            seq = frame.seq
            self.pipeline.identify = self.source.identify    # the operator may change it any time
            # The shown frame's bytes are made only when someone watches, or a clip sample is due.
            sample = self.recorder is not None and self.recorder.due(time.time())
            try:
                result = self.pipeline.process(frame, render=self.broadcaster.wanted() or sample,
                                               draw=self.drawn.wanted())
                self._mark(result)
                if sample and result.jpeg is not None:
                    self._record(result)
            except Exception:
                log.exception("camera %s: frame %d failed", self.camera_id, frame.seq)
                continue
            self.faces_now = len(result.faces)
            if result.jpeg is not None:
                self.broadcaster.publish(result.jpeg)
            if result.drawn is not None:
                self.drawn.publish(result.drawn)
            now = time.monotonic()
            self._outputs.tick(now)
            self.latency.observe(now - frame.time)
        if self.recorder is not None:
            self.recorder.flush()          # the stay being recorded keeps its clip

    def _record(self, result) -> None:
        assert self.recorder is not None
        jpeg = self.pipeline.clip_frame(result)       # the camera's privacy, for frames kept
        if jpeg is None:
            return
        # Frame times are monotonic; a clip's are epoch seconds, like the visits it shows.
        shown_at = time.time() - max(0.0, time.monotonic() - result.time)
        self.recorder.add(shown_at, jpeg, bool(result.faces))

    def _mark(self, result) -> None:
        """The faces of this shown frame for the browsers watching: sent for every frame with
        faces (boxes move between analyses), and once when the last face goes."""
        if not self.board.watched or not (result.faces or self._marked):
            return
        self._marked = bool(result.faces)
        jpeg, stamp = result.jpeg, None
        if jpeg is not None and result.faces:
            stamp = comment_with_prefix(jpeg, FRAME_STAMP)
        self.board.publish("faces", self.camera_id, faces_message(
            result.faces, seq=result.seq, frame_time=result.time, lag_s=result.lag_s,
            tolerance=self.pipeline.models.tolerance, size=dimensions(jpeg) if jpeg else None,
            camera_frame=int(stamp) if stamp and stamp.isdigit() else None))
