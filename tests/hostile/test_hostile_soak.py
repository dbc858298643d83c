"""``edgeface bench --suite soak --quick``: about a minute of every abuse at once against the real
app (camera killed and restarted, garbage and oversized streams, viewers, slow clients, uploads,
model reloads). No timing thresholds: the app survives and the good camera keeps streaming."""

from __future__ import annotations

import json

from helpers import run_cli


def test_quick_soak_has_no_crash_and_good_cameras_stream(sample_model):
    proc = run_cli("bench", "--suite", "soak", "--quick", "--model", str(sample_model), "--json", timeout=600)
    report = json.loads(proc.stdout)
    assert report["crashes"] == [] and report["tracebacks_in_log"] == 0, report
    assert report["good_cameras_online_at_end"] and report["good_camera_fps"]["min"] > 0, report
    counts = report["counts"]
    # Every kind of abuse really happened.
    for kind in ("chaos_kills", "model_replacements", "upload_200", "viewer_200", "slow_closed_by_app"):
        assert counts.get(kind, 0) > 0, (kind, counts)
    assert report["model_reloads"].get("ok", 0) >= 1 and not report["model_reloads"].get("failed"), report
    assert report["healthz_ms"]["probes"] > 0 and "healthz_errors" not in counts, report
    assert report["errors"] == {}, report
