"""The one-way flow between a camera's pipeline and the shared analyzer, with analysis threads:
the analyzer works on a snapshot and hands back a result; only the camera's thread changes its
tracks, counts and events. The engine is the real one, held at a gate where timing matters."""

from __future__ import annotations

import itertools
import threading

import numpy as np
import pytest
from live_helpers import Frame

from edgeface.cameras.playback import Playback
from edgeface.engine import EngineSettings, FaceEngine
from edgeface.images import encode_jpeg
from edgeface.live import Analyzer, FramePipeline, LiveSettings, ModelHolder
from edgeface.live.analyzer import AnalysisJob, analysis_threads
from edgeface.live.engine_process import ProcessEngine
from edgeface.live.tracker import CameraTracker
from edgeface.modelfile import FaceModel

LIN = "Lin-Manuel Miranda"


class GatedEngine:
    """The real engine, whose ``detect`` waits for ``gate`` and notes what it was given; fails
    once when told to."""

    def __init__(self, engine: FaceEngine):
        self.engine = engine
        self.gate = threading.Event()
        self.seen: list[int] = []
        self.fail_next = False

    def detect(self, rgb):
        self.seen.append(int(rgb[0, 0, 0]))
        assert self.gate.wait(30), "the test never opened the gate"
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("the engine broke on this frame")
        return self.engine.detect(rgb)

    def encode(self, rgb, boxes):
        return self.engine.encode(rgb, boxes)


@pytest.fixture(scope="module")
def lin_jpegs(clip) -> list[bytes]:
    """Frames 82-99 of the clip: Lin-Manuel Miranda, after a scene cut."""
    frames = [encode_jpeg(bgr, 80) for _, bgr in zip(range(100), Playback(clip).one_pass())]
    return frames[82:]


@pytest.fixture
def setup(sample_model):
    settings = LiveSettings(output_delay_s=0.0, detect_interval_s=0.1)
    holder = ModelHolder(settings.tolerance)
    holder.swap(FaceModel.load(sample_model), str(sample_model))
    engine = GatedEngine(FaceEngine(scale=settings.detect_scale, upsample=settings.upsample))
    analyzer = Analyzer(engine, threads=1).start()
    yield engine, analyzer, holder, settings
    engine.gate.set()
    analyzer.close()


def test_results_are_adopted_on_the_camera_thread_at_its_next_frame(setup, lin_jpegs):
    engine, analyzer, holder, settings = setup
    events_on: list[str] = []
    pipeline = FramePipeline("cam", analyzer, holder, settings, stages=analyzer.stages,
                             on_event=lambda ev: events_on.append(threading.current_thread().name))
    first = pipeline.process(Frame(1, 0.0, lin_jpegs[0]))
    assert pipeline.busy and first.faces == []
    pending = pipeline._pending
    engine.gate.set()
    result = pending.result(timeout=60)                 # the analysis is done on its thread ...
    assert result.encodings == 1 and [face.with_track.name for face in result.faces] == [LIN]
    assert pipeline.tracker.tracks.tracks == [] and pipeline.stats.detections == 0 and events_on == [], \
        "the analyzer changed the pipeline's state from its own thread"
    second = pipeline.process(Frame(2, 1 / 30, lin_jpegs[1]))     # ... and adopted here
    assert [f.name for f in second.faces] == [LIN], "the first look did not name the face in one round trip"
    assert [e.name for e in second.events] == [LIN] and events_on == [threading.current_thread().name]
    assert pipeline.stats.detections == 1 and pipeline.stats.encodings == 1 and not pipeline.busy


def test_a_failed_analysis_frees_the_camera_and_the_next_detection_retries(setup, lin_jpegs):
    engine, analyzer, holder, settings = setup
    pipeline = FramePipeline("cam", analyzer, holder, settings)
    engine.fail_next = True
    engine.gate.set()
    pipeline.process(Frame(1, 0.0, lin_jpegs[0]))
    assert isinstance(pipeline._pending.exception(timeout=60), RuntimeError)
    pipeline.process(Frame(2, 0.3, lin_jpegs[9]))          # adopts the failure, submits again
    assert analyzer.failures == 1 and pipeline.stats.detections == 0 and pipeline.busy
    pipeline._pending.result(timeout=60)
    result = pipeline.process(Frame(3, 0.31, lin_jpegs[10]))
    assert [f.name for f in result.faces] == [LIN] and pipeline.stats.detections == 1


def test_urgent_jobs_jump_the_queue_and_a_cancelled_one_is_skipped(setup):
    engine, analyzer, holder, settings = setup

    def job(marker: int, urgent: bool = False) -> AnalysisJob:
        frame = Frame(marker, float(marker), bgr=np.full((120, 160, 3), marker, np.uint8))
        plan = CameraTracker("cam", settings).plan(frame.time, holder.current(), new_scene=True)
        return AnalysisJob(frame, plan, urgent=urgent)

    running = analyzer.submit(job(1))                  # held at the gate
    while engine.seen != [1]:
        threading.Event().wait(0.01)
    later, stale, urgent = analyzer.submit(job(2)), analyzer.submit(job(3)), analyzer.submit(job(4, urgent=True))
    assert stale.cancel()                              # as a scene cut does to a queued job
    engine.gate.set()
    for future in (running, later, urgent):
        assert future.result(timeout=60) is not None
    # (a blank frame is searched twice: scaled, then at full resolution for small faces)
    assert [k for k, _ in itertools.groupby(engine.seen)] == [1, 4, 2], \
        "the urgent job waited its turn, or the cancelled one ran"


def test_when_analysis_falls_behind_the_camera_whose_newest_analysis_is_oldest_goes_first(setup):
    engine, analyzer, holder, settings = setup

    def job(marker: int, analysed_at: float) -> AnalysisJob:
        frame = Frame(marker, 10.0, bgr=np.full((120, 160, 3), marker, np.uint8))
        plan = CameraTracker(f"cam{marker}", settings).plan(frame.time, holder.current(), new_scene=True)
        return AnalysisJob(frame, plan, analysed_at=analysed_at)

    running = analyzer.submit(job(1, 9.0))             # held at the gate
    while engine.seen != [1]:
        threading.Event().wait(0.01)
    queued = [analyzer.submit(job(marker, at)) for marker, at in ((2, 9.5), (3, 6.0), (4, 8.0))]
    engine.gate.set()
    for future in (running, *queued):
        assert future.result(timeout=60) is not None
    assert [k for k, _ in itertools.groupby(engine.seen)] == [1, 3, 4, 2], "analysis was not shared fairly"


class LateMainStream:
    """A camera's identify stream whose frames are late: a search that asks for a moment waits
    until the test lets it go (``IdentifyStream``'s ``hold``, its wait not bounded by the skew)."""

    def __init__(self):
        self.asked = threading.Event()
        self.arrive = threading.Event()

    def hold(self, t: float, span_s: float):
        return self

    def wait(self, seconds: float) -> tuple:
        self.asked.set()
        assert self.arrive.wait(60), "the test never let the frames arrive"
        return ()

    def status(self) -> dict:
        return {"online": True, "error": None}


def test_a_search_waiting_for_its_main_stream_leaves_the_engine_to_other_cameras(sample_model, lin_jpegs):
    """As deployed: the engine in one child process, the analyzer's threads from the settings."""
    settings = LiveSettings(output_delay_s=0.0, analysis_threads=1)
    holder = ModelHolder(settings.tolerance)
    holder.swap(FaceModel.load(sample_model), str(sample_model))
    engine = ProcessEngine(EngineSettings(scale=settings.detect_scale, upsample=settings.upsample), processes=1)
    analyzer = Analyzer(engine, threads=analysis_threads(settings)).start()
    late = LateMainStream()
    try:
        door, hall = (FramePipeline(cam, analyzer, holder, settings) for cam in ("door", "hall"))
        door.identify = late
        door.process(Frame(1, 0.0, lin_jpegs[0]))
        assert late.asked.wait(60), "the door's search never asked its main stream for the face's moment"
        hall.process(Frame(1, 0.0, lin_jpegs[0]))
        hall_seen = hall._pending.result(timeout=60)      # while the door's search still waits
        assert [face.with_track.name for face in hall_seen.faces] == [LIN]
        assert not door._pending.done()
        late.arrive.set()
        door_seen = door._pending.result(timeout=60)      # from the detect stream: no main frame came
        assert [face.with_track.name for face in door_seen.faces] == [LIN] and door_seen.identify_note
    finally:
        late.arrive.set()
        analyzer.close()
        engine.close()
