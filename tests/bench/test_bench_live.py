"""``edgeface bench`` end to end on a few frames: the real app, a real simulated camera, a viewer.

A smoke test of the command's plumbing, never of speed: it checks that the JSON has every
figure, that frames flowed and were mapped back to the source, not how fast anything was.
"""

from __future__ import annotations

import json

import pytest
from helpers import run_cli

from edgeface.tools.bench_live import format_table

REQUIRED = ("cameras", "fps_per_camera", "named_frame_recall", "first_name_latency_ms", "cpu_ms_per_frame",
            "rss_mb", "reference_fps", "stages", "reference", "machine", "goal")


@pytest.fixture(scope="module")
def bench_result(media_dir, tmp_path_factory):
    logs = tmp_path_factory.mktemp("bench")
    proc = run_cli("bench", "--cameras", "1", "--source", str(media_dir / "video" / "short_hamilton_clip.mp4"),
                   "--reference-frames", "12", "--warmup", "2", "--duration", "10", "--logs", str(logs), "--json",
                   timeout=400)
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, f"--json must print exactly one line:\n{proc.stdout}"
    return json.loads(lines[0]), logs


@pytest.mark.slow
def test_bench_reports_every_figure(bench_result):
    result, _ = bench_result
    assert all(key in result for key in REQUIRED), set(REQUIRED) - set(result)
    assert result["cameras"] == 1 and list(result["fps_by_camera"]) == ["bench-1"]
    assert result["fps_per_camera"] > 0                       # frames reached the viewer
    assert result["reference"]["frames"] == 12 and result["reference_fps"] > 0
    assert set(result["reference"]["stage_ms"]) >= {"decode", "detect", "encode", "match", "jpeg_out"}
    assert "detect" in result["stages"]                       # the app's /metrics were read
    assert result["rss_mb"] > 0 and result["cpu_ms_per_frame"] > 0 and result["app_processes"] >= 2
    assert result["goal"]["fps_per_camera"]["target"] == 29.0


@pytest.mark.slow
def test_bench_maps_output_frames_back_to_source_frames(bench_result):
    result, logs = bench_result
    frames = [json.loads(line) for line in (logs / "frames.jsonl").read_text().splitlines()]
    stamped = [f for f in frames if f["frame"] is not None]
    assert stamped and len(stamped) == len(frames), "every frame the app sent carries the camera's frame number"
    assert all(0 <= f["frame"] < 275 for f in stamped)
    # 10 s is longer than the clip: its first 12 frames (a face, in the reference) were seen and scored.
    assert any(f["reference"] for f in stamped)
    assert result["named_frame_recall"] is not None and 0.0 <= result["named_frame_recall"] <= 1.0
    assert any(f["faces"] for f in stamped), "the app annotated faces and said so in its frame comment"


@pytest.mark.slow
def test_bench_table_names_the_goal(bench_result):
    table = format_table(bench_result[0])
    assert "output fps, slowest camera" in table and "goal 29" in table and "reference fps" in table


def test_bench_refuses_bad_input_with_a_hint(tmp_path):
    proc = run_cli("bench", "--source", str(tmp_path / "missing.mp4"), check=False)
    assert proc.returncode == 2 and "not found" in proc.stderr and "--source" in proc.stderr
    proc = run_cli("bench", "--app-env", "EDGEFACE_API_TOKEN=x", check=False)
    assert proc.returncode == 2 and "EDGEFACE_LIVE_" in proc.stderr


@pytest.mark.slow
def test_bench_compares_the_browser_overlay_with_drawn_frames_in_one_run(media_dir, tmp_path):
    """--overlay both: drawn frames, then the camera's frames with the faces as events, back to back."""
    proc = run_cli("bench", "--cameras", "1", "--source", str(media_dir / "video" / "short_hamilton_clip.mp4"),
                   "--reference-frames", "12", "--warmup", "2", "--duration", "8", "--overlay", "both", "--json",
                   timeout=400)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    compare = result["overlay_compare"]
    assert list(compare) == ["drawn", "browser"] and result["overlay"] == "browser"
    assert all(c["cpu_ms_per_frame"] > 0 and c["fps_per_camera"] > 0 for c in compare.values())
    # Only drawn frames are drawn on and encoded again; the browser's are the camera's bytes.
    assert compare["drawn"]["stages"]["annotate"]["calls_per_s"] > 0
    assert compare["drawn"]["stages"]["jpeg_out"]["calls_per_s"] > 0
    assert not compare["browser"]["stages"].get("jpeg_out", {}).get("calls_per_s")
    # The faces reached the browser-side viewer through the event stream, matched to the frames.
    assert compare["browser"]["named_frame_recall"] is not None and compare["browser"]["named_frame_recall"] > 0
    assert "overlay, back to back" in format_table(result)
