"""Prometheus text exposition, built at scrape time from the live objects (no global registry).

Only what the app needs: gauges and counters written from current state, a fixed-bucket
histogram for processing latency that the camera workers update, and time spent per stage.
"""

from __future__ import annotations

import bisect
import threading
import time
from contextlib import contextmanager

LATENCY_BUCKETS_S = (0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0)


class Histogram:
    def __init__(self, buckets=LATENCY_BUCKETS_S):
        self.buckets = tuple(buckets)
        self.counts = [0] * (len(self.buckets) + 1)   # last: +Inf
        self.sum = 0.0
        self._lock = threading.Lock()

    def observe(self, value: float) -> None:
        with self._lock:
            self.counts[bisect.bisect_left(self.buckets, value)] += 1
            self.sum += value

    def snapshot(self) -> tuple[list[int], float]:
        with self._lock:
            return list(self.counts), self.sum


class StageTimes:
    """CPU seconds and calls per processing stage (cut, decode, detect, track, encode, match,
    annotate, jpeg_out), summed over all cameras: where the CPU goes. CPU time of the calling
    thread, not wall time: on a busy machine (or with the GIL contended) wall time would count
    the waiting too."""

    def __init__(self):
        self._lock = threading.Lock()
        self._totals: dict[str, list] = {}

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


def _labels(labels: dict) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{k}="{_escape(str(v))}"' for k, v in labels.items())
    return "{" + inner + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(v) -> str:
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, float):
        return repr(v) if v == v and v not in (float("inf"), float("-inf")) else ("NaN" if v != v else "+Inf")
    return str(v)


class Exposition:
    """Accumulates metric families and renders them as ``text/plain; version=0.0.4``."""

    def __init__(self):
        self._lines: list[str] = []

    def family(self, name: str, kind: str, help_text: str, samples) -> None:
        """``samples``: iterable of (labels dict, value)."""
        self._lines.append(f"# HELP {name} {help_text}")
        self._lines.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            self._lines.append(f"{name}{_labels(labels)} {_number(value)}")

    def histogram(self, name: str, help_text: str, series) -> None:
        """``series``: iterable of (labels dict, Histogram)."""
        self._lines.append(f"# HELP {name} {help_text}")
        self._lines.append(f"# TYPE {name} histogram")
        for labels, hist in series:
            counts, total = hist.snapshot()
            running = 0
            for bound, count in zip(list(hist.buckets) + ["+Inf"], counts):
                running += count
                le = bound if bound == "+Inf" else repr(float(bound))
                self._lines.append(f"{name}_bucket{_labels({**labels, 'le': le})} {running}")
            self._lines.append(f"{name}_sum{_labels(labels)} {float(total)!r}")
            self._lines.append(f"{name}_count{_labels(labels)} {running}")

    def render(self) -> str:
        return "\n".join(self._lines) + "\n"
