"""``edgeface bench --scene cctv --inline``: the CCTV scene through one camera's pipeline, inline.

No app, no cameras, no HTTP: the scene's frames go through the web app's ``FramePipeline`` with
an inline analyzer (every look it plans runs at once), as the identity suite plays its scenes, and
what it draws is scored against the scene's own truth (who is wholly in view, where): named-frame
recall, wrong names, and for every enrolled visit how many frames after the face is wholly in
view its name is first drawn (walk-ins). Beside them, the detector's work: looks by kind, pixels
searched, CPU. Deterministic — the same scene and settings give the same figures on any machine
load — so a change to how the live path searches is measured here first, then at eight cameras.
"""

from __future__ import annotations

import resource
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from edgeface.engine import Engine, FaceEngine
from edgeface.live.identify import Picture
from edgeface.live.metrics import StageTimes
from edgeface.live.plan import Observation, SearchPlan
from edgeface.settings import LiveSettings
from edgeface.tools.bench_identity import default_media, enrol
from edgeface.tools.bench_identity.paths import drive_live, live_engine
from edgeface.tools.bench_identity.scenes import SceneFrame, TruthFace
from edgeface.tools.bench_identity.scoring import first_named, score
from edgeface.tools.bench_live.cctv import DEFAULT_SECONDS, DEFAULT_SEED, scene_file
from edgeface.tools.bench_live.reference import source_jpegs


class CountingEngine:
    """The live engine, counting what the detector is asked: calls, pixels and CPU per look kind."""

    def __init__(self, engine: FaceEngine):
        self.engine = engine
        self.kind = "?"
        self.looks: Counter[str] = Counter()
        self.pixels: Counter[str] = Counter()
        self.detect_s = self.encode_s = 0.0
        self.encodings = 0

    def detect(self, rgb):
        return self._detected(self.engine.detect, rgb, self.kind)

    def detect_turned(self, rgb):
        return self._detected(self.engine.detect_turned, rgb, "turned")

    def _detected(self, detector, rgb, kind: str):
        started = time.thread_time()
        try:
            return detector(rgb)
        finally:
            self.detect_s += time.thread_time() - started
            self.pixels[kind] += rgb.shape[0] * rgb.shape[1]

    def encode(self, rgb, boxes):
        started = time.thread_time()
        try:
            return self.engine.encode(rgb, boxes)
        finally:
            self.encode_s += time.thread_time() - started
            self.encodings += len(boxes)

    def close(self) -> None:
        self.engine.close()


def run(args, say: Callable[[str], None]) -> dict:
    import edgeface.live.analyzer as analyzer

    video, info = scene_file(args.media, seed=DEFAULT_SEED if args.seed is None else args.seed,
                             seconds=args.scene_seconds or DEFAULT_SECONDS, say=say)
    frames = [SceneFrame(i, i / info["fps"], jpeg) for i, jpeg in enumerate(source_jpegs(str(video)))]
    truth = [[TruthFace(actor, tuple(box), identity, person) for actor, box, identity, person in faces]
             for faces in info["truth"]]
    settings = LiveSettings.from_env()
    counting = CountingEngine(live_engine(settings))
    search = analyzer.search

    def counted(engine: Engine, frame, plan: SearchPlan, stages: StageTimes,
                main: Callable[[], tuple[Picture, ...]] | None = None,
                drift: float | None = None) -> Observation | None:    # which kind of look asks for the pixels
        counting.kind = plan.kind.value + ("+motion" if plan.motion else "")
        counting.looks[counting.kind] += 1
        return search(engine, frame, plan, stages, main, drift)
    say(f"playing {len(frames)} frames through one camera's pipeline, inline")
    analyzer.search = counted           # the bench's instrument: the pipeline runs unchanged
    before, started = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
    try:
        played = drive_live(frames, settings, enrol(Path(args.media) if args.media else default_media()),
                            engine=counting)
    finally:
        analyzer.search = search
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    scored = score(truth, played.drawn)
    visits = [v for v in first_named(truth, played.drawn, sorted({f.actor for faces in truth for f in faces}))
              if v["enrolled"]]
    delays = [v["first_name_frames"] for v in visits]
    return {"suite": "live", "inline": True, "scene": {"seed": info["seed"], "seconds": info["seconds"],
                                                        "frames": len(frames), "visits": len(info["visits"])},
            **scored.as_json(), "wrong": scored.wrong(), "visits": visits,
            "first_name_frames_max": None if None in delays else max(delays, default=0),
            "visits_never_named": delays.count(None),
            "looks": dict(counting.looks), "detector_mpx": {k: round(v / 1e6, 2) for k, v in counting.pixels.items()},
            "detect_cpu_s": round(counting.detect_s, 2), "encode_cpu_s": round(counting.encode_s, 2),
            "encodings": counting.encodings, "cpu_s": round(cpu, 2),
            "cpu_ms_per_frame": round(cpu * 1000 / len(frames), 2), "wall_s": round(time.monotonic() - started, 1),
            "settings": settings.model_dump()}


def format_table(r: dict) -> str:
    delays = ", ".join("never" if v["first_name_frames"] is None else str(v["first_name_frames"]) for v in r["visits"])
    mpx = sum(r["detector_mpx"].values())
    return "\n".join([
        f"CCTV scene inline (seed {r['scene']['seed']}, {r['scene']['seconds']:g} s, {r['scene']['frames']} frames, "
        f"{r['scene']['visits']} visits), one camera's pipeline, scored against the scene's truth",
        f"  named-frame recall {r['named_frame_recall']}  wrong-name segments {r['segments_wrong_name']}  "
        f"strangers named {r['strangers_named']}",
        f"  enrolled visits: first name after (frames wholly in view): {delays}",
        f"  looks {r['looks']}  detector {mpx:.1f} Mpx ({r['detector_mpx']})",
        f"  CPU {r['cpu_ms_per_frame']} ms/frame (detect {r['detect_cpu_s']} s, encode {r['encode_cpu_s']} s, "
        f"{r['encodings']} encodings)"])
