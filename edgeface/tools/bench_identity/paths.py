"""The two paths the identity benchmark compares, on the same frames.

- **live**: the web app's per-camera ``FramePipeline`` with an inline analyzer (``threads=0``:
  every detection the pipeline asks for runs at once, so the result does not depend on machine
  load), fed the scene's frames at their frame times. ``drive_live`` is the only code here that
  knows the pipeline's API.
  A scene with a main stream gives the pipeline an identify stream (``SceneIdentify``) that
  holds the main frames of each detect frame's moment.
- **reference**: ``edgeface recognize`` on every Nth frame — full resolution, the still-image
  engine, each frame on its own; on the detect stream's frames, or (``scale``) on the main stream's
  with the boxes brought back to the detect stream's.
"""

from __future__ import annotations

import bisect
import functools
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from edgeface.cameras.identify import Held
from edgeface.cameras.source import Frame
from edgeface.engine import Box, Engine, EngineSettings, FaceEngine
from edgeface.images import bgr_to_rgb, decode_jpeg
from edgeface.matcher import Matcher
from edgeface.modelfile import FaceModel
from edgeface.recognize import STILL_SETTINGS, recognize_faces
from edgeface.tools.bench_identity.scenes import SceneFrame
from edgeface.tools.bench_identity.scoring import Drawn

if TYPE_CHECKING:      # edgeface.live loads on first use: a bad --media fails before it
    from edgeface.overlay import Correction
    from edgeface.settings import LiveSettings


def live_engine(settings: LiveSettings) -> FaceEngine:
    """The engine the app builds from these settings (in-process: no engine child processes)."""
    return FaceEngine(EngineSettings(detector=settings.detector, scale=settings.detect_scale,
                                     upsample=settings.upsample))


class SceneIdentify:
    """A scene's main stream as the camera's identify stream (``edgeface.cameras.identify``'s
    ``IdentifyStream`` API: ``hold``, ``want``, ``status``): each ``hold(t)`` is offered the main
    frames rendered for the moments within its span of ``t`` and the one after (which completes
    it), with the times they were rendered for — the bench's deterministic clock for the main
    stream, not a mock of the network part: the pipeline's alignment checks and crops run on it
    unchanged, and figures do not depend on machine load. Frames are decoded when the analysis
    asks for their pixels, and dropped after it (a fresh ``Frame`` per hold)."""

    def __init__(self, main: Sequence[SceneFrame]):
        self._main = main
        self._times = [f.time for f in main]
        self.holds = 0

    def want(self, seconds: float = 0.0) -> None:
        """Every main frame is kept here: nothing to switch on."""

    def hold(self, t: float, span_s: float) -> Held:
        self.holds += 1
        held = Held(t, span_s)
        for f in self._main[bisect.bisect_left(self._times, t - span_s):]:
            held.offer(Frame(f.seq, f.time, f.jpeg))
            if held.complete.is_set():
                break
        held.complete.set()          # the scene's last frame: nothing later will come
        return held

    def status(self) -> dict:
        return {"online": True, "error": None}


@dataclass
class Played:
    """What the live path drew on each frame (``[(box, name or None)]``), and how many faces it
    encoded, from the identify stream among them."""

    drawn: list[list[Drawn]]
    encodings: int
    identify_crops: int


def drive_live(frames: Sequence[SceneFrame], settings: LiveSettings, model: FaceModel,
               engine: Engine | None = None, corrections: Sequence[Correction] = (),
               main: Sequence[SceneFrame] | None = None) -> Played:
    """What the live pipeline draws on each frame, with the site's ``corrections`` in effect
    (``edgeface.overlay``); ``main``: the camera's main stream (the frames' seq and times), its
    identify stream."""
    from edgeface.live import ModelHolder
    from edgeface.overlay import OverlayFile

    with tempfile.TemporaryDirectory(prefix="edgeface-identity-") as tmp:
        holder = ModelHolder(settings.tolerance, OverlayFile(Path(tmp) / "corrections.json"))
        holder.swap(model, "identity-bench")
        for correction in corrections:
            holder.correct(correction)
    return _played(frames, settings, holder, engine, main)


def _played(frames: Sequence[SceneFrame], settings: LiveSettings, holder, engine: Engine | None,
            main: Sequence[SceneFrame] | None) -> Played:
    from edgeface.live import Analyzer, FramePipeline

    pipeline = FramePipeline("identity-bench", Analyzer(engine or live_engine(settings), threads=0), holder,
                             settings)
    if main is not None:
        if [(f.seq, f.time) for f in main] != [(f.seq, f.time) for f in frames]:
            raise ValueError("the main stream's frames must have the detect frames' seq and times")
        pipeline.identify = SceneIdentify(main)
    index = {f.seq: i for i, f in enumerate(frames)}
    drawn: list[list[Drawn]] = [[] for _ in frames]
    # With output_delay_s the pipeline shows frame k later; the last frame again, for that long,
    # brings out the tail. A frame not shown yet comes back under its own seq with no faces and
    # is overwritten when it is shown.
    last = frames[-1]
    tail = [replace(last, seq=last.seq + k + 1, time=last.time + (k + 1) / 30)
            for k in range(int(settings.output_delay_s * 30) + 2)]
    for frame in [*frames, *tail]:
        result = pipeline.process(frame, render=False)
        if result.seq in index:
            drawn[index[result.seq]] = [(_box(f.box), f.name) for f in result.faces]
    return Played(drawn, pipeline.stats.encodings, pipeline.stats.identify_crops)


def reference_names(frames: Sequence[SceneFrame], matcher: Matcher, every: int, scale: int = 1,
                    ) -> tuple[dict[int, list[Drawn]], float]:
    """``edgeface recognize`` on frames 0, N, 2N, …: (frame index → ``[(box, name)]``, CPU seconds).
    ``scale``: the frames are that many times the detect stream's size (a main stream); the boxes
    are divided by it."""
    engine = _still_engine()
    started = time.thread_time()
    out: dict[int, list[Drawn]] = {}
    for i in range(0, len(frames), every):
        bgr = decode_jpeg(frames[i].jpeg)
        if bgr is None:
            raise ValueError(f"scene frame {i} is not a decodable JPEG")
        out[i] = [(_box(tuple(v / scale for v in f["box"])), f["name"])
                  for f in recognize_faces(engine, matcher, bgr_to_rgb(bgr))]
    return out, time.thread_time() - started


@functools.cache
def _still_engine() -> FaceEngine:
    return FaceEngine(STILL_SETTINGS)


def _box(box) -> Box:
    top, right, bottom, left = box
    return int(top), int(right), int(bottom), int(left)
