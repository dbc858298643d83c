"""Per-stage costs from the app's ``/metrics``: ``edgeface_stage_seconds_total{stage=…}`` and
``edgeface_stage_calls_total{stage=…}``, differenced over the measurement window."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from edgeface.errors import EdgefaceError

#: In the order a frame meets them. detect/turned/encode run in the analysis processes (their own
#: time, without the hand-over); the rest in the camera worker threads. ``cut``: the per-frame
#: scene-cut check; ``turned``: the CNN where the scene moved and HOG found no face.
STAGES = ("cut", "decode", "detect", "turned", "track", "identify_frames", "identify", "encode", "match",
          "annotate", "jpeg_out")

#: One scrape: ``{(sample name, ((label, value), …) sorted): value}``.
Scrape = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse_metrics(text: str) -> Scrape:
    """Prometheus text → one value per sample, by ``prometheus_client``'s parser."""
    try:
        return {(sample.name, tuple(sorted(sample.labels.items()))): float(sample.value)
                for family in text_string_to_metric_families(text) for sample in family.samples}
    except ValueError as err:
        raise EdgefaceError(f"the app's /metrics is not Prometheus text: {err}",
                            "check that the benchmark talks to edgeface serve, and its log") from None


def stage_costs(before: Scrape, after: Scrape, seconds: float, frames: int) -> dict[str, dict]:
    """Per stage: mean ms per call, calls per second, and ms per output frame (all cameras)."""
    def grown(name: str, stage: str) -> float:
        key = (name, (("stage", stage),))
        return after.get(key, 0.0) - before.get(key, 0.0)

    out = {}
    for stage in STAGES:
        spent, calls = grown("edgeface_stage_seconds_total", stage), grown("edgeface_stage_calls_total", stage)
        if calls <= 0:
            continue
        out[stage] = {"ms_per_call": round(spent * 1e3 / calls, 2), "calls_per_s": round(calls / seconds, 1),
                      "ms_per_frame": round(spent * 1e3 / frames, 2) if frames else None}
    return out


#: Counters summed over cameras: how much analysis the cameras asked for.
COUNTERS = {"detections": "edgeface_detections_total", "detections_skipped_still": "edgeface_detections_skipped_total",
            "encodings": "edgeface_encodings_total", "events": "edgeface_events_total"}


def counter_rates(before: Scrape, after: Scrape, seconds: float) -> dict[str, float]:
    """Per second over the window, all cameras together (absent counters are left out)."""
    out = {}
    for label, name in COUNTERS.items():
        keys = [k for k in after if k[0] == name]
        if keys:
            delta = sum(after[k] - before.get(k, 0.0) for k in keys)
            out[f"{label}_per_s"] = round(delta / seconds, 2)
    return out
