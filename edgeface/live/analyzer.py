"""Shared detection/encoding threads for all cameras.

dlib work is what costs (tens of ms per detection, ~100 ms per encoding), and dlib releases the
GIL only partly, so all cameras share a small pool sized to the cores instead of one thread
each. Every camera has at most one job queued or running: a camera that falls behind skips
analysis of stale frames rather than building a backlog, and the FIFO queue gives round-robin
fairness between cameras.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable

from edgeface.engine import FaceEngine
from edgeface.live.metrics import StageTimes
from edgeface.live.modelwatch import ModelHolder

log = logging.getLogger(__name__)

Job = Callable[[FaceEngine], None]


class Analyzer:
    """Runs jobs on ``threads`` worker threads; with ``threads=0`` jobs run inline in ``submit``
    (deterministic, for benchmarks and tests)."""

    def __init__(self, engine: FaceEngine, models: ModelHolder, threads: int = 2, stages: StageTimes | None = None):
        self.engine = engine
        self.models = models
        self.stages = stages or StageTimes()
        self.inline = threads == 0
        self.failures = 0
        self._log_lock = threading.Lock()
        self._last_error, self._last_logged = "", 0.0
        # (priority, order, job): urgent jobs (a camera's first look at a new scene) jump the
        # queue; the order number keeps FIFO fairness within a priority and never compares jobs.
        self._queue: queue.PriorityQueue = queue.PriorityQueue()
        self._order = itertools.count()
        self._threads = [threading.Thread(target=self._run, name=f"analyzer-{i}", daemon=True)
                         for i in range(threads)]
        for t in self._threads:
            t.start()

    def submit(self, job: Job, urgent: bool = False) -> None:
        if self.inline:
            self._call(job)
        else:
            self._queue.put((0 if urgent else 1, next(self._order), job))

    def queue_depth(self) -> int:
        return self._queue.qsize()

    def _call(self, job: Job) -> None:
        try:
            job(self.engine)
        except Exception as err:  # noqa: BLE001 - one bad frame must not stop analysis for every camera
            self._report(err)

    def _report(self, err: Exception) -> None:
        """Log a failure; the same one again only once a minute (it may recur on every frame)."""
        text, now = f"{err.__class__.__name__}: {err}", time.monotonic()
        with self._log_lock:
            repeated = text == self._last_error and now - self._last_logged < 60
            self.failures += 1
            if not repeated:
                self._last_error, self._last_logged = text, now
        if not repeated:
            log.error("analysis failed (%d so far): %s", self.failures, text, exc_info=err)

    def _run(self) -> None:
        while True:
            _, _, job = self._queue.get()
            if job is None:
                return
            self._call(job)

    def close(self) -> None:
        for _ in self._threads:
            self._queue.put((-1, next(self._order), None))
        for t in self._threads:
            t.join(timeout=10)


class TimedEngine:
    """An in-process engine whose detect/encode times are recorded (``ProcessEngine`` records
    the times its children report)."""

    def __init__(self, engine: FaceEngine, stages: StageTimes):
        self.engine = engine
        self.stages = stages

    def detect(self, rgb):
        with self.stages.timed("detect"):
            return self.engine.detect(rgb)

    def encode(self, rgb, boxes):
        with self.stages.timed("encode"):
            return self.engine.encode(rgb, boxes)
