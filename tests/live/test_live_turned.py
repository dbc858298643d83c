"""Faces turned three-quarters, which dlib's HOG misses: where a fixed camera's scene moved and HOG
found no face, the CNN looks (``edgeface.live.regions.turned``), within each camera's share of a
core (``turned_face_share``). The turned face is Barack Obama in the sample clip's audience."""

from __future__ import annotations

import numpy as np
import pytest
from live_helpers import Frame

from edgeface.cameras.playback import Playback
from edgeface.engine import EngineSettings, FaceEngine
from edgeface.images import bgr_to_rgb, encode_jpeg
from edgeface.live import Analyzer, FramePipeline, LiveSettings, ModelHolder
from edgeface.live.analyzer import TimedEngine
from edgeface.live.engine_process import ProcessEngine
from edgeface.live.metrics import StageTimes
from edgeface.live.motion import Motion
from edgeface.live.tracker import TURNED_BURST_S, CameraTracker
from edgeface.matcher import UNKNOWN
from edgeface.modelfile import FaceModel

OBAMA_FRAME = 270                         # the audience: Barack Obama's face turned three-quarters, ~80 px
OBAMA_HEAD = (17, 432, 178, 270)          # his head, and part of his neighbour's face (top, right, bottom, left)
STEP_PX = 4                               # walking in from the right, per frame (120 px/s at 30 fps)


@pytest.fixture(scope="module")
def head(clip) -> np.ndarray:
    frame = next(img for k, img in enumerate(Playback(clip).one_pass()) if k == OBAMA_FRAME)
    top, right, bottom, left = OBAMA_HEAD
    return frame[top:bottom, left:right].copy()


def _room(head: np.ndarray, k: int) -> np.ndarray:
    """A fixed camera's plain room; the head walks in from the right, wholly in view from frame 0."""
    img = np.full((360, 640, 3), 90, np.uint8)
    img[240:] = 60
    x = _right_edge(k)
    img[60:60 + head.shape[0], x - head.shape[1]:x] = head
    return img


def _run(head, sample_model, share: float, frames: int = 90):
    settings = LiveSettings(output_delay_s=0.0, still_recheck_s=10.0, turned_face_share=share)
    holder = ModelHolder(settings.tolerance)
    holder.swap(FaceModel.load(sample_model), str(sample_model))
    stages = StageTimes()
    engine = TimedEngine(FaceEngine(scale=settings.detect_scale, upsample=settings.upsample), stages)
    pipeline = FramePipeline("room", Analyzer(engine, threads=0), holder, settings)
    shown = [pipeline.process(Frame(k + 1, k / 30, encode_jpeg(_room(head, k), 90)), render=False).faces
             for k in range(frames)]
    return shown, stages


def test_hog_misses_the_turned_face_and_the_cnn_finds_it(head):
    rgb = bgr_to_rgb(_room(head, 110))
    engine = FaceEngine(detector="hog")
    assert engine.detect(rgb, upsample=2) == [], "HOG must miss it, or this test proves nothing"
    found = engine.detect_turned(rgb[40:260, 20:220])
    # his face there (the frame's box less the head's and the region's offsets): (60, 140, 141, 58)
    assert any(abs((b[0] + b[2]) / 2 - 100) < 25 and abs((b[1] + b[3]) / 2 - 99) < 25 and 60 <= b[1] - b[3] <= 110
               for b in found), found


def test_a_turned_face_walking_into_a_fixed_camera_is_boxed_and_never_misnamed(head, sample_model):
    shown, stages = _run(head, sample_model, share=LiveSettings().turned_face_share)
    boxed = [k for k, faces in enumerate(shown) if faces]
    assert boxed, "the CNN never found the turned face"
    assert _calls(stages, "turned") >= 1
    names = {f.name for faces in shown for f in faces if f.name is not None}
    assert names <= {"Barack Obama", UNKNOWN}, f"a wrong name: {names}"     # Unknown is no wrong name
    for k in boxed:      # on the head's path: where it is, or was up to a track's life ago
        now, before = _right_edge(k), _right_edge(k - round(LiveSettings().track_ttl_s * 30))
        for f in shown[k]:
            top, right, bottom, left = f.box
            assert 60 <= (top + bottom) / 2 <= 60 + head.shape[0], (k, f)
            assert now - head.shape[1] <= (left + right) / 2 <= before, (k, f)


def _right_edge(k: int) -> int:
    return max(200, 640 - STEP_PX * max(0, k))


def _calls(stages: StageTimes, stage: str) -> int:
    return stages.snapshot().get(stage, (0.0, 0))[1]


def test_without_a_share_for_the_cnn_the_turned_face_is_never_boxed(head, sample_model):
    shown, stages = _run(head, sample_model, share=0.0, frames=30)
    assert not any(shown) and _calls(stages, "turned") == 0, shown


def test_the_cnn_spends_at_most_its_share():
    """A region is allowed while the camera's budget lasts; what it took is paid back at
    ``turned_face_share`` of a second per second before the next. Only on spare capacity."""
    from edgeface.live.modelwatch import LoadedModel
    from edgeface.live.plan import Observation

    s = LiveSettings(turned_face_share=0.1)
    tracker = CameraTracker("cam", s)
    model = LoadedModel(None, None, "test", "test", 0.0, 1)  # type: ignore[arg-type]
    moving = Motion(((100, 200, 200, 130),), False, 640 * 360)
    allowed = []
    for k in range(40):                                   # a look every 0.3 s for 12 s
        plan = tracker.plan(k * 0.3, model, new_scene=False, motion=moving)
        assert plan.turned in (None, moving.regions[0])
        allowed.append(plan.turned is not None)
        tracker.apply(plan, Observation(plan.time, model, turned_s=0.25 if plan.turned else 0.0), None)
    spent = 0.25 * sum(allowed)
    assert allowed[:2] == [True, True], "saved up: two regions at once"
    assert spent <= TURNED_BURST_S + 0.1 * 12 + 0.25, spent
    assert sum(allowed) >= 5, allowed
    none = CameraTracker("cam", LiveSettings(turned_face_share=0.0))
    assert none.plan(0.0, model, new_scene=False, motion=moving).turned is None
    busy = CameraTracker("cam", s)                      # other cameras' analyses waiting: not now
    assert busy.plan(0.0, model, new_scene=False, motion=moving, spare=False).turned is None
    assert busy.plan(0.3, model, new_scene=False, motion=moving).turned == moving.regions[0]


def test_the_engine_processes_look_for_turned_faces_too(head):
    rgb = bgr_to_rgb(_room(head, 110))[40:260, 20:220].copy()
    engine = ProcessEngine(EngineSettings(), processes=1)
    try:
        assert engine.detect_turned(rgb) == FaceEngine().detect_turned(rgb)
    finally:
        engine.close()
