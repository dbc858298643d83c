"""``/metrics``: a Prometheus collector that reads the live objects at scrape time.

Nothing is counted twice: the workers, pipelines, event store and model holder keep their own
figures, and ``LiveCollector.collect`` turns the current values into metric families when
Prometheus scrapes. Each ``LiveService`` has its own ``CollectorRegistry`` (``metrics_registry``),
never the process-wide default one: two apps in one process (the tests) would share it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from edgeface.live.metrics import Histogram
from edgeface.uplink.metrics import uplink_metrics

if TYPE_CHECKING:
    from edgeface.live.service import CameraStatus, LiveService
    from edgeface.live.worker import CameraWorker

#: What ``generate_latest`` writes: the classic text format (``prometheus_client``'s newest
#: default content type announces 1.0.0, which older scrapers do not all accept).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_Camera = tuple["CameraStatus", "CameraWorker"]


def metrics_registry(service: LiveService) -> CollectorRegistry:
    """A registry of its own for ``service``; ``generate_latest(registry)`` renders it."""
    registry = CollectorRegistry(auto_describe=False)    # describing would scrape before start()
    registry.register(LiveCollector(service))
    return registry


class LiveCollector(Collector):
    """Cameras, pipelines, events, stage CPU time, the model and the analyzer of one service."""

    def __init__(self, service: LiveService):
        self._service = service

    def collect(self) -> Iterator[Metric]:
        svc = self._service
        # Status and worker read once per camera, so all families of a scrape agree on the cameras.
        cameras = [(status, worker) for status in svc.cameras() if (worker := svc.worker(status.id)) is not None]
        yield from self._cameras(cameras)
        yield self._latency(cameras)
        events = CounterMetricFamily("edgeface_events_total", "recognition events recorded",
                                     labels=["camera", "result"])
        for (camera, named), count in sorted(svc.events.counts.items()):
            events.add_metric([camera, "named" if named else "unknown"], count)
        yield events
        yield from self._stages()
        yield from self._model()
        yield from uplink_metrics(svc.uplink)    # faces per model version, MQTT, outbox
        analyzer = svc.analyzer
        yield GaugeMetricFamily("edgeface_analysis_queue_depth", "analysis jobs waiting",
                                value=analyzer.queue_depth() if analyzer else 0)
        yield CounterMetricFamily("edgeface_analysis_failures_total", "detections/encodings that failed",
                                  value=analyzer.failures if analyzer else 0)

    @staticmethod
    def _cameras(cameras: list[_Camera]) -> Iterator[Metric]:
        def family(kind: type[GaugeMetricFamily] | type[CounterMetricFamily], name: str, help_text: str,
                   value: Callable[[CameraStatus, CameraWorker], float]) -> Metric:
            metric = kind(name, help_text, labels=["camera"])
            for status, worker in cameras:
                metric.add_metric([status.id], value(status, worker))
            return metric

        gauge, counter = GaugeMetricFamily, CounterMetricFamily
        yield family(gauge, "edgeface_camera_online", "1 when frames arrived within the stall timeout",
                     lambda s, w: s.online)
        yield family(gauge, "edgeface_camera_input_fps", "frames per second received", lambda s, w: s.fps)
        yield family(gauge, "edgeface_camera_output_fps", "annotated frames per second produced",
                     lambda s, w: s.output_fps)
        yield family(gauge, "edgeface_camera_last_frame_age_seconds", "seconds since the last frame",
                     lambda s, w: math.nan if s.last_frame_age_s is None else s.last_frame_age_s)
        yield family(gauge, "edgeface_camera_faces", "faces tracked in the latest frame", lambda s, w: s.faces)
        yield family(gauge, "edgeface_camera_viewers", "open video feeds", lambda s, w: s.viewers)
        yield family(gauge, "edgeface_camera_analysis_lag_seconds", "age of the camera's newest analysis",
                     lambda s, w: math.nan if s.analysis_lag_s is None else s.analysis_lag_s)
        yield family(gauge, "edgeface_camera_detections_per_second", "detections achieved (skipped when still: done)",
                     lambda s, w: s.detections_per_s)
        yield family(gauge, "edgeface_camera_detections_planned_per_second", "detections planned",
                     lambda s, w: s.detections_planned_per_s)
        yield family(counter, "edgeface_frames_processed_total", "frames run through the pipeline",
                     lambda s, w: w.pipeline.stats.frames)
        yield family(counter, "edgeface_detections_total", "face detection passes",
                     lambda s, w: w.pipeline.stats.detections)
        yield family(counter, "edgeface_detections_skipped_total",
                     "periodic detections skipped because nothing moved since the last one",
                     lambda s, w: w.pipeline.stats.still_skips)
        yield family(counter, "edgeface_encodings_total", "face encodings computed",
                     lambda s, w: w.pipeline.stats.encodings)

    @staticmethod
    def _latency(cameras: list[_Camera]) -> Metric:
        metric = HistogramMetricFamily("edgeface_processing_latency_seconds", "frame arrival to annotated output",
                                       labels=["camera"])
        for status, worker in cameras:
            buckets, total = cumulative_buckets(worker.latency)
            metric.add_metric([status.id], buckets, total)
        return metric

    def _stages(self) -> Iterator[Metric]:
        stages = sorted(self._service.stages.snapshot().items())
        seconds = CounterMetricFamily("edgeface_stage_seconds_total", "CPU seconds per processing stage, all cameras",
                                      labels=["stage"])
        calls = CounterMetricFamily("edgeface_stage_calls_total", "calls per processing stage, all cameras",
                                    labels=["stage"])
        for stage, (spent, count) in stages:
            seconds.add_metric([stage], spent)
            calls.add_metric([stage], count)
        yield seconds
        yield calls

    def _model(self) -> Iterator[Metric]:
        model = self._service.model_status()
        yield GaugeMetricFamily("edgeface_model_loaded", "1 when a model is in use", value=model.loaded)
        info = GaugeMetricFamily("edgeface_model_info", "the model version in use", labels=["version"])
        if model.loaded:
            info.add_metric([str(model.version)], 1)
        yield info
        reloads = CounterMetricFamily("edgeface_model_reloads_total", "model loads by result", labels=["result"])
        for result, count in model.reloads.items():
            reloads.add_metric([result], count)
        yield reloads


def cumulative_buckets(histogram: Histogram) -> tuple[list[tuple[str, float]], float]:
    """``histogram`` as Prometheus wants it: ``(le, count at or below le)`` ending at +Inf, and the sum."""
    counts, total = histogram.snapshot()
    bounds = [repr(float(b)) for b in histogram.buckets] + ["+Inf"]
    running, buckets = 0, list[tuple[str, float]]()
    for bound, count in zip(bounds, counts):
        running += count
        buckets.append((bound, running))
    return buckets, total
