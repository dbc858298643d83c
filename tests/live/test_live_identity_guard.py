"""The identity guard on hand-built encodings and tracks: a face that changes inside a track ends
it, its name is withdrawn from the frames not verified, a name needs a margin, small faces stay
unnamed, and stale boxes are not drawn."""

from __future__ import annotations

import math

import numpy as np
from live_helpers import decide

from edgeface.live.looks import appearance, look_alike
from edgeface.live.tracking import TrackSet, TrackState
from edgeface.matcher import UNKNOWN, Match, Matcher
from edgeface.settings import LiveSettings

SETTINGS = LiveSettings()
ADA, BOB = Match("Ada Lovelace", 0.4, 0), Match("Bob", 0.45, 1)
BOX = (100, 200, 200, 100)


def unit(seed: int) -> np.ndarray:
    """A random 128-D vector of length 0.5 (about the spread of one person's dlib encodings)."""
    v = np.random.default_rng(seed).normal(size=128).astype(np.float32)
    return v / np.linalg.norm(v) * 0.5


def named_track(tracks: TrackSet, encoding: np.ndarray, t: float = 0.0):
    (track,) = decide(tracks, [BOX], t)
    track = tracks.verify(track, encoding, t)
    track.probe(encoding)
    tracks.apply(track, ADA, t, 1)
    return track


def test_an_encoding_that_jumps_away_ends_the_track_and_withdraws_its_name():
    tracks, ada = TrackSet(SETTINGS), unit(1)
    track = named_track(tracks, ada)
    near = ada + SETTINGS.identity_jump * 0.5 * unit(2) / 0.5      # the same face, another angle
    tracks.update([BOX], t=0.25)
    assert tracks.verify(track, near, 0.25) is track and track.verified_at == 0.25
    track.probe(near)
    tracks.apply(track, ADA, 0.25, 1)
    bob = unit(3)                                  # someone else stepped into the same box
    assert np.linalg.norm(bob - near) > SETTINGS.identity_jump
    tracks.update([BOX], t=0.5)
    new = tracks.verify(track, bob, 0.5)
    assert new is not track and new.state == TrackState.PENDING and new in tracks.tracks
    assert track.ended_at == 0.5 and new.born_at == 0.5
    stale = tracks.stale_s()
    assert track.identity_at(0.25, stale)[1] == "Ada Lovelace", "the name left frames it verified"
    assert track.identity_at(0.3, stale) == (TrackState.PENDING, None, None), \
        "the old name stays on frames after its last verified look"
    assert np.allclose(new.probe(bob), bob), "the new face's mean mixes in the old face's encodings"
    assert len(track.encodings) == 2


def test_a_track_not_found_again_loses_its_name_until_verified_again():
    tracks, ada = TrackSet(SETTINGS), unit(1)
    track = named_track(tracks, ada)
    stale = tracks.stale_s()
    assert track.identity_at(0.1, stale)[1] == "Ada Lovelace"
    tracks.update([], t=0.25)                      # the detector did not find it: cannot verify
    assert track.identity_at(0.1, stale)[1] is None and track in tracks.visible(0.1), \
        "the box goes, or the unverified name stays"
    tracks.update([BOX], t=0.5)
    assert tracks.verify(track, ada, 0.5) is track
    tracks.apply(track, ADA, 0.5, 1)
    assert track.identity_at(0.5, stale)[1] == "Ada Lovelace"
    assert track.identity_at(0.5 + stale + 0.01, stale)[1] is None, "a name outlived its verification"


def test_a_still_scene_keeps_a_verified_name_verified():
    tracks = TrackSet(SETTINGS)
    track = named_track(tracks, unit(1))
    tracks.hold(2.0)                               # nothing moved: still the face verified last
    assert track.verified_at == 2.0 and track.identity_at(2.0, tracks.stale_s())[1] == "Ada Lovelace"
    tracks.update([BOX], t=2.25)                   # seen, not encoded (an Unknown face between re-checks)
    tracks.hold(5.0)
    assert track.verified_at == 4.75, "a still scene made a face's last verification older or newer"


def test_faces_under_min_face_px_are_drawn_but_never_named():
    tracks = TrackSet(SETTINGS)
    track = named_track(tracks, unit(1))
    small = (100, 130, 130, 100)                   # 30 px wide
    assert decide(tracks, [small], 0.25, min_face_px=40) == []
    assert track.identity_at(0.25, tracks.stale_s()) == (TrackState.PENDING, None, None)
    assert track in tracks.visible(0.25)
    assert decide(tracks, [(100, 130, 130, 100)], 0.5, min_face_px=30) == [track]


def test_a_prediction_older_than_two_detection_intervals_and_a_half_second_is_not_drawn():
    settings = LiveSettings(track_ttl_s=5.0, detect_interval_s=0.25)
    tracks = TrackSet(settings)
    tracks.update([BOX], t=0.0)
    track = tracks.tracks[0]
    assert track in tracks.visible(0.99) and track not in tracks.visible(1.01)


def test_a_name_needs_a_margin_over_the_next_identity():
    ada, bob = unit(1), unit(2)
    matcher = Matcher(np.stack([ada, bob]), np.array([0, 1]), ["Ada Lovelace", "Bob"], tolerance=1.5)
    between = (ada + bob) / 2 + 0.01 * (ada - bob)            # barely nearer Ada
    d_ada, d_bob = (float(np.linalg.norm(between - v)) for v in (ada, bob))
    assert d_ada < d_bob < d_ada + 0.05
    assert matcher.match(between[None])[0].name == "Ada Lovelace"
    (match,) = matcher.match(between[None], margin=0.05)
    assert match.name == UNKNOWN and math.isclose(match.distance, d_ada, rel_tol=1e-5)
    assert matcher.match(ada[None], margin=0.05)[0].name == "Ada Lovelace"
    alone = Matcher(ada[None], np.array([0]), ["Ada Lovelace"], tolerance=1.5)
    assert alone.match(between[None], margin=0.05)[0].name == "Ada Lovelace", "no second identity: no margin to miss"


def faces_frame(seed: int, box=BOX, shift: int = 0) -> np.ndarray:
    """A grey frame with a random picture (seeded: one face) in ``box``, moved by ``shift`` px."""
    gray = np.full((300, 300), 128, np.uint8)
    top, right, bottom, left = box
    patch = np.random.default_rng(seed).integers(0, 255, (12, 12), dtype=np.uint8)
    gray[top + shift:bottom + shift, left + shift:right + shift] = np.kron(patch, np.ones((9, 9), np.uint8))[
        :bottom - top, :right - left]
    return gray


def test_a_named_face_is_verified_at_every_detection_by_its_look_or_an_encoding():
    settings = LiveSettings(named_recheck_s=1.0)
    tracks = TrackSet(settings)
    ada_frame = faces_frame(1)
    track = named_track(tracks, unit(1))
    track.look = appearance(ada_frame, BOX)
    moved = faces_frame(1, shift=3)                # the same picture, the box a few px off
    assert decide(tracks, [BOX], 0.25, gray=moved) == [] and track.verified_at == 0.25, \
        "the same look was not enough to verify the face"
    assert decide(tracks, [BOX], 0.5, gray=faces_frame(2)) == [track], \
        "another picture in the box passed for the named face"
    assert track.verified_at == 0.25
    assert decide(tracks, [BOX], 0.5 + settings.named_recheck_s, gray=ada_frame) == [track], \
        "a named face went longer than named_recheck_s without an encoding"
    assert decide(tracks, [BOX], 1.6, gray=ada_frame, generation=2) == [track], "a new model must re-check faces"
    track.look = None
    assert decide(tracks, [BOX], 1.7, gray=ada_frame) == [track], "no look to compare: the face must be encoded"


def test_a_face_not_found_at_a_detection_is_encoded_when_found_again_whatever_its_look():
    tracks = TrackSet(SETTINGS)
    ada_frame = faces_frame(1)
    track = named_track(tracks, unit(1))
    track.look = appearance(ada_frame, BOX)
    tracks.update([], t=0.25)
    assert decide(tracks, [BOX], 0.5, gray=ada_frame) == [track]


def test_looks_of_one_face_agree_and_of_two_differ_and_say_where_the_face_moved():
    look = appearance(faces_frame(1), BOX)
    score, moved = look_alike(look, faces_frame(1, shift=8), BOX)
    assert score >= SETTINGS.same_look
    assert all(abs(m - (b + 8)) <= 2 for m, b in zip(moved, BOX)), moved
    assert look_alike(look, faces_frame(2), BOX)[0] < SETTINGS.same_look


def test_a_far_jump_that_alone_still_names_the_same_person_keeps_the_track():
    tracks, ada = TrackSet(SETTINGS), unit(1)
    track = named_track(tracks, ada)
    turned = unit(5)                               # a fast turn: far from the last encoding
    assert track.jump(turned) > SETTINGS.identity_jump
    tracks.update([BOX], t=0.25)
    assert tracks.verify(track, turned, 0.25, alone="Ada Lovelace") is track and track.verified_at == 0.25
    tracks.update([BOX], t=0.5)
    for alone in ("Bob", UNKNOWN, None):
        assert tracks.verify(track, unit(6) * 3, 0.5, alone=alone) is not track, \
            f"a face that alone is {alone!r} kept {track.name}'s track"
        track.ended_at = math.inf
