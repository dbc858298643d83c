"""The uplink's figures for ``/metrics`` (``edgeface.live.collector`` yields them): faces per model
version and result, MQTT delivery, the capture outbox."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric


def uplink_metrics(faces_by_version: dict[str, dict[str, int]], status: dict) -> Iterator[Metric]:
    """``faces_by_version``: ``Uplink.stats.counts()``; ``status``: ``Uplink.status()``."""
    faces = CounterMetricFamily("edgeface_faces_total", "faces judged per model version: named, unknown, or "
                                "near_threshold (distance within 0.05 of the tolerance; not counted as the others)",
                                labels=["model_version", "result"])
    for version, counts in sorted(faces_by_version.items()):
        for result, count in counts.items():
            faces.add_metric([version, result], count)
    yield faces
    mqtt, outbox, captures = status.get("mqtt"), status.get("outbox"), status.get("captures")
    if mqtt is not None:
        yield GaugeMetricFamily("edgeface_mqtt_connected", "1 while connected to the MQTT broker",
                                value=mqtt["connected"])
        yield GaugeMetricFamily("edgeface_mqtt_queued", "events waiting for the broker", value=mqtt["queued"])
        yield CounterMetricFamily("edgeface_mqtt_sent_total", "events the broker acknowledged", value=mqtt["sent"])
        yield CounterMetricFamily("edgeface_mqtt_dropped_total", "events dropped past the queue limit",
                                  value=mqtt["dropped"])
        yield CounterMetricFamily("edgeface_mqtt_connects_total", "connections made to the broker",
                                  value=mqtt["connects"])
    if outbox is not None:
        yield GaugeMetricFamily("edgeface_outbox_pending", "captures waiting for S3", value=outbox["pending"])
        yield GaugeMetricFamily("edgeface_outbox_pending_bytes", "bytes of captures waiting for S3",
                                value=outbox["pending_bytes"])
        for key, help_text in (("shipped", "captures stored in S3"),
                               ("dropped", "captures dropped past the disk quota"),
                               ("expired", "captures deleted unsent after the retention time"),
                               ("failures", "failed S3 uploads (retried)")):
            yield CounterMetricFamily(f"edgeface_outbox_{key}_total", help_text, value=outbox[key])
    if captures is not None:
        made = CounterMetricFamily("edgeface_captures_total", "candidate faces: kept as captures, refused by the "
                                   "quality gate, skipped (capture queue full), merged into a visit's or the "
                                   "day's capture, capped (camera's hour full); sampled: confident names kept "
                                   "for the accuracy check (part of kept)", labels=["result"])
        for result in ("kept", "refused", "skipped", "merged", "capped", "sampled"):
            made.add_metric([result], captures[result])
        yield made
