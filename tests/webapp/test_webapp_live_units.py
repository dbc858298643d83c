"""The live-recognition parts on their own: tracking, events, annotation, metrics, settings."""

from __future__ import annotations

import numpy as np
import pytest

from edgeface.errors import ConfigError
from edgeface.live.annotate import COLOURS, FaceLabel, draw_faces
from edgeface.live.events import EventStore, RecognitionEvent
from edgeface.live.metrics import Exposition, Histogram
from edgeface.live.settings import LiveSettings
from edgeface.live.tracking import NAMED, PENDING, TRACK_ENCODINGS, UNKNOWN_STATE, TrackSet
from edgeface.matcher import UNKNOWN, Match

SETTINGS = LiveSettings()
ADA = Match("Ada Lovelace", 0.4, 0)
NOBODY = Match(UNKNOWN, 0.8, -1)


def test_a_moving_face_keeps_its_track_and_is_dropped_when_gone():
    tracks = TrackSet(SETTINGS)
    tracks.update([(100, 200, 200, 100)], t=0.0)
    first = tracks.tracks[0]
    tracks.update([(110, 230, 210, 130)], t=0.2)          # moved 30 px: same face
    assert tracks.tracks == [first] and first.box == (110, 230, 210, 130)
    assert first.predicted_box(0.3)[1] > 230, "the box is not carried along between detections"
    tracks.update([(300, 600, 400, 500)], t=0.4)           # far away: another face
    assert len(tracks.tracks) == 2
    tracks.update([], t=0.4 + SETTINGS.track_ttl_s + SETTINGS.output_delay_s + 0.01)
    assert tracks.tracks == []


def test_a_face_is_encoded_when_new_and_then_only_on_schedule():
    tracks = TrackSet(SETTINGS)
    tracks.update([(100, 200, 200, 100)], t=0.0)
    (track,) = tracks.due_for_encoding(0.0, generation=1)
    assert tracks.apply(track, ADA, 0.0, 1) is True and track.state == NAMED
    tracks.update([(101, 201, 201, 101)], t=0.2)
    assert tracks.due_for_encoding(0.2, generation=1) == []
    t = SETTINGS.named_recheck_s + 0.1
    tracks.update([(101, 201, 201, 101)], t=t / 2)
    tracks.update([(101, 201, 201, 101)], t=t)
    assert tracks.due_for_encoding(t, generation=1) == [track]
    assert tracks.due_for_encoding(t, generation=2) == [track], "a new model must re-check faces"


def test_events_come_once_per_identity_change_and_unknown_needs_confirmation():
    tracks = TrackSet(SETTINGS)
    tracks.update([(100, 200, 200, 100)], t=0.0)
    track = tracks.tracks[0]
    assert tracks.apply(track, NOBODY, 0.0, 1) is False and track.state == UNKNOWN_STATE
    assert tracks.apply(track, NOBODY, 0.5, 1) is True          # confirmed Unknown: one event
    assert tracks.apply(track, NOBODY, 1.0, 1) is False
    assert tracks.apply(track, ADA, 1.5, 1) is True and track.name == "Ada Lovelace"
    assert tracks.apply(track, ADA, 4.5, 1) is False
    assert tracks.apply(track, NOBODY, 8.0, 1) is False and track.state == NAMED, "one bad angle stripped the name"


def test_a_scene_cut_ends_every_track():
    tracks, ttl = TrackSet(SETTINGS), SETTINGS.track_ttl_s
    tracks.update([(100, 200, 200, 100)], t=0.0)
    old = tracks.tracks[0]
    tracks.apply(old, ADA, 0.0, 1)
    tracks.cut(0.2)
    tracks.update([(102, 202, 202, 102)], t=0.25, lead_s=0.2)      # the same place, a new scene
    new = [tr for tr in tracks.tracks if tr is not old]
    assert len(new) == 1 and new[0].state == PENDING, "a face after a cut joined the track from before it"
    assert tracks.due_for_encoding(0.25, generation=1) == new
    assert old.visible_at(0.19, ttl) and not old.visible_at(0.2, ttl), "a name was drawn across a cut"
    assert new[0].visible_at(0.2, ttl) and not new[0].visible_at(0.19, ttl), "the new face reached back past the cut"
    tracks.expire(0.2 + SETTINGS.output_delay_s + 0.5)
    assert tracks.tracks == new, "a track ended by a cut outlived the delayed frames that show it"


def test_a_track_is_matched_by_the_mean_of_its_recent_encodings():
    tracks = TrackSet(SETTINGS)
    tracks.update([(100, 200, 200, 100)], t=0.0)
    track = tracks.tracks[0]
    a, b = np.zeros(128, np.float32), np.ones(128, np.float32)
    assert np.allclose(track.probe(a), a) and np.allclose(track.probe(b), b / 2)
    track.doubtful = True                      # may be someone else now: start again
    assert np.allclose(track.probe(a), a)
    for _ in range(TRACK_ENCODINGS):
        track.probe(b)
    assert np.allclose(track.probe(b), b), "old encodings never leave the mean"


def test_a_young_unknown_face_is_re_encoded_at_every_detection():
    tracks = TrackSet(SETTINGS)
    tracks.update([(100, 200, 200, 100)], t=0.0)
    track = tracks.tracks[0]
    tracks.apply(track, NOBODY, 0.0, 1)
    tracks.update([(100, 200, 200, 100)], t=0.15)
    assert tracks.due_for_encoding(0.15, generation=1) == [track], "a new face's first look decided for good"
    t = SETTINGS.settle_s + 0.05
    for seen in (0.5, t - 0.1):
        tracks.update([(100, 200, 200, 100)], t=seen)
    tracks.apply(track, NOBODY, t - 0.1, 1)
    tracks.update([(100, 200, 200, 100)], t=t)
    assert tracks.due_for_encoding(t, generation=1) == [], "a settled Unknown face is re-encoded too often"


def test_labels_are_drawn_in_colours_by_state_with_any_name():
    frame = np.zeros((120, 200, 3), np.uint8)
    faces = [FaceLabel(1, (10, 60, 60, 10), NAMED, "José Ñúñez", 0.4),
             FaceLabel(2, (10, 150, 60, 100), UNKNOWN_STATE, UNKNOWN, 0.8),
             FaceLabel(3, (90, 199, 119, 150), PENDING, None, None)]          # at the frame's corner
    out = draw_faces(frame.copy(), faces)
    assert tuple(out[10, 30]) == COLOURS[NAMED] and tuple(out[10, 120]) == COLOURS["unknown"]
    assert tuple(out[90, 170]) == COLOURS[PENDING]
    assert (out[61:80, 10:60] == 255).any(), "no label text under the box"


def test_event_store_filters_newest_first_and_persists(tmp_path):
    store = EventStore(max_events=3, directory=tmp_path)
    events = [store.add(RecognitionEvent("cam-a" if i % 2 else "cam-b", "Ada" if i < 3 else UNKNOWN, 0.5,
                                         [1, 2, 3, 4], time=1000.0 + i, snapshot=b"\xff\xd8jpeg%d" % i))
              for i in range(5)]
    assert [e.id for e in store.query()] == [e.id for e in events[:1:-1]]   # last 3, newest first
    assert [e.time for e in store.query(camera="cam-a")] == [1003.0]
    assert [e.time for e in store.query(name="Ada")] == [1002.0]
    assert [e.time for e in store.query(since=1003.0)] == [1004.0, 1003.0]
    assert [e.time for e in store.query(until=1003.0, limit=1)] == [1003.0]
    assert store.snapshot(events[4].id) == b"\xff\xd8jpeg4"
    assert store.snapshot(events[0].id) is None and not (tmp_path / f"{events[0].id}.jpg").exists()
    reopened = EventStore(max_events=3, directory=tmp_path)
    assert [e.id for e in reopened.query()] == [e.id for e in store.query()]
    assert reopened.snapshot(events[3].id) == b"\xff\xd8jpeg3"
    assert store.counts == {("cam-b", True): 2, ("cam-a", True): 1, ("cam-a", False): 1, ("cam-b", False): 1}


def test_prometheus_exposition_is_well_formed():
    hist = Histogram(buckets=(0.1, 1.0))
    for v in (0.05, 0.5, 5.0):
        hist.observe(v)
    exp = Exposition()
    exp.family("x_online", "gauge", "help", [({"camera": 'a"b'}, True)])
    exp.histogram("x_latency_seconds", "help", [({"camera": "a"}, hist)])
    text = exp.render()
    assert 'x_online{camera="a\\"b"} 1' in text
    assert 'x_latency_seconds_bucket{camera="a",le="0.1"} 1' in text
    assert 'x_latency_seconds_bucket{camera="a",le="+Inf"} 3' in text
    assert 'x_latency_seconds_count{camera="a"} 3' in text and "# TYPE x_latency_seconds histogram" in text


def test_settings_from_environment_are_checked():
    assert LiveSettings.from_env({"EDGEFACE_LIVE_DETECT_SCALE": "1.0"}).detect_scale == 1.0
    with pytest.raises(ConfigError, match="EDGEFACE_LIVE_DETECT_SCALE"):
        LiveSettings.from_env({"EDGEFACE_LIVE_DETECT_SCALE": "big"})
    with pytest.raises(ConfigError, match="detector"):
        LiveSettings.from_env({"EDGEFACE_LIVE_DETECTOR": "magic"})
