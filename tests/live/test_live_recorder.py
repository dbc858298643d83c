"""edgeface.live.recorder: which shown frames a clip keeps — the pre-roll before the first face, the
post-roll after the last, the cap on a long stay (its arrival and its departure), a camera gone."""

from __future__ import annotations

import pytest

from edgeface.history.clips import Segment
from edgeface.live.recorder import TAIL_S, ClipRecorder

FPS = 4.0


def feed(recorder: ClipRecorder, start: float, end: float, faces) -> None:
    """Frames at ``FPS`` from ``start`` to ``end`` (s); ``faces(t)``: whether a face is on the frame."""
    for k in range(round((end - start) * FPS)):
        t = start + k / FPS
        recorder.add(t, f"jpeg@{t:.2f}".encode(), faces(t))


@pytest.fixture
def segments():
    return []


def recorder(segments, **kw) -> ClipRecorder:
    return ClipRecorder("door", segments.append, fps=FPS, pre_s=3.0, post_s=3.0, max_s=kw.pop("max_s", 60.0), **kw)


def span(segment: Segment) -> tuple[float, float]:
    return segment.frames[0][0], segment.frames[-1][0]


def test_a_visit_keeps_the_seconds_before_its_first_and_after_its_last_face(segments):
    rec = recorder(segments)
    feed(rec, 0, 40, lambda t: 20 <= t < 30)
    assert len(segments) == 1
    first, last = span(segments[0])
    # 3 s before the first face (20 s); the first frame over 3 s after the last face (29.75 s)
    assert first == pytest.approx(17.0) and last == pytest.approx(33.0)
    assert segments[0].camera == "door" and segments[0].fps == FPS
    assert [t for t, _ in segments[0].frames] == sorted(t for t, _ in segments[0].frames)
    assert not rec.recording


def test_a_short_absence_is_one_clip_and_a_long_one_two(segments):
    rec = recorder(segments)
    feed(rec, 0, 60, lambda t: 10 <= t < 15 or 16 <= t < 20 or 40 <= t < 45)
    assert [tuple(round(x, 2) for x in span(s)) for s in segments] == [(7.0, 23.0), (37.0, 48.0)]


def test_a_long_stay_keeps_its_arrival_and_its_departure_not_its_middle(segments):
    rec = recorder(segments, max_s=20.0)
    feed(rec, 0, 120, lambda t: 10 <= t < 100)
    assert len(segments) == 2
    arrival, departure = map(span, segments)
    assert arrival[0] == pytest.approx(7.0) and arrival[1] - arrival[0] == pytest.approx(20.0)
    assert departure[1] == pytest.approx(103.0)                       # 3 s after the last face (99.75 s)
    assert departure[1] - departure[0] <= TAIL_S + 3.0 + 0.5          # the tail, not the middle
    assert departure[0] > arrival[1]


def test_a_camera_that_goes_offline_ends_the_clip_once_the_post_roll_passed(segments):
    rec = recorder(segments)
    feed(rec, 0, 12, lambda t: t >= 10)                               # faces when the camera went quiet
    rec.idle(13.0)
    assert segments == [] and rec.recording                          # it may come back within the post-roll
    rec.idle(20.0)
    assert len(segments) == 1 and span(segments[0]) == (pytest.approx(7.0), pytest.approx(11.75))


def test_flush_keeps_what_was_being_recorded(segments):
    rec = recorder(segments)
    feed(rec, 0, 5, lambda t: t >= 4)
    rec.flush()
    assert len(segments) == 1 and span(segments[0])[0] == pytest.approx(1.0)
    rec.flush()
    assert len(segments) == 1


def test_samples_are_due_at_the_clip_rate_only(segments):
    rec = recorder(segments)
    assert rec.due(100.0)
    rec.add(100.0, b"x", False)
    assert not rec.due(100.1) and not rec.due(100.2) and rec.due(100.25)
    with pytest.raises(ValueError, match="frame rate"):
        ClipRecorder("door", segments.append, fps=0)
