"""edgeface.live.tracking: association, encoding schedule, identity changes, scene cuts."""

from __future__ import annotations

import numpy as np
from live_helpers import Frame, decide

from edgeface.history.cameras import CameraOptions
from edgeface.live.tracker import CameraTracker, view
from edgeface.live.tracking import TRACK_ENCODINGS, Track, TrackSet, TrackState
from edgeface.matcher import UNKNOWN, Match
from edgeface.settings import LiveSettings

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


def test_events_come_once_per_identity_change_and_unknown_needs_confirmation():
    tracks = TrackSet(SETTINGS)
    tracks.update([(100, 200, 200, 100)], t=0.0)
    track = tracks.tracks[0]
    assert tracks.apply(track, NOBODY, 0.0, 1) is False and track.state == TrackState.UNKNOWN
    assert tracks.apply(track, NOBODY, 0.5, 1) is True          # confirmed Unknown: one event
    assert tracks.apply(track, NOBODY, 1.0, 1) is False
    assert tracks.apply(track, ADA, 1.5, 1) is True and track.name == "Ada Lovelace"
    assert tracks.apply(track, ADA, 4.5, 1) is False
    assert tracks.apply(track, NOBODY, 8.0, 1) is False and track.state == TrackState.NAMED, \
        "one bad angle stripped the name"


def test_a_scene_cut_ends_every_track():
    tracks, ttl = TrackSet(SETTINGS), SETTINGS.track_ttl_s
    tracks.update([(100, 200, 200, 100)], t=0.0)
    old = tracks.tracks[0]
    tracks.apply(old, ADA, 0.0, 1)
    tracks.cut(0.2)
    tracks.update([(102, 202, 202, 102)], t=0.25, lead_s=0.2)      # the same place, a new scene
    new = [tr for tr in tracks.tracks if tr is not old]
    assert len(new) == 1 and new[0].state == TrackState.PENDING, "a face after a cut joined the track from before it"
    assert decide(tracks, [(102, 202, 202, 102)], 0.3) == new
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
    for _ in range(TRACK_ENCODINGS):
        track.probe(b)
    assert np.allclose(track.probe(b), b), "old encodings never leave the mean"


def test_a_young_unknown_face_is_re_encoded_at_every_detection():
    tracks = TrackSet(SETTINGS)
    tracks.update([(100, 200, 200, 100)], t=0.0)
    track = tracks.tracks[0]
    tracks.apply(track, NOBODY, 0.0, 1)
    assert decide(tracks, [(100, 200, 200, 100)], 0.15) == [track], "a new face's first look decided for good"
    t = SETTINGS.settle_s + 0.05
    for seen in (0.5, t - 0.1):
        tracks.update([(100, 200, 200, 100)], t=seen)
    tracks.apply(track, NOBODY, t - 0.1, 1)
    assert decide(tracks, [(100, 200, 200, 100)], t) == [], "a settled Unknown face is re-encoded too often"


def test_a_frozen_view_of_a_track_is_not_touched_by_the_track_moving_on():
    tracks = TrackSet(SETTINGS)
    tracks.update([(100, 200, 200, 100)], t=0.0)
    original = tracks.tracks[0]
    original.probe(np.zeros(128, np.float32))
    frozen = view(original, 0.1)
    tracks.update([(110, 210, 210, 110), (300, 600, 400, 500)], t=0.2)     # moved, and a second face
    tracks.apply(original, ADA, 0.2, 1)
    original.probe(np.ones(128, np.float32))
    assert frozen.box == (100, 200, 200, 100) and frozen.state == TrackState.PENDING
    assert len(frozen.encodings) == 1 and frozen.seen_at == 0.0 and frozen.id == original.id
    assert len(tracks.tracks) == 2 and tracks.tracks[1].id not in (original.id, 0)
    assert str(TrackState.NAMED) == "named" and TrackState("unknown") is TrackState.UNKNOWN


def test_zone_and_minimum_face_size_are_enforced_on_applied_detections():
    def tracker(options: CameraOptions) -> CameraTracker:
        tr = CameraTracker("door", LiveSettings())
        tr.options = options
        tr.tracks.tracks = [
            Track(1, (10, 40, 40, 10), 0.0, state=TrackState.NAMED, name="Ada", reported="Ada"),    # left
            Track(2, (10, 150, 40, 120), 0.0, state=TrackState.NAMED, name="Bob", reported="Bob"),  # right
            Track(3, (50, 150, 110, 90), 0.0, state=TrackState.NAMED, name="Cy", reported="Cy")]    # big
        return tr

    frame = Frame(1, 0.0, bgr=np.zeros((120, 160, 3), np.uint8))
    left_half = tracker(CameraOptions(zone=[[0, 0], [0.5, 0], [0.5, 1], [0, 1]]))
    assert left_half._enforce_options(frame) == {2, 3}                   # centres at x 0.84 and 0.75: outside
    assert [tr.id for tr in left_half.tracks.tracks] == [1]
    small = tracker(CameraOptions(min_face_px=50))
    assert small._enforce_options(frame) == {1, 2}
    assert [(tr.id, tr.name, tr.state) for tr in small.tracks.tracks] == [
        (1, None, TrackState.PENDING), (2, None, TrackState.PENDING), (3, "Cy", TrackState.NAMED)]
    assert tracker(CameraOptions())._enforce_options(frame) == set()
