"""Shared analysis threads for all cameras: a frame and its plan in, an observation out.

dlib work is what costs (tens of ms per detection, ~20 ms per encoding), and dlib releases the
GIL only partly, so all cameras share a small pool sized to the cores instead of one thread
each. Every camera has at most one job queued or running: a camera that falls behind skips
analysis of stale frames rather than building a backlog. A camera's first look at a new scene
jumps the queue; then the camera whose newest analysis is oldest goes first (fair when the cores
cannot keep up).

This module is only the queue, the fairness and the threads: what a job does is
``edgeface.live.search.search``, a pure function of the engine, the frame and the plan.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgeface.engine import Engine, EngineSettings, FaceEngine
from edgeface.lifecycle import LogOnChange
from edgeface.live.engine_process import ProcessEngine
from edgeface.live.identify import Picture
from edgeface.live.metrics import StageTimes
from edgeface.live.plan import Observation, SearchPlan
from edgeface.live.search import search
from edgeface.settings import LiveSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AnalysisJob:
    frame: object                 # has ``time`` and ``jpeg`` and/or ``bgr`` (see ``frames.frame_bgr``)
    plan: SearchPlan
    urgent: bool = False          # the first frame of a new scene: jumps the queue
    analysed_at: float = float("-inf")   # frame time of the camera's newest analysis: the oldest goes first
    identify: Any = None          # the identify frames around its time (``identify.Held``); None: no identify stream
    drift: float | None = None    # the camera's streams drift this much (s): their frames are not used


class Analyzer:
    """Runs jobs on ``threads`` worker threads; with ``threads=0`` jobs run inline in ``submit``
    (deterministic, for benchmarks and tests) and its future is done when ``submit`` returns.
    A job's result is the ``Observation`` (None: the frame could not be decoded)."""

    def __init__(self, engine: Engine, threads: int = 2, stages: StageTimes | None = None):
        self.engine = engine
        self.stages = stages or StageTimes()
        self.inline = threads == 0
        self.failures = 0
        self._failures_lock = threading.Lock()
        self._errors = LogOnChange(repeat_s=60.0)
        # (priority, analysed_at, order, job, future): the order number keeps FIFO within a tie
        # and never compares jobs.
        self._queue: queue.PriorityQueue = queue.PriorityQueue()
        self._order = itertools.count()
        self._closed = False
        self._threads = [threading.Thread(target=self._run, name=f"analyzer-{i}", daemon=True)
                         for i in range(threads)]

    def start(self) -> Analyzer:
        for t in self._threads:
            t.start()
        return self

    def submit(self, job: AnalysisJob) -> Future[Observation | None]:
        future: Future[Observation | None] = Future()
        if self.inline:
            self._call(job, future)
        else:
            self._queue.put((0 if job.urgent else 1, job.analysed_at, next(self._order), job, future))
        return future

    def queue_depth(self) -> int:
        return self._queue.qsize()

    def _call(self, job: AnalysisJob, future: Future[Observation | None]) -> None:
        if not future.set_running_or_notify_cancel():
            return                               # cancelled while queued (a scene cut made it stale)
        try:
            future.set_result(search(self.engine, job.frame, job.plan, self.stages, identify_frames(job), job.drift))
        except Exception as err:  # noqa: BLE001 - one bad frame must not stop analysis for every camera
            self._report(err)
            future.set_exception(err)

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
        for t in self._threads:
            if t.is_alive():
                self._queue.put((-1, 0.0, next(self._order), None, None))
        for t in self._threads:
            if t.is_alive():
                t.join(timeout=10)


def identify_frames(job: AnalysisJob) -> Callable[[], tuple[Picture, ...]] | None:
    """What gives the identify-stream frames around the job's frame time (None: the camera has no
    identify stream), waiting at most ``identify_max_skew_s`` for those that arrive after it (the
    analysis thread waits: only a search with a face due an encoding asks)."""
    held = job.identify
    if held is None:
        return None

    def frames() -> tuple[Picture, ...]:
        return held.wait(job.plan.settings.identify_max_skew_s)

    return frames


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

    def detect_turned(self, rgb: np.ndarray) -> list[tuple[int, int, int, int]]:
        with self.stages.timed("turned"):
            return self.engine.detect_turned(rgb)

    def close(self) -> None:
        self.engine.close()


def analysis_threads(live: LiveSettings) -> int:
    """The analyzer's threads. With the engine in processes, one more than there are processes: a
    thread waiting for an identify stream's moment (up to ``identify_max_skew_s``) or preparing
    its frame then leaves no process idle. In this process, as many as set (0: inline)."""
    return live.analysis_threads + 1 if live.analysis_processes and live.analysis_threads else live.analysis_threads


def live_engine(live: LiveSettings, stages: StageTimes) -> Engine:
    """The cameras' engine: in child processes (dlib here would starve camera threads of the GIL),
    or in this process, timed."""
    settings = EngineSettings(detector=live.detector, scale=live.detect_scale, upsample=live.upsample)
    return (ProcessEngine(settings, max(1, live.analysis_threads), stages) if live.analysis_processes
            else TimedEngine(FaceEngine(settings), stages))
