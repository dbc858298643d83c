"""A worker — pipeline and thread — for every camera the registry holds, and what they report."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import fields

from edgeface.history.cameras import CameraOptions
from edgeface.live.interface import CameraFeed, CameraStatus
from edgeface.live.marks import MarkBoard
from edgeface.live.pipeline import FramePipeline
from edgeface.live.recorder import ClipRecorder
from edgeface.live.snapshot import CameraFigures
from edgeface.live.worker import CameraWorker

_STATUS_FIELDS = frozenset(f.name for f in fields(CameraStatus))


class CameraWorkers:
    """Started and stopped by the registry's notifications (``added``, ``removed``); ``close()``
    stops the ones left. ``pipeline(camera_id)`` makes a camera's pipeline."""

    def __init__(self, pipeline: Callable[[str], FramePipeline], stopping: threading.Event,
                 board: MarkBoard | None = None, recorder: Callable[[str], ClipRecorder | None] | None = None):
        self._pipeline = pipeline
        self._recorder = recorder          # a camera's clip recorder (None: no clips)
        self._stopping = stopping
        self.board = board or MarkBoard()    # every camera's faces, for the browsers watching
        self._workers: dict[str, CameraWorker] = {}
        self._lock = threading.Lock()

    def added(self, source) -> None:
        if self._stopping.is_set():
            return
        worker = CameraWorker(source, self._pipeline(source.id), self.board,
                              self._recorder(source.id) if self._recorder else None)
        with self._lock:
            old = self._workers.pop(source.id, None)
            self._workers[source.id] = worker
        if old is not None:
            old.close()
        worker.start()

    def removed(self, source) -> None:
        with self._lock:
            worker = self._workers.get(source.id)
            if worker is None or worker.source is not source:
                return
            del self._workers[source.id]
        worker.close()

    def close(self) -> None:
        self.board.close()                   # the browsers' streams end now
        with self._lock:
            leftovers = list(self._workers.values())
            self._workers.clear()
        for worker in leftovers:
            worker.close()

    def worker(self, camera_id: str) -> CameraWorker | None:
        return self._workers.get(camera_id)

    def status(self, camera_id: str) -> CameraStatus | None:
        worker = self._workers.get(camera_id)
        if worker is None:
            return None
        # Only what CameraStatus names reaches the API: a new source field is added there too.
        source = {k: v for k, v in worker.source.status().items() if k in _STATUS_FIELDS}
        health = worker.pipeline.health()
        return CameraStatus(**source, output_fps=round(worker.output_fps(), 2), faces=worker.faces_now,
                            viewers=worker.viewers, analysis_lag_s=health["analysis_lag_s"],
                            detections_per_s=health["detections_per_s"],
                            detections_planned_per_s=health["detections_planned_per_s"])

    def figures(self, camera_ids: list[str]) -> list[CameraFigures]:
        """Status and counters of each camera, read once (``/metrics``)."""
        out = []
        for camera_id in camera_ids:
            worker, status = self._workers.get(camera_id), self.status(camera_id)
            if worker is None or status is None:
                continue
            stats = worker.pipeline.stats
            out.append(CameraFigures(
                status.id, status.online, status.fps, status.output_fps, status.last_frame_age_s, status.faces,
                status.viewers, status.analysis_lag_s, status.detections_per_s, status.detections_planned_per_s,
                stats.frames, stats.detections, stats.still_skips, stats.encodings, worker.latency))
        return out

    def feed(self, camera_id: str, drawn: bool = False) -> CameraFeed | None:
        worker = self._workers.get(camera_id)
        if worker is None:
            return None
        return CameraFeed(worker.drawn if drawn else worker.broadcaster, self._stopping)

    def set_options(self, camera_id: str, options: CameraOptions) -> None:
        """The operator's new settings, applied to the running camera."""
        worker = self._workers.get(camera_id)
        if worker is not None:
            worker.pipeline.options = options
            # A disabled camera is not read at all (no frames pulled over the network).
            (worker.source.resume if options.enabled else worker.source.pause)()

    def health(self, camera_id: str) -> dict:
        """Age of the newest analysis and who is on the camera now (the console's tiles)."""
        worker = self._workers.get(camera_id)
        return {"analysis_lag_s": None, "people_now": []} if worker is None else worker.pipeline.health()
