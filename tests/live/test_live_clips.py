"""A camera's worker feeds its clip recorder: the sample clip played by a real camera source through
the real pipeline and worker, nobody watching. The pipeline makes a shown frame's JPEG only for the
frames the recorder samples (never every frame), and the face on stage gives a clip when the worker
stops."""

from __future__ import annotations

import time

import pytest
from helpers import wait_until

from edgeface.cameras.source import CameraSource
from edgeface.engine import FaceEngine
from edgeface.history.clips import Segment
from edgeface.live import Analyzer, FramePipeline, LiveSettings, ModelHolder
from edgeface.live.recorder import ClipRecorder
from edgeface.live.worker import CameraWorker
from edgeface.modelfile import FaceModel


class CountingPipeline(FramePipeline):
    """The real pipeline, counting the frames it was asked to make a shown JPEG of."""
    rendered = 0
    processed = 0

    def process(self, frame, *, render: bool = True, draw: bool = False):
        self.processed += 1
        self.rendered += render
        return super().process(frame, render=render, draw=draw)


@pytest.fixture
def pipeline(sample_model) -> CountingPipeline:
    settings = LiveSettings(output_delay_s=0.0)
    holder = ModelHolder(settings.tolerance)
    holder.swap(FaceModel.load(sample_model), str(sample_model))
    engine = FaceEngine(scale=settings.detect_scale, upsample=settings.upsample)
    return CountingPipeline("stage", Analyzer(engine, threads=0), holder, settings)


def test_the_worker_samples_the_shown_frames_for_clips_only(clip, pipeline):
    segments: list[Segment] = []
    recorder = ClipRecorder("stage", segments.append, fps=4.0, pre_s=1.0, post_s=1.0, max_s=60.0)
    added: list[float] = []
    add = recorder.add
    recorder.add = lambda t, jpeg, faces: (added.append(t), add(t, jpeg, faces))[1]   # type: ignore[method-assign]
    source = CameraSource("stage", str(clip)).start()
    worker = CameraWorker(source, pipeline, recorder=recorder).start()
    try:
        wait_until(lambda: pipeline.processed >= 40 and len(added) >= 4, 60, "frames through the worker")
    finally:
        worker.close()
        source.close()
    assert worker.viewers == 0
    # Nobody watched: the pipeline made a JPEG only of the frames the recorder took (4 a second).
    assert pipeline.rendered == len(added) < pipeline.processed
    # Lin-Manuel Miranda is on stage from the first frame: his clip was handed over at the stop.
    assert segments and segments[0].camera == "stage" and segments[0].fps == 4.0
    assert all(jpeg.startswith(b"\xff\xd8") for _, jpeg in segments[0].frames)
    assert time.time() - segments[0].frames[-1][0] < 60          # stamped in epoch seconds, like visits
