"""Analysis health of a running camera, as an operator's tools read it: ``/api/v1/cameras``
(the age of the newest analysis, detections per second achieved against planned) and the same
figures in ``/metrics``."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families
from webapp_helpers import find_camera, wait_until

from edgeface.settings import LiveSettings

HEALTH = ("analysis_lag_s", "detections_per_s", "detections_planned_per_s")


@pytest.mark.slow
def test_cameras_report_analysis_health_in_the_api_and_metrics(live_system):
    app, port, cid = live_system.app, live_system.camera.port, live_system.camera_id
    planned = round(1 / LiveSettings().detect_interval_s, 2)

    def analysing():
        cam = find_camera(app, port)
        return cam if cam and cam["analysis_lag_s"] is not None and cam["detections_per_s"] > 0 else None

    cam = wait_until(analysing, what="the camera's analysis health in /api/v1/cameras")
    assert cam["detections_planned_per_s"] == planned
    assert cam["analysis_lag_s"] >= 0 and 0 < cam["detections_per_s"] <= planned * 1.5, cam
    families = {f.name: f for f in text_string_to_metric_families(app.get("/metrics").text)}
    for family in ("edgeface_camera_analysis_lag_seconds", "edgeface_camera_detections_per_second",
                   "edgeface_camera_detections_planned_per_second"):
        samples = [s for s in families[family].samples if s.labels == {"camera": cid}]
        assert families[family].type == "gauge" and len(samples) == 1, family
    (planned_sample,) = [s for s in families["edgeface_camera_detections_planned_per_second"].samples
                         if s.labels == {"camera": cid}]
    assert planned_sample.value == planned
