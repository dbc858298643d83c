"""The reference loop: what a straightforward face_recognition script does with a video.

Every frame, full resolution: JPEG decode, detect (upsample 1, the still-image settings), encode
every face, match, draw, JPEG encode. Run in the benchmark process on the same JPEG bytes the
simulated cameras send, one thread, so its frame rate is the yardstick of the same run and its
per-frame names are the truth that the live system's recall is measured against.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from edgeface.cameras.playback import Playback
from edgeface.engine import FaceEngine
from edgeface.errors import EdgefaceError
from edgeface.images import bgr_to_rgb, decode_jpeg, encode_jpeg
from edgeface.live.annotate import FaceLabel, draw_faces
from edgeface.live.tracking import TrackState
from edgeface.matcher import UNKNOWN, Matcher
from edgeface.recognize import STILL_SETTINGS

STAGES = ("decode", "detect", "encode", "match", "annotate", "jpeg_out")


@dataclass
class Reference:
    frames: int
    fps: float                           # frames per (wall-clock) second of the whole loop, one thread
    stage_ms: dict[str, float]           # mean CPU ms per frame
    names: list[frozenset[str]]          # per source frame: enrolled names found (not Unknown)
    face_widths: list[int] = field(default_factory=list)
    # per source frame: each face found, ((top, right, bottom, left), name or Unknown): where the
    # live boxes should be (the console's overlay test compares)
    faces: list[list[tuple[tuple[int, int, int, int], str]]] = field(default_factory=list)

    def as_json(self) -> dict:
        return {"frames": self.frames, "fps": round(self.fps, 2),
                "stage_ms": {k: round(v, 2) for k, v in self.stage_ms.items()},
                "named_frames": sum(1 for n in self.names if n),
                "face_width_px": [min(self.face_widths), max(self.face_widths)] if self.face_widths else None}


def source_jpegs(video: str, quality: int = 80, limit: int | None = None) -> list[bytes]:
    """The clip as the simulator sends it: each frame JPEG-encoded once at its quality."""
    out = []
    for bgr in Playback(video).one_pass():
        out.append(encode_jpeg(bgr, quality))
        if limit and len(out) >= limit:
            break
    return out


def run_reference(jpegs: list[bytes], matcher: Matcher, detector: str = "auto") -> Reference:
    engine = FaceEngine(STILL_SETTINGS, detector=detector)
    totals = dict.fromkeys(STAGES, 0.0)
    names, widths, faces = [], [], []
    started = time.perf_counter()
    clock = time.thread_time        # stage costs in CPU time, like the app's /metrics
    for jpeg in jpegs:
        t0 = clock()
        bgr = decode_jpeg(jpeg)
        if bgr is None:
            raise EdgefaceError("the reference clip has a frame that does not decode", "re-encode the video")
        rgb = bgr_to_rgb(bgr)
        t1 = clock()
        boxes = engine.detect(rgb)
        t2 = clock()
        encodings = engine.encode(rgb, boxes)
        t3 = clock()
        matches = matcher.match(encodings)
        t4 = clock()
        labels = [FaceLabel(i, box, TrackState.NAMED if m.name != UNKNOWN else TrackState.UNKNOWN, m.name,
                            m.distance) for i, (box, m) in enumerate(zip(boxes, matches))]
        draw_faces(bgr, labels)
        t5 = clock()
        encode_jpeg(bgr)
        t6 = clock()
        for stage, dt in zip(STAGES, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5)):
            totals[stage] += dt
        names.append(frozenset(m.name for m in matches if m.name != UNKNOWN))
        widths += [b[1] - b[3] for b in boxes]
        faces.append([((int(b[0]), int(b[1]), int(b[2]), int(b[3])), m.name) for b, m in zip(boxes, matches)])
    elapsed = time.perf_counter() - started
    n = max(1, len(jpegs))
    return Reference(len(jpegs), len(jpegs) / elapsed, {k: v * 1e3 / n for k, v in totals.items()}, names, widths,
                     faces)
