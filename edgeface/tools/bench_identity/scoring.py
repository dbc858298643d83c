"""Scoring names drawn on frames against the scenes' truth, per segment and per frame.

A *segment* is a contiguous run of frames in which one face (one actor: one identity at one
place) is in the truth. Every drawn box is matched to the truth face it overlaps most
(IoU ≥ 0.3); a box that overlaps none is not scored (a face the truth leaves out: fading,
hidden). Then, per segment:

- **wrong name**: in any scored frame, a box on it carries a name other than the truth —
  for a stranger, any name at all;
- **named right**: an enrolled person's segment with the right name in at least one scored
  frame and no wrong name in any;
- **named-frame recall**: over scored frames whose truth is an enrolled person, the share in
  which the right name is drawn on it; **boxed-frame recall**: the share with a box on it, named
  or not (a face not found cannot be named: which of the two loses a name).

Only the frames given are scored (the reference looks at every Nth frame).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from edgeface.engine import Box
from edgeface.matcher import UNKNOWN
from edgeface.tools.bench_identity.scenes import STRANGER, TruthFace

MIN_IOU = 0.3
#: One face as drawn: its box and its name (None or "Unknown": drawn without a name).
Drawn = tuple[Box, "str | None"]


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two (top, right, bottom, left) boxes."""
    h = min(a[2], b[2]) - max(a[0], b[0])
    w = min(a[1], b[1]) - max(a[3], b[3])
    if h <= 0 or w <= 0:
        return 0.0
    inter = h * w
    union = (a[2] - a[0]) * (a[1] - a[3]) + (b[2] - b[0]) * (b[1] - b[3]) - inter
    return inter / union if union > 0 else 0.0


@dataclass(frozen=True)
class Segment:
    actor: int
    identity: str        # enrolled name or STRANGER
    person: str
    start: int           # first frame
    end: int             # one past the last frame

    @property
    def enrolled(self) -> bool:
        return self.identity != STRANGER


def segments(truth: Sequence[Sequence[TruthFace]]) -> list[Segment]:
    """The segments of a scene's truth, in order of their first frame."""
    open_: dict[int, tuple[TruthFace, int]] = {}
    out: list[Segment] = []
    for i, faces in enumerate([*truth, []]):
        here = {f.actor: f for f in faces}
        for actor, (face, start) in list(open_.items()):
            if actor not in here or here[actor].identity != face.identity:
                out.append(Segment(actor, face.identity, face.person, start, i))
                del open_[actor]
        for actor, face in here.items():
            open_.setdefault(actor, (face, i))
    return sorted(out, key=lambda s: (s.start, s.actor))


@dataclass
class SegmentOutcome:
    segment: Segment
    scored_frames: int = 0
    right_frames: int = 0        # the right name drawn on it (enrolled only)
    boxed_frames: int = 0        # a box drawn on it, named or not (found: what naming can start from)
    wrong_frames: int = 0        # a wrong name drawn on it
    wrong_names: frozenset[str] = frozenset()

    @property
    def named_right(self) -> bool:
        return self.segment.enrolled and self.right_frames > 0 and self.wrong_frames == 0


@dataclass
class Score:
    outcomes: list[SegmentOutcome]

    def as_json(self) -> dict:
        enrolled = [o for o in self.outcomes if o.segment.enrolled]
        frames = sum(o.scored_frames for o in enrolled)
        hits = sum(o.right_frames for o in enrolled)
        return {
            "segments": len(self.outcomes),
            "enrolled_segments": len(enrolled),
            "stranger_segments": len(self.outcomes) - len(enrolled),
            "segments_named_right": sum(o.named_right for o in self.outcomes),
            "segments_wrong_name": sum(o.wrong_frames > 0 for o in self.outcomes),
            "strangers_named": sum(o.wrong_frames > 0 for o in self.outcomes if not o.segment.enrolled),
            "named_frame_recall": round(hits / frames, 4) if frames else None,
            "boxed_frame_recall": round(sum(o.boxed_frames for o in enrolled) / frames, 4) if frames else None,
            "enrolled_frames_scored": frames,
            "wrong_name_frames": sum(o.wrong_frames for o in self.outcomes),
        }

    def wrong(self) -> list[dict]:
        """The segments with a wrong name: who was there, what was drawn, when."""
        return [{"frames": [o.segment.start, o.segment.end], "truth": o.segment.person,
                 "enrolled": o.segment.enrolled, "drawn": sorted(o.wrong_names), "wrong_frames": o.wrong_frames,
                 "scored_frames": o.scored_frames} for o in self.outcomes if o.wrong_frames]


def _named(name: str | None) -> str | None:
    return None if name in (None, "", UNKNOWN) else name


def score(truth: Sequence[Sequence[TruthFace]], drawn: Mapping[int, Sequence[Drawn]] | Sequence[Sequence[Drawn]]
          ) -> Score:
    """Score ``drawn`` (per frame index: the faces drawn) against ``truth``; a mapping scores
    only its frames, a sequence every frame."""
    frames = drawn if isinstance(drawn, Mapping) else dict(enumerate(drawn))
    outcomes = {}
    by_frame: dict[tuple[int, int], SegmentOutcome] = {}
    for seg in segments(truth):
        outcome = outcomes[(seg.actor, seg.start)] = SegmentOutcome(seg)
        for i in range(seg.start, seg.end):
            by_frame[(i, seg.actor)] = outcome
    for i, faces in sorted(frames.items()):
        if not 0 <= i < len(truth):
            raise ValueError(f"frame {i} is outside the scene's {len(truth)} frames")
        names: dict[int, set[str | None]] = {f.actor: set() for f in truth[i]}
        for box, name in faces:
            best = _nearest(truth[i], box)
            if best is not None and iou(box, best.box) >= MIN_IOU:
                names[best.actor].add(_named(name))
        for face in truth[i]:
            o = by_frame[(i, face.actor)]
            o.scored_frames += 1
            o.boxed_frames += bool(names[face.actor])
            drawn_names = {n for n in names[face.actor] if n is not None}
            enrolled = face.identity != STRANGER
            wrong = drawn_names - {face.identity} if enrolled else drawn_names    # a stranger: any name
            if enrolled and face.identity in drawn_names:
                o.right_frames += 1
            if wrong:
                o.wrong_frames += 1
                o.wrong_names |= wrong
    return Score(list(outcomes.values()))


def first_named(truth: Sequence[Sequence[TruthFace]],
                drawn: Mapping[int, Sequence[Drawn]] | Sequence[Sequence[Drawn]], actors: Sequence[int]) -> list[dict]:
    """Per segment of these ``actors`` (walk-ins), how many frames after it starts (the face
    wholly in the frame) the right name is first drawn on it: ``first_name_frames``, None if never
    (a stranger: never is right; any name on one is counted by ``score``). Only the frames given
    count: with every Nth frame, the figure is a multiple of N's granularity."""
    frames = drawn if isinstance(drawn, Mapping) else dict(enumerate(drawn))
    out = []
    for seg in segments(truth):
        if seg.actor not in actors:
            continue
        first = None
        for i in sorted(k for k in frames if seg.start <= k < seg.end):
            face = next(f for f in truth[i] if f.actor == seg.actor)
            if seg.enrolled and any(_named(name) == seg.identity for box, name in frames[i]
                                    if iou(box, face.box) >= MIN_IOU and _nearest(truth[i], box) is face):
                first = i - seg.start
                break
        out.append({"person": seg.person, "enrolled": seg.enrolled, "frames": [seg.start, seg.end],
                    "first_name_frames": first})
    return out


def _nearest(faces: Sequence[TruthFace], box: Box) -> TruthFace | None:
    return max(faces, key=lambda f: iou(box, f.box), default=None)


def kept(reference: Score, live: Score) -> dict:
    """Of the segments the reference names right, how many the live path names right too."""
    live_right = {(o.segment.actor, o.segment.start) for o in live.outcomes if o.named_right}
    ref_right = [(o.segment.actor, o.segment.start) for o in reference.outcomes if o.named_right]
    both = sum(key in live_right for key in ref_right)
    return {"reference_named_right": len(ref_right), "live_also": both,
            "share": round(both / len(ref_right), 4) if ref_right else None}
