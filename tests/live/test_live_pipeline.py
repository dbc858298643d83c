"""FramePipeline on real frames of the sample clip."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from live_helpers import Frame

from edgeface.cameras.playback import Playback
from edgeface.engine import FaceEngine
from edgeface.images import encode_jpeg
from edgeface.live import Analyzer, FramePipeline, LiveSettings, ModelHolder
from edgeface.modelfile import FaceModel

LIN = "Lin-Manuel Miranda"


@pytest.fixture(scope="module")
def clip_frames(clip) -> list[bytes]:
    """Frames 0-19 (Lin-Manuel Miranda on stage), a cut at 20, 20-59 (no detectable face), as camera JPEGs."""
    frames = [encode_jpeg(bgr, 80) for _, bgr in zip(range(60), Playback(clip).one_pass())]
    assert len(frames) == 60
    return frames


def _pipeline(model_path, events: list, **settings) -> FramePipeline:
    settings = LiveSettings(**{"output_delay_s": 0.0, **settings})
    holder = ModelHolder(settings.tolerance)
    holder.swap(FaceModel.load(model_path), str(model_path))
    engine = FaceEngine(scale=settings.detect_scale, upsample=settings.upsample)
    # threads=0: analysis runs inline, so the result does not depend on machine load.
    return FramePipeline("test-cam", Analyzer(engine, threads=0), holder, settings, on_event=events.append)


def test_pipeline_names_a_face_once_and_annotates_frames(clip_frames, sample_model):
    events = []
    pipeline = _pipeline(sample_model, events)
    results = [pipeline.process(Frame(i + 1, i / 30, jpeg), draw=True) for i, jpeg in enumerate(clip_frames[:30])]
    named = [r for r in results if any(f.name == LIN for f in r.faces)]
    assert len(named) >= 17, f"{LIN} named in only {len(named)} of his 20 frames"
    assert all(r.faces == [] for r in results[20:]), "a face was drawn after the scene cut at frame 20"
    assert [e.name for e in events] == [LIN], "one tracked face must give one event"
    assert sum(len(r.events) for r in results) == 1
    assert events[0].snapshot.startswith(b"\xff\xd8") and events[0].camera == "test-cam"
    assert pipeline.stats.encodings <= 3, "faces are encoded per track, not per frame"
    assert pipeline.stats.detections < 30, "detection runs on a cadence, not on every frame"
    annotated = cv2.imdecode(np.frombuffer(named[-1].drawn, np.uint8), cv2.IMREAD_COLOR)
    top, right, _bottom, left = named[-1].faces[0].box
    assert annotated.shape == (360, 640, 3)
    assert named[-1].drawn != clip_frames[named[-1].seq - 1], "the frame was not annotated"
    assert all(r.jpeg is clip_frames[r.seq - 1] for r in results), "a shown frame is not the camera's own JPEG"
    assert all(r.lag_s is not None and 0 <= r.lag_s < 1.0 for r in results[1:]), "the analysis' age is not told"
    green = annotated[top, left + 2:right - 2].astype(int)
    assert (green[:, 1] > 150).mean() > 0.8 and (green[:, 2] < 120).mean() > 0.8, "no green box on a known face"


def test_delayed_output_labels_a_face_from_its_first_frame(clip_frames, sample_model):
    pipeline = _pipeline(sample_model, [], output_delay_s=0.2, detect_interval_s=0.25)
    results = [pipeline.process(Frame(i + 1, i / 30, jpeg)) for i, jpeg in enumerate(clip_frames[:30])]
    shown = [r for r in results if r.jpeg is not None]
    assert [r.seq for r in shown] == list(range(1, len(shown) + 1)), "delayed frames out of order"
    assert results[0].jpeg is None and 22 <= len(shown) <= 25   # 0.2 s of 30 fps held back
    assert all(any(f.name == LIN for f in r.faces) for r in shown[1:20]), "a delayed frame lacks the label"
    assert all(r.faces == [] for r in shown[20:]), "a name was drawn across the scene cut at frame 20"


def test_frames_without_faces_pass_through_untouched(clip_frames, sample_model):
    pipeline = _pipeline(sample_model, [])
    for i, jpeg in enumerate(clip_frames[40:60]):
        result = pipeline.process(Frame(i + 1, i / 30, jpeg))
    assert result.faces == [] and result.jpeg is jpeg
    assert pipeline.process(Frame(98, 0.9, clip_frames[44]), draw=True).drawn is clip_frames[44], "nothing to draw"
    assert pipeline.process(Frame(99, 1.0, clip_frames[45]), render=False).jpeg is None


def test_a_corrupt_frame_is_skipped(sample_model):
    pipeline = _pipeline(sample_model, [])
    result = pipeline.process(Frame(1, 0.0, b"\xff\xd8 this is not a jpeg \xff\xd9"))
    assert result.faces == [] and result.events == []
