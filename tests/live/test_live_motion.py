"""Walk-ins and far faces: where the scene moved away from the tracked people is searched at every
look (``edgeface.live.motion``), magnified for far faces, and the whole frame less often."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from live_helpers import Frame

from edgeface.cameras.playback import Playback
from edgeface.engine import FaceEngine
from edgeface.images import encode_jpeg
from edgeface.live import Analyzer, FramePipeline, LiveSettings, ModelHolder
from edgeface.live.motion import away_from
from edgeface.live.plan import SearchKind
from edgeface.live.scenecut import THUMB_SCALE
from edgeface.live.tracker import _with_motion
from edgeface.modelfile import FaceModel

ROOM = np.full((45, 80), 90, np.int16)          # a 640x360 frame's thumbnail: a plain wall


def _person(thumb: np.ndarray, x: int, y: int, face: int = 6) -> tuple[int, int, int, int]:
    """Draw a head and shoulders whose face (``face`` thumbnail px wide) is at (x, y); its face box
    in frame pixels."""
    thumb[y - face // 2:y + face * 3, x - face // 2:x + face + face // 2] = 40   # hair, neck, shoulders
    thumb[y:y + face, x:x + face] = 160                                   # the face
    return y * THUMB_SCALE, (x + face) * THUMB_SCALE, (y + face) * THUMB_SCALE, x * THUMB_SCALE


def test_a_tracked_person_walking_is_not_motion_but_a_newcomer_is():
    before, latest = ROOM.copy(), ROOM.copy()
    was = _person(before, 20, 10)
    now = _person(latest, 24, 10)                                           # walked 32 px
    assert away_from(latest, before, [now, was], 0.35) is None, "the tracked person's own motion"
    _person(latest, 66, 20, face=4)                                         # someone coming in on the right
    motion = away_from(latest, before, [now, was], 0.35)
    assert motion is not None and len(motion.regions) == 1 and not motion.wide
    top, right, _, left = motion.regions[0]
    assert left > now[1] and right >= 70 * THUMB_SCALE and top <= 20 * THUMB_SCALE, motion


def test_newcomers_on_both_sides_are_two_small_regions_and_a_changed_frame_is_wide():
    before, latest = ROOM.copy(), ROOM.copy()
    _person(latest, 4, 12, face=4)
    _person(latest, 70, 12, face=4)
    motion = away_from(latest, before, [], 0.35)
    assert motion is not None and len(motion.regions) == 2 and not motion.wide, motion
    assert all(r[1] - r[3] < 640 // 4 for r in motion.regions), "not the frame between them"
    motion = away_from(ROOM + 40, before, [], 0.35)                        # the light changed
    assert motion is not None and motion.wide
    assert away_from(latest, before[:40], [], 0.35) is None, "thumbnails of another size are not compared"


@pytest.mark.parametrize("live", [True, False])
def test_with_motion_search_the_whole_frame_waits_for_wide_motion_or_still_recheck(live):
    s = LiveSettings(still_recheck_s=2.0, full_search_interval_s=1.0, empty_search_interval_s=0.5)
    narrow = away_from(_with_person(), ROOM, [], 0.35)
    wide = away_from(ROOM + 40, ROOM, [], 0.35)
    assert _with_motion(s, 0.1, True, live, None, False) == SearchKind.WHOLE, "a scene's start"
    assert _with_motion(s, 2.0, False, live, None, False) == SearchKind.WHOLE, "what stayed still, now and then"
    assert _with_motion(s, 1.9, False, live, narrow, True) == SearchKind.AROUND, "where it moved, not the whole frame"
    assert _with_motion(s, 1.9, False, live, None, False) == (SearchKind.AROUND if live else SearchKind.NONE)
    # Wide motion (a pan, the light), or more than the budget allows: the whole frame as often as
    # without motion search, no more.
    around, or_whole = (SearchKind.AROUND, SearchKind.AROUND) if live else (SearchKind.NONE, SearchKind.WHOLE)
    for motion, affordable in ((wide, True), (narrow, False)):
        assert _with_motion(s, 0.4, False, live, motion, affordable) == around
        assert _with_motion(s, 0.6, False, live, motion, affordable) == or_whole
        assert _with_motion(s, 1.0, False, live, motion, affordable) == SearchKind.WHOLE


def _with_person() -> np.ndarray:
    thumb = ROOM.copy()
    _person(thumb, 40, 12)
    return thumb


def test_a_far_face_walking_in_while_another_is_tracked_is_found_where_the_scene_moved(clip, sample_model):
    """A fixed camera: one face stands there (tracked), a 40 px face walks in from the right at
    frame 12, with no whole-frame search due: found by the magnified motion region within two looks
    of being wholly in view. (Unmagnified, the engine sees it at 60 px, under its 80 px window: not found.)"""
    first = next(iter(Playback(clip).one_pass()))
    top, right, bottom, left = 51 - 48, 567 + 48, 99 + 48, 519 - 48          # frame 0's 48 px face, with context
    face = first[top:bottom, left:right].copy()
    far = cv2.resize(face, None, fx=40 / 48, fy=40 / 48, interpolation=cv2.INTER_AREA)
    room = np.full_like(first, 90)
    room[220:, :] = 60

    def scene(k: int) -> bytes:
        img = room.copy()
        img[40:40 + face.shape[0], 40:40 + face.shape[1]] = face
        if k >= 12:
            x = max(420, 640 - 20 * (k - 12))
            img[230:230 + far.shape[0], x - far.shape[1]:x] = far           # wholly in view from frame 12
        return encode_jpeg(img, 90)
    settings = LiveSettings(output_delay_s=0.0, still_recheck_s=10.0)
    assert settings.motion_search_max_share > 0, "on by default"
    holder = ModelHolder(settings.tolerance)
    holder.swap(FaceModel.load(sample_model), str(sample_model))
    engine = FaceEngine(scale=settings.detect_scale, upsample=settings.upsample)
    pipeline = FramePipeline("room", Analyzer(engine, threads=0), holder, settings)
    found = [pipeline.process(Frame(k + 1, k / 30, scene(k)), render=False).faces for k in range(48)]
    assert len(found[0]) == 1 and len(found[11]) == 1, found[:12]
    arrived = next((k for k, faces in enumerate(found) if len(faces) == 2), None)
    assert arrived is not None and arrived <= 12 + 2 * 9, f"the far face was found at frame {arrived}"
    small = [f for f in found[arrived] if f.box[1] - f.box[3] < 45]
    assert small and small[0].box[0] >= 220, found[arrived]


def _looks(motion, seconds: float = 6.0) -> tuple[float, list]:
    """Plan a look every 0.3 s of a scene that keeps moving as ``motion`` says, nobody tracked:
    the detector pixels spent (whole frames and magnified regions) and the kinds."""
    from edgeface.live.modelwatch import LoadedModel
    from edgeface.live.tracker import CameraTracker

    s = LiveSettings(full_search_interval_s=1.0, still_recheck_s=2.0, empty_search_interval_s=0.5)
    tracker = CameraTracker("cam", s)
    model = LoadedModel(None, None, "test", "test", 0.0, 1)  # type: ignore[arg-type]
    engine_factor = s.engine_factor
    spent, kinds = 0.0, []
    for k in range(round(seconds / 0.3)):
        plan = tracker.plan(k * 0.3, model, new_scene=k == 0, motion=motion)
        kinds.append(plan.kind if not plan.motion else "regions")
        if plan.kind == SearchKind.WHOLE:
            tracker.searched_at = plan.time
            spent += motion.frame_px
        elif plan.motion:
            assert plan.motion == motion.regions and plan.motion_factor == motion.factor(engine_factor)
            spent += motion.cost(engine_factor)
    return spent / motion.frame_px, kinds


def test_motion_regions_draw_on_the_whole_frame_searches_budget():
    """Region searches and whole-frame searches share one budget: one whole frame's pixels per
    ``full_search_interval_s``. A small motion is searched at every look, magnified, and the whole
    frame only every ``still_recheck_s``; motion too costly for the budget (the sample clip's
    dancers, everywhere but never wide) gets no region search, and the whole frame on the schedule
    it had without motion search (every ``empty_search_interval_s`` with nobody tracked)."""
    from edgeface.live.motion import Motion

    frame_px = 640 * 360
    small = Motion(((100, 200, 200, 130),), False, frame_px)          # 7000 px: ~0.1 of a frame magnified
    spent, kinds = _looks(small)
    assert kinds.count("regions") >= 15 and kinds.count(SearchKind.WHOLE) == 3, kinds
    assert spent <= 1 + 6.0, spent
    dancing = Motion(((0, 400, 200, 0),), False, frame_px)            # 0.35 of the frame: a whole frame magnified
    spent, kinds = _looks(dancing)
    assert "regions" not in kinds and kinds.count(SearchKind.WHOLE) == 10, kinds   # 0, 0.6, 1.2 … 5.4 s
