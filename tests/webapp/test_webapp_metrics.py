"""``/metrics`` of a running app with a camera, read the way Prometheus reads it: parsed by
``prometheus_client``'s own parser, every family with its type and labels; and the figures the
collector turns into families, on their own."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families
from webapp_helpers import MjpegReader, wait_until

from edgeface.live.collector import cumulative_buckets
from edgeface.live.metrics import Histogram

#: Family name as the parser reports it (counters without ``_total``) → type.
PER_CAMERA = {
    "edgeface_camera_online": "gauge", "edgeface_camera_input_fps": "gauge", "edgeface_camera_output_fps": "gauge",
    "edgeface_camera_last_frame_age_seconds": "gauge", "edgeface_camera_faces": "gauge",
    "edgeface_camera_viewers": "gauge", "edgeface_frames_processed": "counter", "edgeface_detections": "counter",
    "edgeface_detections_skipped": "counter", "edgeface_encodings": "counter",
    "edgeface_processing_latency_seconds": "histogram",
}
SERVICE_WIDE = {
    "edgeface_events": "counter", "edgeface_stage_seconds": "counter", "edgeface_stage_calls": "counter",
    "edgeface_model_loaded": "gauge", "edgeface_model_info": "gauge", "edgeface_model_reloads": "counter",
    "edgeface_analysis_queue_depth": "gauge", "edgeface_analysis_failures": "counter",
}
#: What /api/v1/cameras has told about each camera since the first release: clients rely on it
#: (fields may be added, none dropped or renamed).
CAMERA_FIELDS = {"id", "url", "origin", "online", "fps", "last_frame_age_s", "error", "frames", "corrupt_frames",
                 "output_fps", "faces", "viewers"}
STAGES = ("decode", "detect", "track", "encode", "match", "annotate", "jpeg_out")


def scrape(app) -> dict:
    response = app.get("/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return {family.name: family for family in text_string_to_metric_families(response.text)}


def value(families: dict, family: str, sample: str | None = None, **labels) -> float:
    """The one sample of ``family`` named ``sample`` (default: the family's own) with ``labels``."""
    found = [s.value for s in families[family].samples
             if s.name == (sample or family) and s.labels == labels]
    assert len(found) == 1, f"{sample or family}{labels}: {len(found)} samples"
    return found[0]


@pytest.mark.slow
def test_metrics_parse_and_carry_every_family_per_camera(live_system):
    app, cid = live_system.app, live_system.camera_id

    def annotated_and_named():
        app.get(f"/api/v1/cameras/{cid}/frame.jpg?boxes=drawn")   # someone keeps looking: faces drawn in
        families = scrape(app)
        stages = {s.labels["stage"] for s in families["edgeface_stage_calls"].samples}
        named = [s for s in families["edgeface_events"].samples if s.labels == {"camera": cid, "result": "named"}]
        return families if "jpeg_out" in stages and named else None

    families = wait_until(annotated_and_named, what="annotated frames and a named event in /metrics")
    assert {name: families[name].type for name in {**PER_CAMERA, **SERVICE_WIDE}} == {**PER_CAMERA, **SERVICE_WIDE}

    for name, kind in PER_CAMERA.items():
        if kind != "histogram":
            sample = name + "_total" if kind == "counter" else name
            assert value(families, name, sample, camera=cid) >= 0, name
    assert value(families, "edgeface_camera_online", camera=cid) == 1
    assert value(families, "edgeface_frames_processed", "edgeface_frames_processed_total", camera=cid) > 0

    # The latency histogram: cumulative buckets in order, ending at +Inf with the count.
    buckets = [(s.labels["le"], s.value) for s in families["edgeface_processing_latency_seconds"].samples
               if s.name.endswith("_bucket") and s.labels["camera"] == cid]
    bounds = [float(le) for le, _ in buckets]
    assert bounds == sorted(bounds) and buckets[-1][0] == "+Inf"
    assert [c for _, c in buckets] == sorted(c for _, c in buckets)
    count = value(families, "edgeface_processing_latency_seconds", "edgeface_processing_latency_seconds_count",
                  camera=cid)
    assert count == buckets[-1][1] > 0
    assert value(families, "edgeface_processing_latency_seconds", "edgeface_processing_latency_seconds_sum",
                 camera=cid) > 0

    for stage in STAGES:
        assert value(families, "edgeface_stage_calls", "edgeface_stage_calls_total", stage=stage) > 0, stage
        assert value(families, "edgeface_stage_seconds", "edgeface_stage_seconds_total", stage=stage) >= 0, stage
    model = app.get("/api/v1/model").json()
    assert value(families, "edgeface_model_loaded") == 1
    assert value(families, "edgeface_model_info", version=model["version"]) == 1
    assert value(families, "edgeface_model_reloads", "edgeface_model_reloads_total", result="ok") >= 1

    later = wait_until(lambda: (f := scrape(app)) and value(f, "edgeface_frames_processed",
                       "edgeface_frames_processed_total", camera=cid) > value(
                       families, "edgeface_frames_processed", "edgeface_frames_processed_total", camera=cid) and f,
                       what="more frames processed")
    assert value(later, "edgeface_events", "edgeface_events_total", camera=cid, result="named") >= \
        value(families, "edgeface_events", "edgeface_events_total", camera=cid, result="named")


@pytest.mark.slow
def test_an_open_feed_counts_as_one_viewer_until_it_closes(live_system):
    app, cid = live_system.app, live_system.camera_id
    viewers = lambda: value(scrape(app), "edgeface_camera_viewers", camera=cid)
    wait_until(lambda: viewers() == 0, what="no viewers before the feed opens")
    with app.get(f"/video_feed/{cid}", stream=True) as response:
        # Held: a reader collected at once closes its chunk generator, and urllib3 then drops the
        # connection, so the server would end the feed while the test still asks.
        reader = MjpegReader(response)
        reader.read(2)
        assert viewers() == 1
        camera = app.camera(cid)
        assert set(camera) >= CAMERA_FIELDS and camera["viewers"] == 1
        reader.read(1)                   # still open: nothing ended it but the client
    wait_until(lambda: viewers() == 0, what="the closed feed to stop counting")


def test_latency_histogram_buckets_are_cumulative():
    hist = Histogram(buckets=(0.1, 1.0))
    for seconds in (0.05, 0.1, 0.5, 5.0):
        hist.observe(seconds)
    buckets, total = cumulative_buckets(hist)
    assert buckets == [("0.1", 2), ("1.0", 3), ("+Inf", 4)]       # le: at or below the bound
    assert total == pytest.approx(5.65)
