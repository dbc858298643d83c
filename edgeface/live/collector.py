"""``/metrics``: a Prometheus collector that turns one ``LiveSnapshot`` into metric families.

Nothing is counted twice: the workers, pipelines, event store and model holder keep their own
figures, ``snapshot.take_snapshot`` reads them into one typed value when Prometheus scrapes, and
``LiveCollector.collect`` only translates it. The web app builds one ``CollectorRegistry`` per app
(``metrics_registry``), never the process-wide default one: two apps in one process (the tests)
would share it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from edgeface.live.metrics import Histogram
from edgeface.live.snapshot import CameraFigures, LiveSnapshot
from edgeface.uplink.metrics import uplink_metrics

#: What ``generate_latest`` writes: the classic text format (``prometheus_client``'s newest
#: default content type announces 1.0.0, which older scrapers do not all accept).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def metrics_registry(snapshot: Callable[[], LiveSnapshot]) -> CollectorRegistry:
    """A registry of its own for the service whose ``snapshot`` it reads at each scrape;
    ``generate_latest(registry)`` renders it."""
    registry = CollectorRegistry(auto_describe=False)    # describing would scrape before start()
    registry.register(LiveCollector(snapshot))
    return registry


class LiveCollector(Collector):
    """Cameras, pipelines, events, stage CPU time, the model and the analyzer of one service."""

    def __init__(self, snapshot: Callable[[], LiveSnapshot]):
        self._snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        snap = self._snapshot()            # read once: all families of a scrape agree
        yield from self._cameras(snap.cameras)
        yield self._latency(snap.cameras)
        events = CounterMetricFamily("edgeface_events_total", "recognition events recorded",
                                     labels=["camera", "result"])
        for (camera, named), count in sorted(snap.events.items()):
            events.add_metric([camera, "named" if named else "unknown"], count)
        yield events
        yield from self._stages(snap)
        yield from self._model(snap)
        yield from uplink_metrics(snap.faces_by_version, snap.uplink)    # faces per model version, MQTT, outbox
        shadow = CounterMetricFamily("edgeface_shadow_faces_total", "faces matched by the serving version and "
                                     "the candidate, by how their decisions compare", labels=["camera", "candidate",
                                                                                            "result"])
        for candidate, cameras in sorted(snap.shadow.items()):
            for camera, results in sorted(cameras.items()):
                for result, count in results.items():
                    shadow.add_metric([camera, candidate, result], count)
        yield shadow
        yield GaugeMetricFamily("edgeface_analysis_queue_depth", "analysis jobs waiting",
                                value=snap.analysis_queue_depth)
        yield CounterMetricFamily("edgeface_analysis_failures_total", "detections/encodings that failed",
                                  value=snap.analysis_failures)

    @staticmethod
    def _cameras(cameras: list[CameraFigures]) -> Iterator[Metric]:
        def family(kind: type[GaugeMetricFamily] | type[CounterMetricFamily], name: str, help_text: str,
                   value: Callable[[CameraFigures], float]) -> Metric:
            metric = kind(name, help_text, labels=["camera"])
            for camera in cameras:
                metric.add_metric([camera.id], value(camera))
            return metric

        gauge, counter = GaugeMetricFamily, CounterMetricFamily
        yield family(gauge, "edgeface_camera_online", "1 when frames arrived within the stall timeout",
                     lambda c: c.online)
        yield family(gauge, "edgeface_camera_input_fps", "frames per second received", lambda c: c.fps)
        yield family(gauge, "edgeface_camera_output_fps", "annotated frames per second produced",
                     lambda c: c.output_fps)
        yield family(gauge, "edgeface_camera_last_frame_age_seconds", "seconds since the last frame",
                     lambda c: math.nan if c.last_frame_age_s is None else c.last_frame_age_s)
        yield family(gauge, "edgeface_camera_faces", "faces tracked in the latest frame", lambda c: c.faces)
        yield family(gauge, "edgeface_camera_viewers", "open video feeds", lambda c: c.viewers)
        yield family(gauge, "edgeface_camera_analysis_lag_seconds", "age of the camera's newest analysis",
                     lambda c: math.nan if c.analysis_lag_s is None else c.analysis_lag_s)
        yield family(gauge, "edgeface_camera_detections_per_second", "detections achieved (skipped when still: done)",
                     lambda c: c.detections_per_s)
        yield family(gauge, "edgeface_camera_detections_planned_per_second", "detections planned",
                     lambda c: c.detections_planned_per_s)
        yield family(counter, "edgeface_frames_processed_total", "frames run through the pipeline",
                     lambda c: c.frames)
        yield family(counter, "edgeface_detections_total", "face detection passes", lambda c: c.detections)
        yield family(counter, "edgeface_detections_skipped_total",
                     "periodic detections skipped because nothing moved since the last one",
                     lambda c: c.still_skips)
        yield family(counter, "edgeface_encodings_total", "face encodings computed", lambda c: c.encodings)

    @staticmethod
    def _latency(cameras: list[CameraFigures]) -> Metric:
        metric = HistogramMetricFamily("edgeface_processing_latency_seconds", "frame arrival to annotated output",
                                       labels=["camera"])
        for camera in cameras:
            buckets, total = cumulative_buckets(camera.latency)
            metric.add_metric([camera.id], buckets, total)
        return metric

    @staticmethod
    def _stages(snap: LiveSnapshot) -> Iterator[Metric]:
        seconds = CounterMetricFamily("edgeface_stage_seconds_total", "CPU seconds per processing stage, all cameras",
                                      labels=["stage"])
        calls = CounterMetricFamily("edgeface_stage_calls_total", "calls per processing stage, all cameras",
                                    labels=["stage"])
        for stage, (spent, count) in sorted(snap.stages.items()):
            seconds.add_metric([stage], spent)
            calls.add_metric([stage], count)
        yield seconds
        yield calls

    @staticmethod
    def _model(snap: LiveSnapshot) -> Iterator[Metric]:
        yield GaugeMetricFamily("edgeface_model_loaded", "1 when a model is in use", value=snap.model_loaded)
        info = GaugeMetricFamily("edgeface_model_info", "the model version in use", labels=["version"])
        if snap.model_loaded:
            info.add_metric([str(snap.model_version)], 1)
        yield info
        reloads = CounterMetricFamily("edgeface_model_reloads_total", "model loads by result", labels=["result"])
        for result, count in snap.model_reloads.items():
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
