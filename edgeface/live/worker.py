"""One thread per camera: take the newest frame, run it through the pipeline, publish the JPEG."""

from __future__ import annotations

import logging
import time

from edgeface.lifecycle import RateCounter, Service
from edgeface.live.broadcast import FrameBroadcaster
from edgeface.live.metrics import Histogram
from edgeface.live.pipeline import FramePipeline

log = logging.getLogger(__name__)


class CameraWorker(Service):
    """Drives ``pipeline`` from ``source.wait_frame``; ``close()`` ends the viewers' streams and
    joins the thread."""

    def __init__(self, source, pipeline: FramePipeline):
        super().__init__(f"worker-{source.id}")
        self.source = source
        self.pipeline = pipeline
        self.broadcaster = FrameBroadcaster()
        self.latency = Histogram()
        self.faces_now = 0
        self._outputs = RateCounter(window_s=2.0)

    @property
    def camera_id(self) -> str:
        return self.source.id

    def output_fps(self) -> float:
        return self._outputs.rate()

    def _wake(self) -> None:
        self.broadcaster.close()       # viewers' streams end now, not at their next poll

    def run(self) -> None:
        seq = 0
        while not self.stopping:
            frame = self.source.wait_frame(after_seq=seq, timeout=0.5)
            if frame is None:
                continue
            seq = frame.seq
            self.pipeline.identify = self.source.identify    # the operator may change it any time
            try:
                result = self.pipeline.process(frame, render=self.broadcaster.wanted())
            except Exception:
                log.exception("camera %s: frame %d failed", self.camera_id, frame.seq)
                continue
            self.faces_now = len(result.faces)
            if result.jpeg is not None:
                self.broadcaster.publish(result.jpeg)
            now = time.monotonic()
            self._outputs.tick(now)
            self.latency.observe(now - frame.time)
