"""The figures the live objects keep for ``/metrics``: a fixed-bucket latency histogram that
each camera worker updates, and CPU time spent per processing stage.

Plain thread-safe counters, no Prometheus types: ``edgeface.live.collector`` reads them at scrape
time and turns them into metric families (one registry per ``LiveService``, no global state).
"""

from __future__ import annotations

import bisect
import threading
import time
from contextlib import contextmanager

LATENCY_BUCKETS_S = (0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0)


class Histogram:
    """Counts per bucket (upper bounds ``buckets``, then +Inf) and the sum of observed values."""

    def __init__(self, buckets: tuple[float, ...] = LATENCY_BUCKETS_S):
        self.buckets = tuple(buckets)
        self.counts = [0] * (len(self.buckets) + 1)   # last: +Inf
        self.sum = 0.0
        self._lock = threading.Lock()

    def observe(self, value: float) -> None:
        with self._lock:
            self.counts[bisect.bisect_left(self.buckets, value)] += 1
            self.sum += value

    def snapshot(self) -> tuple[list[int], float]:
        """Per-bucket counts (not cumulative; the last is +Inf) and the sum, read together."""
        with self._lock:
            return list(self.counts), self.sum


class StageTimes:
    """CPU seconds and calls per processing stage (cut, decode, detect, track, encode, match,
    annotate, jpeg_out), summed over all cameras: where the CPU goes. CPU time of the calling
    thread, not wall time: on a busy machine (or with the GIL contended) wall time would count
    the waiting too."""

    def __init__(self):
        self._lock = threading.Lock()
        self._totals: dict[str, list] = {}   # stage -> [seconds, calls]

    def add(self, stage: str, seconds: float) -> None:
        with self._lock:
            total = self._totals.setdefault(stage, [0.0, 0])
            total[0] += seconds
            total[1] += 1

    @contextmanager
    def timed(self, stage: str):
        start = time.thread_time()
        try:
            yield
        finally:
            self.add(stage, time.thread_time() - start)

    def snapshot(self) -> dict[str, tuple[float, int]]:
        with self._lock:
            return {stage: (seconds, calls) for stage, (seconds, calls) in self._totals.items()}
