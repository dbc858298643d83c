"""edgeface.history.clips: a segment becomes a WebM that plays in real time; a visit's clips are its
camera's over its span; clips count towards the history's size budget, go with their visits (age,
budget, a camera's own retention) and when a visit or a person is deleted."""

from __future__ import annotations

import time

import cv2
import numpy as np
import pytest
from sqlalchemy import update
from test_history import event  # the history tests' recognitions

from edgeface.history import Archive, EventQuery, History
from edgeface.history.cameras import CameraSettingsStore, parse_changes
from edgeface.history.clips import ORPHAN_AFTER_S, Segment
from edgeface.history.schema import events
from edgeface.images import encode_jpeg
from edgeface.matcher import UNKNOWN

FPS = 4.0


def segment(camera: str, start: float, seconds: float, *, gap: tuple[float, float] | None = None) -> Segment:
    """Frames at ``FPS`` (a grey level per frame), none inside ``gap`` (samples missed)."""
    frames = []
    for k in range(int(seconds * FPS) + 1):
        t = start + k / FPS
        if gap and gap[0] < t - start < gap[1]:
            continue
        frames.append((t, encode_jpeg(np.full((96, 128, 3), (k * 7) % 256, np.uint8))))
    return Segment(camera, frames, FPS)


@pytest.fixture
def history(tmp_path):
    h = History(tmp_path / "events", gap_s=0).start()     # visits end at once: retention may take them
    h._next_retention = float("inf")                        # only when a test asks
    h.clips.start()
    yield h
    h.close()


def visit_at(h: History, camera: str, name: str, start: float, end: float, track: int = 1) -> str:
    h.record(event(camera, name, start, track=track))
    assert h.flush()
    visit = h.query(EventQuery(camera=camera, name=name)).events[0]
    with h.engine.begin() as conn:                    # the span as the sightings would have made it
        conn.execute(update(events).where(events.c.id == visit.id).values(started_at=start, last_seen=end))
    return visit.id


def test_a_segment_is_a_webm_that_plays_its_real_length(history, tmp_path):
    now = time.time()
    clip = history.clips.save(segment("door", now, 5.0, gap=(1.0, 2.5)))     # 5 samples missed
    assert clip is not None and clip.frames == 21 and clip.ended_at - clip.started_at == pytest.approx(5.0)
    path = tmp_path / "events" / clip.path
    assert path.suffix == ".webm" and path.stat().st_size == clip.bytes > 0
    video = cv2.VideoCapture(str(path))
    read = 0
    while True:
        ok, frame = video.read()
        if not ok:
            break
        read += 1
        assert frame.shape[:2] == (96, 128)
    assert read == 21                                   # the gap filled with the frame before it: real time
    assert not list(path.parent.glob("*.partial.webm"))


def test_a_visits_clips_are_its_cameras_over_its_span(history):
    now = time.time() - 100
    ada = visit_at(history, "door", "Ada", now + 10, now + 20)
    history.clips.save(segment("door", now + 7, 16))      # Ada's, with the pre- and post-roll
    history.clips.save(segment("door", now + 40, 5))      # later on the same camera
    history.clips.save(segment("yard", now + 8, 10))      # the same time elsewhere
    clips = history.visit_clips(ada)
    assert [(c.camera, round(c.started_at - now)) for c in clips] == [("door", 7)]
    assert history.visit_clips("no-such-visit") == []


def test_deleting_a_visit_or_a_person_deletes_the_clips_that_show_them(history, tmp_path):
    now = time.time() - 200
    ada = visit_at(history, "door", "Ada", now + 10, now + 20, track=1)
    bob = visit_at(history, "door", "Bob", now + 15, now + 30, track=2)      # in Ada's clip too
    lone = visit_at(history, "door", UNKNOWN, now + 100, now + 110, track=3)
    shared = history.clips.save(segment("door", now + 7, 26))
    later = history.clips.save(segment("door", now + 97, 16))
    assert shared and later
    assert Archive(history).delete([lone]) == 1
    assert history.visit_clips(lone) == [] and not (tmp_path / "events" / later.path).exists()
    visits, _, clips = history.forget_person("Ada")
    assert (visits, clips) == (1, 1)
    assert history.visit_clips(bob) == []                 # the clip showed Ada: it goes, Bob's visit stays
    assert history.get(bob) is not None and history.get(ada) is None
    assert not (tmp_path / "events" / shared.path).exists()


def test_clips_count_towards_the_budget_and_go_with_their_visits(history, tmp_path):
    now = time.time()
    old = now - ORPHAN_AFTER_S - 1000
    first = visit_at(history, "door", "Ada", old, old + 10, track=1)
    second = visit_at(history, "door", "Bob", old + 100, old + 110, track=2)
    kept = [history.clips.save(segment("door", old - 3, 16)), history.clips.save(segment("door", old + 97, 16))]
    before = history.size_bytes()
    assert all(kept)
    with history.engine.connect() as conn:
        from edgeface.history.retention import history_bytes
        assert history_bytes(conn) == before
    assert history.enforce_retention() == 0 and len(history.visit_clips(first)) == 1
    clip_bytes = sum(c.bytes for c in kept if c)
    # A budget the visits fit without their clips: the oldest visit goes, and its clip with it.
    history.max_bytes = before - clip_bytes // 2
    assert history.enforce_retention() >= 1
    assert history.get(first) is None and not (tmp_path / "events" / kept[0].path).exists()
    assert history.size_bytes() <= history.max_bytes
    assert history.get(second) is not None and len(history.visit_clips(second)) == 1


def test_a_recent_clip_waits_for_its_visit_and_an_orphan_goes(history):
    now = time.time()
    recent = history.clips.save(segment("door", now - 30, 5))          # its visit may still be on its way
    orphan = history.clips.save(segment("door", now - ORPHAN_AFTER_S - 60, 5))
    assert recent and orphan
    history.enforce_retention()
    assert [c.id for c in history.clips.overlapping("door", 0, now + 10)] == [recent.id]


def test_a_cameras_own_retention_applies_to_its_clips(history):
    now, day = time.time(), 86400
    CameraSettingsStore(history.engine).change("lobby", parse_changes({"retention_days": 1}))
    lobby = visit_at(history, "lobby", "Ada", now - 2 * day, now - 2 * day + 10, track=1)
    door = visit_at(history, "door", "Ada", now - 2 * day, now - 2 * day + 10, track=2)
    history.clips.save(segment("lobby", now - 2 * day - 3, 16))
    history.clips.save(segment("door", now - 2 * day - 3, 16))
    history.enforce_retention()
    assert history.get(lobby) is None and history.clips.overlapping("lobby", 0, now) == []
    assert history.get(door) is not None and len(history.visit_clips(door)) == 1
