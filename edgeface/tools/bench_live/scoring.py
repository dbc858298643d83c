"""Turning what the viewers received into the benchmark's figures: recall, latency, frame rate.

Pure functions over ``Received`` records and the reference's per-frame names, so they can be
checked on hand-made records.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from edgeface.tools.bench_live.viewer import Received

#: Reference gaps up to this many frames do not end an appearance: full-resolution detection
#: misses a face for a frame or a few (frame 1 and 116-119 of the sample clip), the face stays.
MERGE_GAP_FRAMES = 10


@dataclass(frozen=True)
class Appearance:
    name: str
    start: int          # first source frame
    end: int            # last source frame (inclusive)


def appearances(names: list[frozenset[str]], merge_gap: int = MERGE_GAP_FRAMES) -> list[Appearance]:
    """Runs of frames in which the reference names someone, short gaps bridged."""
    out = []
    for name in sorted(set().union(*names)) if names else []:
        frames = [k for k, found in enumerate(names) if name in found]
        start = prev = frames[0]
        for k in frames[1:]:
            if k - prev > merge_gap + 1:
                out.append(Appearance(name, start, prev))
                start = k
            prev = k
        out.append(Appearance(name, start, prev))
    return sorted(out, key=lambda a: (a.start, a.name))


def in_window(frames: list[Received], start: float, end: float) -> list[Received]:
    return [f for f in frames if start <= f.at <= end and f.counter is not None]


def output_fps(frames: list[Received], start: float, end: float) -> float:
    return len(in_window(frames, start, end)) / max(end - start, 1e-9)


def recall_counts(frames: list[Received], names: list[frozenset[str]], clip_frames: int) -> tuple[int, int, int]:
    """(reference names drawn, reference names, names drawn) over the frames received. Frames
    beyond the reference (a shortened reference run) are not scored."""
    hits = wanted = drawn = 0
    for f in frames:
        if f.counter is None:       # unstamped: nothing to score against
            continue
        k = f.counter % clip_frames
        if k >= len(names):
            continue
        truth = names[k]
        hits += len(truth & f.names)
        wanted += len(truth)
        drawn += len(f.names)
    return hits, wanted, drawn


def first_name_latencies(frames: list[Received], names: list[frozenset[str]], clip_frames: int,
                         fps: float) -> list[float]:
    """Seconds from each appearance's first frame reaching the app to a viewer receiving a frame
    of that appearance with the name drawn; ``inf`` when none came. Only appearances whose whole
    span was sent while ``frames`` were received count (the window cuts the others)."""
    stamped = [(f.counter, f) for f in frames if f.counter is not None]
    if not stamped:
        return []
    lo, hi = stamped[0][0], stamped[-1][0]
    out = []
    for loop in range(lo // clip_frames, hi // clip_frames + 1):
        base = loop * clip_frames
        for app in appearances(names):
            first, last = base + app.start, base + app.end
            if first < lo or last > hi:
                continue
            hit = next(((counter, f.arrived, f.at) for counter, f in stamped
                        if first <= counter <= last and app.name in f.names and f.arrived is not None), None)
            if hit is None:
                out.append(math.inf)
                continue
            # The app got frames at the camera's pace: the appearance's first frame came
            # (counter difference / fps) before the one that carries the name.
            counter, arrived, at = hit
            out.append(at - (arrived - (counter - first) / fps))
    return out


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (``inf`` values included: a missed face is worse than any)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]
