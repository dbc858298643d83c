"""One typed snapshot of the live service's figures, read by ``/metrics`` at scrape time."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from edgeface.live.metrics import Histogram

if TYPE_CHECKING:
    from edgeface.live.service import LiveService


@dataclass(frozen=True)
class CameraFigures:
    id: str
    online: bool
    fps: float
    output_fps: float
    last_frame_age_s: float | None
    faces: int
    viewers: int
    analysis_lag_s: float | None
    detections_per_s: float
    detections_planned_per_s: float
    frames: int                   # run through the pipeline
    detections: int
    still_skips: int
    encodings: int
    latency: Histogram            # frame arrival to output


@dataclass(frozen=True)
class LiveSnapshot:
    cameras: list[CameraFigures]
    events: dict[tuple[str, bool], int]            # (camera, named) -> recorded events
    stages: dict[str, tuple[float, int]]           # stage -> (CPU seconds, calls)
    model_loaded: bool
    model_version: str | None
    model_reloads: dict[str, int]
    faces_by_version: dict[str, dict[str, int]]    # model version -> result -> faces
    shadow: dict[str, dict[str, dict[str, int]]]   # candidate version -> camera -> result -> faces
    uplink: dict = field(default_factory=dict)     # ``Uplink.status()``
    analysis_queue_depth: int = 0
    analysis_failures: int = 0


def take_snapshot(service: LiveService) -> LiveSnapshot:
    model, analyzer, uplink = service.model_status(), service.analyzer, service.uplink
    return LiveSnapshot(
        service.workers.figures(service.camera_ids()), dict(service.history.counts), service.stages.snapshot(),
        model.loaded, model.version, model.reloads, uplink.stats.counts(), uplink.stats.shadow(), uplink.status(),
        analyzer.queue_depth() if analyzer else 0, analyzer.failures if analyzer else 0)
