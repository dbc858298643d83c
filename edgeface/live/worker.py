"""One thread per camera: take the newest frame, run it through the pipeline, publish the JPEG."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque

from edgeface.live.broadcast import FrameBroadcaster
from edgeface.live.metrics import Histogram
from edgeface.live.pipeline import FramePipeline

log = logging.getLogger(__name__)

FPS_WINDOW_S = 2.0


class CameraWorker:
    """Drives ``pipeline`` from ``source.wait_frame``; ``stop()`` joins the thread."""

    def __init__(self, source, pipeline: FramePipeline):
        self.source = source
        self.pipeline = pipeline
        self.broadcaster = FrameBroadcaster()
        self.latency = Histogram()
        self.faces_now = 0
        self._outputs: deque[float] = deque(maxlen=128)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"worker-{source.id}", daemon=True)

    @property
    def camera_id(self) -> str:
        return self.source.id

    def start(self) -> CameraWorker:
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self.broadcaster.close()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def output_fps(self) -> float:
        now = time.monotonic()
        recent = [t for t in list(self._outputs) if now - t <= FPS_WINDOW_S]
        if len(recent) < 2:
            return 0.0
        return (len(recent) - 1) / max(recent[-1] - recent[0], 1e-6)

    def _run(self) -> None:
        seq = 0
        while not self._stop.is_set():
            frame = self.source.wait_frame(after_seq=seq, timeout=0.5)
            if frame is None:
                continue
            seq = frame.seq
            try:
                result = self.pipeline.process(frame, render=self.broadcaster.wanted())
            except Exception:
                log.exception("camera %s: frame %d failed", self.camera_id, frame.seq)
                continue
            self.faces_now = len(result.faces)
            if result.jpeg is not None:
                self.broadcaster.publish(result.jpeg)
            now = time.monotonic()
            self._outputs.append(now)
            self.latency.observe(now - frame.time)
