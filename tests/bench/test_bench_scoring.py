"""The benchmark's bookkeeping on hand-made inputs: JPEG comments, recall, latency, /proc figures."""

from __future__ import annotations

import math
import os

import cv2
import numpy as np
import pytest

from edgeface.errors import EdgefaceError
from edgeface.images import decode_jpeg, encode_jpeg
from edgeface.jpegmeta import ANNOTATION, FRAME_STAMP, add_comment, comment_with_prefix, comments
from edgeface.tools.bench_live import procstats
from edgeface.tools.bench_live.metrics import parse_metrics, stage_costs
from edgeface.tools.bench_live.scoring import Appearance, appearances, first_name_latencies, percentile, recall_counts
from edgeface.tools.bench_live.viewer import Received, read_frame

LIN, ALEX = "Lin-Manuel Miranda", "Alex Lacamoire"


@pytest.fixture(scope="module")
def jpeg() -> bytes:
    img = np.zeros((36, 64, 3), np.uint8)
    cv2.rectangle(img, (10, 5), (40, 30), (0, 200, 0), -1)
    return encode_jpeg(img)


def test_comments_survive_and_the_image_still_decodes(jpeg):
    stamped = add_comment(add_comment(jpeg, FRAME_STAMP + b"41"), ANNOTATION + b'{"faces": []}')
    assert comments(jpeg) == []
    assert set(comments(stamped)) == {FRAME_STAMP + b"41", ANNOTATION + b'{"faces": []}'}
    assert comment_with_prefix(stamped, FRAME_STAMP) == b"41"
    assert np.array_equal(decode_jpeg(stamped), decode_jpeg(jpeg))


def test_comments_reject_what_is_not_a_jpeg():
    with pytest.raises(ValueError, match="not a JPEG"):
        add_comment(b"GIF89a", b"x")
    with pytest.raises(ValueError, match="too long"):
        add_comment(b"\xff\xd8\xff\xd9", b"x" * 70000)
    assert comments(b"\xff\xd8\xff\xfe\x00") == []          # truncated header: nothing, no crash


def test_a_viewer_reads_stamp_and_drawn_names(jpeg):
    meta = b'{"arrived": 12.5, "faces": [{"name": "%s", "state": "named"}, {"name": "Unknown", "state": "unknown"}]}'
    frame = read_frame(add_comment(add_comment(jpeg, FRAME_STAMP + b"300"), ANNOTATION + meta % LIN.encode()), 13.0)
    assert (frame.counter, frame.arrived, frame.names, frame.faces) == (300, 12.5, frozenset({LIN}), 2)
    bare = read_frame(jpeg, 1.0)
    assert (bare.counter, bare.names, bare.faces) == (None, frozenset(), 0)


def names(*frames: str) -> list[frozenset[str]]:
    """Reference names per frame from a compact spec: 'L' Lin, 'A' Alex, 'LA' both, '' nobody."""
    return [frozenset({"L": LIN, "A": ALEX}[c] for c in f) for f in frames]


def test_appearances_bridge_short_reference_gaps_only():
    ref = names("L", "", "L", "L", *[""] * 12, "L", "A")
    assert appearances(ref, merge_gap=2) == [Appearance(LIN, 0, 3), Appearance(LIN, 16, 16), Appearance(ALEX, 17, 17)]


def test_recall_counts_names_not_frames_and_skips_frames_beyond_the_reference():
    ref = names("L", "LA", "")
    got = [Received(0.0, 0, 0.0, frozenset({LIN}), 1), Received(0.1, 1, 0.1, frozenset({ALEX}), 2),
           Received(0.2, 2, 0.2, frozenset({LIN}), 1), Received(0.3, 7, 0.3, frozenset({LIN}), 1)]
    # clip of 5 frames: counter 7 is frame 2 of the second loop; frames 3-4 have no reference
    assert recall_counts(got, ref, clip_frames=5) == (2, 3, 4)
    assert recall_counts([Received(0.0, 4, 0.0, frozenset({LIN}), 1)], ref, clip_frames=5) == (0, 0, 0)


def test_first_name_latency_is_measured_from_the_first_frame_of_the_appearance():
    fps, clip = 10.0, 6
    ref = names("", "L", "L", "L", "", "")
    # Loop 0: the app received frame 1 at t=1.0 and frame 2 at 1.1; the viewer got frame 2 named at 1.45.
    frames = [Received(1.35, 1, 1.0, frozenset(), 1), Received(1.45, 2, 1.1, frozenset({LIN}), 1),
              # loop 1: never named
              Received(2.0, 7, 1.6, frozenset(), 1), Received(2.1, 9, 1.8, frozenset(), 1),
              Received(2.5, 12, 2.2, frozenset(), 0)]
    latencies = first_name_latencies(frames, ref, clip, fps)
    assert latencies[0] == pytest.approx(0.45)
    assert latencies[1] == math.inf
    assert len(latencies) == 2           # loop 2's appearance was not fully sent while watching


def test_percentile_counts_misses_as_worst():
    assert percentile([0.1, 0.2, 0.3, math.inf], 50) == 0.2
    assert percentile([0.1] * 19 + [math.inf], 95) == 0.1
    assert percentile([0.1] * 18 + [math.inf] * 2, 95) == math.inf
    assert percentile([], 95) is None


def test_stage_costs_from_two_scrapes():
    before = parse_metrics('edgeface_stage_seconds_total{stage="detect"} 1.0\n'
                           'edgeface_stage_calls_total{stage="detect"} 10\n# HELP x y\n')
    after = parse_metrics('edgeface_stage_seconds_total{stage="detect"} 3.0\n'
                          'edgeface_stage_calls_total{stage="detect"} 50\n'
                          'edgeface_stage_calls_total{stage="match"} 0\n')
    assert stage_costs(before, after, seconds=10.0, frames=400) == {
        "detect": {"ms_per_call": 50.0, "calls_per_s": 4.0, "ms_per_frame": 5.0}}


def test_scrapes_are_read_with_types_labels_and_escapes():
    scrape = parse_metrics('# HELP edgeface_events_total recognition events recorded\n'
                           '# TYPE edgeface_events_total counter\n'
                           'edgeface_events_total{camera="a\\"b",result="named"} 3.0\n'
                           '# TYPE lat histogram\n'
                           'lat_bucket{camera="a",le="0.1"} 1.0\nlat_bucket{camera="a",le="+Inf"} 2.0\n'
                           'lat_sum{camera="a"} 0.5\nlat_count{camera="a"} 2.0\n')
    assert scrape[("edgeface_events_total", (("camera", 'a"b'), ("result", "named")))] == 3.0
    assert scrape[("lat_bucket", (("camera", "a"), ("le", "+Inf")))] == 2.0


def test_a_page_that_is_not_prometheus_text_is_refused():
    with pytest.raises(EdgefaceError, match="not Prometheus text"):
        parse_metrics('{"error": "unauthorized"}')


def test_process_tree_usage_includes_children():
    import subprocess
    import sys
    import time

    child = subprocess.Popen([sys.executable, "-c", "import time; x = bytearray(50_000_000); time.sleep(30)"])
    try:
        deadline = time.monotonic() + 20
        while procstats.tree_usage(os.getpid()).processes < 2 or \
                procstats.tree_usage(child.pid).rss_mb < 50:
            assert time.monotonic() < deadline, "the child never showed up in /proc"
            time.sleep(0.1)
        mine, tree = procstats.tree_usage(child.pid), procstats.tree_usage(os.getpid())
        assert child.pid in procstats.descendants(os.getpid())
        assert tree.rss_mb > mine.rss_mb >= 50 and tree.cpu_s > 0 and tree.pss_mb > 0
    finally:
        child.kill()
        child.wait()


def test_counter_rates_sum_cameras():
    from edgeface.tools.bench_live.metrics import counter_rates

    before = parse_metrics('edgeface_detections_total{camera="a"} 10\nedgeface_detections_total{camera="b"} 5\n')
    after = parse_metrics('edgeface_detections_total{camera="a"} 30\nedgeface_detections_total{camera="b"} 25\n'
                          'edgeface_encodings_total{camera="a"} 4\n')
    assert counter_rates(before, after, seconds=10.0) == {"detections_per_s": 4.0, "encodings_per_s": 0.4}
