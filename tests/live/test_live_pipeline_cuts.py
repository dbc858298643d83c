"""The parts that keep four cameras real-time: scene cuts, the cut frame's immediate analysis, and
the machine-readable comment on annotated frames (what ``edgeface bench`` reads)."""

from __future__ import annotations

import json
from concurrent.futures import Future

import numpy as np
import pytest
from live_helpers import Frame

from edgeface.cameras.playback import Playback
from edgeface.engine import FaceEngine
from edgeface.images import decode_jpeg, encode_jpeg
from edgeface.jpegmeta import ANNOTATION, FRAME_STAMP, add_comment, comment_with_prefix
from edgeface.live import Analyzer, FramePipeline, LiveSettings, ModelHolder
from edgeface.live.scenecut import CutDetector
from edgeface.modelfile import FaceModel

LIN = "Lin-Manuel Miranda"


@pytest.fixture(scope="module")
def clip_jpegs(clip) -> list[bytes]:
    """The first 100 frames: cuts at 20 and 82 (Lin-Manuel Miranda appears with the second)."""
    return [encode_jpeg(bgr, 80) for _, bgr in zip(range(100), Playback(clip).one_pass())]


def test_cuts_are_found_in_jpeg_and_decoded_frames_alike(clip_jpegs):
    for as_jpeg in (True, False):
        detector = CutDetector()
        cuts = [i for i, jpeg in enumerate(clip_jpegs)
                if detector.is_cut(Frame(i, 0.0, jpeg) if as_jpeg else Frame(i, 0.0, bgr=decode_jpeg(jpeg)))]
        assert cuts == [20, 82], f"jpeg={as_jpeg}"


def test_a_new_frame_size_is_a_cut_and_a_corrupt_frame_is_not(clip_jpegs):
    detector = CutDetector()
    assert not detector.is_cut(Frame(1, 0.0, clip_jpegs[0]))
    assert not detector.is_cut(Frame(2, 0.1, b"\xff\xd8 not a jpeg \xff\xd9"))
    assert not detector.is_cut(Frame(3, 0.2, clip_jpegs[1]))
    small = encode_jpeg(decode_jpeg(clip_jpegs[2])[::2, ::2].copy())
    assert detector.is_cut(Frame(4, 0.3, small))


def _pipeline(model_path, **settings) -> FramePipeline:
    settings = LiveSettings(**{"output_delay_s": 0.0, **settings})
    holder = ModelHolder(settings.tolerance)
    holder.swap(FaceModel.load(model_path), str(model_path))
    engine = FaceEngine(scale=settings.detect_scale, upsample=settings.upsample)
    return FramePipeline("perf-cam", Analyzer(engine, threads=0), holder, settings)


def test_the_cut_frame_is_analysed_even_when_analysis_was_busy(clip_jpegs, sample_model):
    pipeline = _pipeline(sample_model, detect_interval_s=10.0)     # no periodic detection gets in the way
    times = {i: i / 30 for i in range(100)}
    for i in range(70, 82):
        pipeline.process(Frame(i, times[i], clip_jpegs[i]))
    running: Future = Future()               # as if a detection of frame 81 were still running
    running.set_running_or_notify_cancel()
    pipeline._pending = running
    for i in (82, 83, 84):
        pipeline.process(Frame(i, times[i], clip_jpegs[i]))
    assert pipeline.tracker.tracks.tracks == [] and pipeline.busy, "analysed while busy"
    pipeline._pending = None                 # that detection ended (with nothing to adopt)
    result = pipeline.process(Frame(85, times[85], clip_jpegs[85]))
    (track,) = pipeline.tracker.tracks.tracks
    assert track.born_at == times[82], "the new scene was searched from a later frame than its first"
    assert [f.name for f in result.faces] == [LIN]


def test_annotated_frames_keep_camera_comments_and_say_what_was_drawn(clip_jpegs, sample_model):
    pipeline = _pipeline(sample_model)
    stamped = add_comment(clip_jpegs[83], FRAME_STAMP + b"1234")
    pipeline.process(Frame(1, 0.0, clip_jpegs[82]))
    result = pipeline.process(Frame(2, 0.04, stamped), draw=True)
    assert result.faces and result.jpeg is stamped and result.drawn != stamped
    assert comment_with_prefix(result.drawn, FRAME_STAMP) == b"1234"
    meta = json.loads(comment_with_prefix(result.drawn, ANNOTATION))
    assert meta == {"arrived": 0.04, "faces": [f.as_json() for f in result.faces]}
    assert meta["faces"][0]["name"] == LIN and meta["faces"][0]["state"] == "named"
    assert decode_jpeg(result.drawn).shape == (360, 640, 3)


def test_a_still_scene_is_not_searched_again_and_keeps_its_faces(clip_jpegs, sample_model):
    pipeline = _pipeline(sample_model, detect_interval_s=0.1, track_ttl_s=0.5)
    still = clip_jpegs[90]                     # Lin-Manuel Miranda, the same frame over and over
    results = [pipeline.process(Frame(i, i / 30, still)) for i in range(60)]
    assert pipeline.stats.detections == 1, "a scene where nothing moved was searched again"
    assert pipeline.stats.still_skips >= 15
    assert all([f.name for f in r.faces] == [LIN] for r in results), "a face in a still scene timed out"
    moved_on = clip_jpegs[91]                  # he moves: detection resumes
    pipeline.process(Frame(60, 2.0, moved_on))
    pipeline.process(Frame(61, 2.2, moved_on))
    assert pipeline.stats.detections == 2


def test_a_still_scene_is_searched_again_now_and_then(clip_jpegs, sample_model):
    """A face missed by one search of a static scene (CCTV: nothing moves) is not missed for good."""
    pipeline = _pipeline(sample_model, detect_interval_s=0.1, still_recheck_s=2.0)
    still = clip_jpegs[90]
    for i in range(150):                       # 5 s of the same frame
        pipeline.process(Frame(i, i / 30, still))
    assert pipeline.stats.detections == 3, "a still scene must be searched at 0, ~2 and ~4 s"


def test_a_face_coming_in_away_from_the_tracked_ones_is_found_where_the_scene_moved(clip_jpegs, sample_model):
    """A fixed camera: one face stands there (tracked), a second walks in at frame 12, with no cut
    and no whole-frame search due (every 10 s): with motion search on, the motion away from the
    tracked face is searched."""
    frames = [decode_jpeg(j) for j in clip_jpegs[:2]]
    top, right, bottom, left = 51 - 48, 567 + 48, 99 + 48, 519 - 48          # frame 0's face, with context
    face = frames[0][top:bottom, left:right].copy()
    room = np.full_like(frames[0], 90)
    room[200:, :] = 60                                                      # a floor

    def scene(k: int) -> bytes:
        img = room.copy()
        img[40:40 + face.shape[0], 40:40 + face.shape[1]] = face                # standing, tracked
        if k >= 12:                                                         # walking in from the right
            x = max(380, 600 - 20 * (k - 12))
            img[200:200 + face.shape[0], x - face.shape[1]:x] = face
        return encode_jpeg(img, 85)
    settings = LiveSettings(output_delay_s=0.0, full_search_interval_s=10.0, motion_search_max_share=0.4)
    holder = ModelHolder(settings.tolerance)
    holder.swap(FaceModel.load(sample_model), str(sample_model))
    engine = FaceEngine(scale=settings.detect_scale, upsample=settings.upsample)
    pipeline = FramePipeline("room", Analyzer(engine, threads=0), holder, settings)
    faces = [len(pipeline.process(Frame(k + 1, k / 30, scene(k)), render=False).faces) for k in range(40)]
    assert faces[0] == 1 and faces[11] == 1, faces
    arrived = next((k for k, n in enumerate(faces) if n == 2), None)
    assert arrived is not None and arrived <= 12 + 2 * 8, f"the second face was found at frame {arrived}: {faces}"


def test_with_nobody_tracked_the_whole_frame_is_searched_at_most_every_empty_search_interval(sample_model):
    """A moving scene without faces (no still-skip): searched twice a second, not at every detection."""
    rng = np.random.default_rng(1)
    settings = LiveSettings(output_delay_s=0.0, detect_interval_s=0.25, empty_search_interval_s=0.5)
    holder = ModelHolder(settings.tolerance)
    holder.swap(FaceModel.load(sample_model), str(sample_model))
    engine = FaceEngine(scale=settings.detect_scale, upsample=settings.upsample)
    searched = []

    class Counting:
        def detect(self, rgb):
            searched.append(rgb.shape)
            return engine.detect(rgb)

        def encode(self, rgb, boxes):
            return engine.encode(rgb, boxes)

        def detect_turned(self, rgb):          # where it moved most (everywhere): the CNN's share
            return engine.detect_turned(rgb)

        def close(self):
            pass
    pipeline = FramePipeline("noise", Analyzer(Counting(), threads=0), holder, settings)
    for k in range(31):                                   # 1 s of frames that all differ
        pipeline.process(Frame(k + 1, k / 30, encode_jpeg(rng.integers(0, 255, (120, 160, 3), np.uint8), 80)),
                         render=False)
    # Looks at frames 0, 8, 16, 24 (every 0.25 s at least); the whole frame at 0 and 16 (0.53 s).
    assert pipeline.stats.detections == 4, "the looks themselves must go on (planned every 0.25 s)"
    assert len([s for s in searched if s[:2] == (120, 160)]) == 2, searched
