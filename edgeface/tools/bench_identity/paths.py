"""The two paths the identity benchmark compares, on the same frames.

- **live**: the web app's per-camera ``FramePipeline`` with an inline analyzer (``threads=0``:
  every detection the pipeline asks for runs at once, so the result does not depend on machine
  load), fed the scene's frames at their frame times. ``drive_live`` is the only code here that
  knows the pipeline's API.
- **reference**: ``edgeface recognize`` on every Nth frame — full resolution, the still-image
  engine, each frame on its own.
"""

from __future__ import annotations

import functools
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from edgeface.engine import Box, EngineSettings, FaceEngine
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


def drive_live(frames: Sequence[SceneFrame], settings: LiveSettings, model: FaceModel,
               engine: FaceEngine | None = None, corrections: Sequence[Correction] = ()) -> list[list[Drawn]]:
    """What the live pipeline draws on each frame: ``[(box, name or None)]`` per frame, with the
    site's ``corrections`` in effect (``edgeface.overlay``)."""
    from edgeface.live import ModelHolder
    from edgeface.overlay import OverlayFile

    with tempfile.TemporaryDirectory(prefix="edgeface-identity-") as tmp:
        holder = ModelHolder(settings.tolerance, OverlayFile(Path(tmp) / "corrections.json"))
        holder.swap(model, "identity-bench")
        for correction in corrections:
            holder.correct(correction)
    return _played(frames, settings, holder, engine)


def _played(frames: Sequence[SceneFrame], settings: LiveSettings, holder, engine: FaceEngine | None,
            ) -> list[list[Drawn]]:
    from edgeface.live import Analyzer, FramePipeline

    pipeline = FramePipeline("identity-bench", Analyzer(engine or live_engine(settings), threads=0), holder,
                             settings)
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
    return drawn


def reference_names(frames: Sequence[SceneFrame], matcher: Matcher, every: int) -> tuple[dict[int, list[Drawn]], float]:
    """``edgeface recognize`` on frames 0, N, 2N, …: (frame index → ``[(box, name)]``, CPU seconds)."""
    engine = _still_engine()
    started = time.thread_time()
    out: dict[int, list[Drawn]] = {}
    for i in range(0, len(frames), every):
        bgr = decode_jpeg(frames[i].jpeg)
        if bgr is None:
            raise ValueError(f"scene frame {i} is not a decodable JPEG")
        out[i] = [(_box(f["box"]), f["name"]) for f in recognize_faces(engine, matcher, bgr_to_rgb(bgr))]
    return out, time.thread_time() - started


@functools.cache
def _still_engine() -> FaceEngine:
    return FaceEngine(STILL_SETTINGS)


def _box(box) -> Box:
    top, right, bottom, left = box
    return int(top), int(right), int(bottom), int(left)
