"""Per-stage costs from the app's ``/metrics``: ``edgeface_stage_seconds_total{stage=…}`` and
``edgeface_stage_calls_total{stage=…}``, differenced over the measurement window."""

from __future__ import annotations

import re

#: In the order a frame meets them. detect/encode run in the analysis processes (their own
#: time, without the hand-over); the rest in the camera worker threads. ``cut``: the per-frame
#: scene-cut check.
STAGES = ("cut", "decode", "detect", "track", "encode", "match", "annotate", "jpeg_out")

_SAMPLE = re.compile(r'^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)$')
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text: str) -> dict[tuple[str, tuple], float]:
    """Prometheus text → ``{(name, ((label, value), …)): value}``."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if m:
            labels = tuple(sorted(_LABEL.findall(m.group(2) or "")))
            try:
                out[(m.group(1), labels)] = float(m.group(3))
            except ValueError:
                continue
    return out


def stage_costs(before: dict, after: dict, seconds: float, frames: int) -> dict[str, dict]:
    """Per stage: mean ms per call, calls per second, and ms per output frame (all cameras)."""
    out = {}
    for stage in STAGES:
        key = (("stage", stage),)
        spent = after.get(("edgeface_stage_seconds_total", key), 0.0) - before.get(("edgeface_stage_seconds_total", key), 0.0)
        calls = after.get(("edgeface_stage_calls_total", key), 0.0) - before.get(("edgeface_stage_calls_total", key), 0.0)
        if calls <= 0:
            continue
        out[stage] = {"ms_per_call": round(spent * 1e3 / calls, 2), "calls_per_s": round(calls / seconds, 1),
                      "ms_per_frame": round(spent * 1e3 / frames, 2) if frames else None}
    return out


#: Counters summed over cameras: how much analysis the cameras asked for.
COUNTERS = {"detections": "edgeface_detections_total", "detections_skipped_still": "edgeface_detections_skipped_total",
            "encodings": "edgeface_encodings_total", "events": "edgeface_events_total"}


def counter_rates(before: dict, after: dict, seconds: float) -> dict[str, float]:
    """Per second over the window, all cameras together (absent counters are left out)."""
    out = {}
    for label, name in COUNTERS.items():
        keys = [k for k in after if k[0] == name]
        if keys:
            delta = sum(after[k] - before.get(k, 0.0) for k in keys)
            out[f"{label}_per_s"] = round(delta / seconds, 2)
    return out
