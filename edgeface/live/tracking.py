"""Face tracks between detections: association, motion prediction, the identity guard, naming.

Detection runs a few times a second, not per frame; in between, each track's box is moved along
its measured velocity, which keeps drawn boxes on moving faces for the price of arithmetic.
A track is encoded when it is new, and a named one is verified at every detection (a face can be
replaced by another in the same place without a scene cut): by its look (``edgeface.live.looks``)
or, when the look changed or ``named_recheck_s`` passed, by a new encoding; never on every frame
(``edgeface.live.search`` decides which, from a frozen view of the tracks).

A track's identity is verified, not assumed: a new encoding that jumps away from the track's
last one (``identity_jump``, well under the match tolerance) means another face stands in the box,
so the track ends and a new one begins; the old name is withdrawn from the frames since the last
encoding that agreed (the output delay has not shown them yet). So a track's mean encoding only
ever averages encodings of one person, and a name is drawn only on frames its track has verified.
A scene cut ends every track: none is drawn after it or joined across it.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol

import numpy as np

from edgeface.geometry import Box, as_box, jump, width
from edgeface.matcher import UNKNOWN, Match
from edgeface.settings import LiveSettings


class TrackState(str, Enum):
    """What a track's face is known as; the value is what the annotation JSON and the UI carry."""

    PENDING = "pending"           # not identified yet
    NAMED = "named"               # matched an enrolled person
    UNKNOWN = "unknown"           # encoded, matched nobody (its name is ``matcher.UNKNOWN``)

    def __str__(self) -> str:
        return self.value


_MAX_EXTRAPOLATION_S = 0.25       # predicting further than this drifts more than it helps
_LATE_FRAME_S = 0.25              # how much later than output_delay_s a buffered frame may be shown
#: A track is identified by the mean of its last few encodings: one frame's descriptor of a small
#: or turning face wanders around the tolerance (0.50-0.64 over half a second of the sample
#: clip's 50 px face), their mean much less (0.49-0.51 over the same frames).
TRACK_ENCODINGS = 4


@dataclass
class Track:
    id: int
    box: Box                      # as last detected
    seen_at: float                # frame time of that detection
    state: TrackState = TrackState.PENDING
    name: str | None = None
    distance: float | None = None
    velocity: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)   # px/s per box edge
    encoded_at: float = float("-inf")
    generation: int = 0           # model generation the name came from
    unknown_streak: int = 0
    doubtful: bool = False        # the last association may have joined two different faces
    reported: str | None = field(default=None)   # name last recorded as an event
    history: deque = field(default_factory=lambda: deque(maxlen=16), repr=False)   # (time, box) of detections
    encodings: deque = field(default_factory=lambda: deque(maxlen=TRACK_ENCODINGS), repr=False)
    look: np.ndarray | None = field(default=None, repr=False)   # appearance at the last encoding (``appearance``)
    # From the identify stream at its last encoding from there: the region around the face (BGR),
    # the face's box in it, and when.
    shot: np.ndarray | None = field(default=None, repr=False)
    shot_box: Box | None = None
    shot_at: float = -math.inf

    lead_s: float = 0.0           # may be drawn this long before its first detection (delayed output)
    ended_at: float = math.inf    # a scene cut or a face change: not drawn from then on, joined by no detection
    verified_at: float = -math.inf   # frame time of the last look that confirmed the face (an agreeing encoding)
    named_until: float = math.inf    # the name is not drawn on later frames (the face may be someone else's)

    def __post_init__(self):
        self.born_at = self.seen_at
        self.history.append((self.seen_at, self.box))

    def predicted_box(self, t: float) -> Box:
        """Where the face is at frame time ``t``: extrapolated after the last detection,
        interpolated between detections for earlier (delayed) frames."""
        if t < self.seen_at and len(self.history) > 1:
            times = [h[0] for h in self.history]
            i = bisect.bisect_right(times, t)
            if i == 0:
                return self.history[0][1]
            (t0, b0), (t1, b1) = self.history[i - 1], self.history[i]
            w = (t - t0) / max(t1 - t0, 1e-6)
            return as_box(a + (b - a) * w for a, b in zip(b0, b1))
        dt = min(max(t - self.seen_at, 0.0), _MAX_EXTRAPOLATION_S)
        return as_box(v + dv * dt for v, dv in zip(self.box, self.velocity))

    def visible_at(self, t: float, ttl_s: float) -> bool:
        """Drawn on the frame of time ``t``: from ``lead_s`` before its first detection (the face
        was probably there before the detector looked) until ``ttl_s`` after its last."""
        return self.born_at - self.lead_s <= t <= self.seen_at + ttl_s and t < self.ended_at

    def joins(self, box: Box, t: float) -> float:
        """How far ``box`` (detected at ``t``) is from this face, in face widths: the smaller of
        the distances to where it was predicted and to where it was last seen."""
        return min(jump(self.predicted_box(t), box), jump(self.box, box))

    def probe(self, encoding: np.ndarray) -> np.ndarray:
        """Add this frame's encoding (one that agrees with the others: see ``TrackSet.verify``);
        the vector to match: the mean of the recent ones."""
        self.remember(encoding)
        return probe_of(self.encodings)

    def remember(self, encoding: np.ndarray) -> None:
        """Keep this frame's encoding among the recent ones (one that agrees with them)."""
        self.encodings.append(encoding)

    def jump(self, encoding: np.ndarray) -> float:
        """Distance from ``encoding`` to this track's last one (0 when it has none yet)."""
        return float(np.linalg.norm(encoding - self.encodings[-1])) if self.encodings else 0.0

    def identity_at(self, t: float, stale_s: float) -> tuple[TrackState, str | None, float | None]:
        """State, name and distance to draw on the frame of time ``t``: a name only where the
        face was verified — not after the track's name was withdrawn, nor longer than
        ``stale_s`` after its last verification (it is drawn as a face being identified)."""
        if self.state == TrackState.PENDING or t > self.named_until or t > self.verified_at + stale_s:
            return TrackState.PENDING, None, None
        return self.state, self.name, self.distance


class TrackSet:
    """The tracks of one camera. Not thread-safe: one thread owns it (the camera's, through its
    ``CameraTracker``); analysis sees frozen views of them (``edgeface.live.plan``)."""

    def __init__(self, settings: LiveSettings):
        self.settings = settings
        self.tracks: list[Track] = []
        self.cuts: deque[float] = deque(maxlen=64)    # frame times of recent scene cuts, ascending
        self._ids = itertools.count(1)

    def cut(self, t: float) -> None:
        """The frame of time ``t`` starts a new scene: every track ends there."""
        self.cuts.append(t)
        for tr in self.tracks:
            tr.ended_at = min(tr.ended_at, t)

    def last_cut(self, t: float = math.inf) -> float:
        """The latest cut at or before ``t`` (-inf if none is remembered)."""
        i = bisect.bisect_right(self.cuts, t)
        return self.cuts[i - 1] if i else -math.inf

    def _next_cut(self, t: float) -> float:
        i = bisect.bisect_right(self.cuts, t)
        return self.cuts[i] if i < len(self.cuts) else math.inf

    def update(self, boxes: list[Box], t: float, lead_s: float = 0.0) -> None:
        """Associate one detection pass (frame time ``t``) with the tracks (``associate``) and
        take it in (``join``)."""
        alive = [tr for tr in self.tracks if tr.ended_at > t]
        self.join(boxes, associate(alive, boxes, t, self.settings), t, lead_s)

    def join(self, boxes: Sequence[Box], pairs: Sequence[Pair], t: float, lead_s: float = 0.0) -> list[Track]:
        """Take in one detection pass (frame time ``t``) associated by ``associate``: each paired
        box moves its track, the live tracks not found again lose their name from their last
        verified look on (until a look verifies them again), and every other box starts a track.
        New tracks get ``lead_s`` (see ``Track``), but do not reach back past the cut that began
        their scene. Returns the track of each box."""
        by_id = {tr.id: tr for tr in self.tracks if tr.ended_at > t}
        found: list[Track | None] = [None] * len(boxes)
        for pair in pairs:
            tr = by_id.pop(pair.track, None)
            if tr is None:
                continue                   # expired meanwhile: the box starts a track of its own
            tr.doubtful = tr.doubtful or pair.doubtful
            self._move(tr, boxes[pair.box], t)
            found[pair.box] = tr
        for tr in by_id.values():
            self.withdraw(tr)              # not found: whoever stands there now is not verified
        lead_s = min(lead_s, t - self.last_cut(t))
        for j, b in enumerate(boxes):
            if found[j] is None:
                found[j] = Track(next(self._ids), as_box(b), t, lead_s=lead_s, ended_at=self._next_cut(t))
                self.tracks.append(found[j])  # type: ignore[arg-type]
        self.expire(t)
        return found  # type: ignore[return-value]

    def hold(self, t: float) -> None:
        """Nothing moved in the frame of time ``t``: every live track is confirmed where it is —
        and still the face its last look verified."""
        for tr in self.tracks:
            if tr.ended_at > t:
                tr.verified_at += t - tr.seen_at     # the face as it was at its last look: as verified
                tr.velocity = (0.0, 0.0, 0.0, 0.0)
                tr.seen_at = t
                tr.history.append((t, tr.box))

    def visible(self, t: float) -> list[Track]:
        """The tracks drawn on the frame of time ``t``; a prediction older than two detection
        intervals + 0.5 s (analysis fell behind) is not drawn: it would be beside the face."""
        ttl = min(self.settings.track_ttl_s, 2 * self.settings.detect_interval_s + 0.5)
        return [tr for tr in self.tracks if tr.visible_at(t, ttl)]

    def stale_s(self) -> float:
        """How long after its last verification a name is still drawn (see ``Track.identity_at``):
        until two planned verifications (every detection verifies, by look or encoding) have passed
        without one (the detector misses a face now and then; a name that flickered off would say
        less than one that holds for 0.5 s)."""
        return 2 * self.settings.detect_interval_s

    def expire(self, t: float) -> None:
        """Drop tracks that detection has not confirmed lately, or that a cut ended (kept longer
        by the output delay: delayed frames still show them)."""
        # A delayed frame shown now is up to output_delay_s old, more when frames arrive unevenly.
        shown_from = t - self.settings.output_delay_s - _LATE_FRAME_S
        keep = self.settings.track_ttl_s + self.settings.output_delay_s
        self.tracks = [tr for tr in self.tracks if t - tr.seen_at <= keep and tr.ended_at >= shown_from]

    @staticmethod
    def _move(tr: Track, box: Box, t: float) -> None:
        dt = t - tr.seen_at
        if dt > 1e-3:
            measured = [(n - o) / dt for n, o in zip(box, tr.box)]
            # Damped and smoothed: detections jitter by a few pixels, and overshooting a face
            # looks worse than trailing it.
            tr.velocity = tuple(0.3 * m + 0.3 * v for m, v in zip(measured, tr.velocity))  # type: ignore[assignment]
        tr.box, tr.seen_at = as_box(box), t
        tr.history.append((t, tr.box))

    def verify(self, tr: Track, encoding: np.ndarray, t: float, alone: str | None = None) -> Track:
        """The track whose face ``encoding`` (taken at ``t``) is: ``tr`` when it agrees with
        ``tr``'s last encoding — or, for a named track, when the encoding alone names the same
        person (``alone``: a face turning fast jumps further than ``identity_jump`` and is still
        who it was) — else a new track in its place: ``tr`` ends at ``t`` and its name is
        withdrawn from the frames since its last verified look."""
        if tr.jump(encoding) <= self.settings.identity_jump or (tr.state == TrackState.NAMED and alone == tr.name):
            tr.verified_at = t
            return tr
        tr.ended_at = t
        self.withdraw(tr)
        new = Track(next(self._ids), tr.box, t, ended_at=self._next_cut(t), verified_at=t)
        self.tracks.append(new)
        return new

    @staticmethod
    def withdraw(tr: Track) -> None:
        """The face in ``tr`` may not be the one it was named as: no name after its last verified look."""
        tr.named_until = min(tr.named_until, tr.verified_at)

    def apply(self, tr: Track, match: Match, t: float, generation: int) -> bool:
        """Record a match result; True when it is news worth an event (named, renamed, or Unknown)."""
        tr.encoded_at, tr.generation, tr.named_until = t, generation, math.inf
        doubtful, tr.doubtful = tr.doubtful, False
        if match.name != UNKNOWN:
            tr.state, tr.name, tr.distance, tr.unknown_streak = TrackState.NAMED, match.name, match.distance, 0
        else:
            tr.unknown_streak += 1
            # One bad angle must not strip a name: turn Unknown only after repeated misses —
            # unless the face may be someone else's now.
            if tr.state != TrackState.NAMED or doubtful or tr.unknown_streak >= self.settings.unknown_confirmations:
                tr.state, tr.name, tr.distance = TrackState.UNKNOWN, UNKNOWN, match.distance
        confirmed = tr.state == TrackState.NAMED or tr.unknown_streak >= self.settings.unknown_confirmations
        if confirmed and tr.name != tr.reported:
            tr.reported = tr.name
            return True
        return False


def probe_of(encodings: Sequence[np.ndarray]) -> np.ndarray:
    """The vector a track is matched by: the mean of its recent encodings (``TRACK_ENCODINGS``)."""
    return np.mean(list(encodings)[-TRACK_ENCODINGS:], axis=0)


class Placed(Protocol):
    """A face's last detection and where it is predicted: a live ``Track`` or a frozen view of one."""

    @property
    def id(self) -> int: ...
    @property
    def box(self) -> Box: ...
    @property
    def seen_at(self) -> float: ...

    def joins(self, box: Box, t: float) -> float: ...


@dataclass(frozen=True)
class Pair:
    """A detected box (its index) found to be a track's face."""
    track: int
    box: int
    doubtful: bool    # the join may have joined two different faces: identify it again at once


def associate(tracks: Sequence[Placed], boxes: Sequence[Box], t: float, settings: LiveSettings) -> list[Pair]:
    """Which box (detected at frame time ``t``) is which track's face. Greedy by centre distance
    in units of face size: a face that moved less than ``max_jump`` of its width between
    detections is the same face. (IoU alone loses fast movers and then draws a second box for
    one face until the first times out.) Joins that could be a different person — a big jump or
    resize, a long gap — are doubtful."""
    scored = sorted((tr.joins(b, t), i, j) for i, tr in enumerate(tracks) for j, b in enumerate(boxes))
    pairs, used_t, used_b = [], set(), set()
    for distance, i, j in scored:
        if distance > settings.max_jump:
            break
        if i in used_t or j in used_b:
            continue
        tr = tracks[i]
        doubtful = (distance > settings.max_jump / 2 or t - tr.seen_at > settings.track_ttl_s / 2
                    or not 0.75 <= width(boxes[j]) / max(1, width(tr.box)) <= 1.33)
        pairs.append(Pair(tr.id, j, doubtful))
        used_t.add(i)
        used_b.add(j)
    return pairs
