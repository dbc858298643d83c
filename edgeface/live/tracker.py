"""One camera's tracks, with one owner: the camera's thread.

``CameraTracker.plan`` turns the tracks into a frozen ``SearchPlan`` (where to look, and a view of
each live track); the analysis pool runs ``edgeface.live.search.search`` on it; ``apply`` takes
the ``Observation`` back in: association, the identity guard, names, the camera's zone and
minimum face size, and the events and sightings that follow. Nothing else writes a track.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np

from edgeface.events import RecognitionEvent, Sighting
from edgeface.geometry import Box, area, inside, width
from edgeface.history.cameras import CameraOptions
from edgeface.images import encode_jpeg
from edgeface.live.annotate import FaceLabel
from edgeface.live.frames import face_crop, frame_bgr, snapshot_jpeg
from edgeface.live.metrics import StageTimes
from edgeface.live.modelwatch import LoadedModel
from edgeface.live.motion import Motion
from edgeface.live.plan import Observation, SearchKind, SearchPlan, TrackView
from edgeface.live.tracking import Pair, Track, TrackSet, TrackState
from edgeface.matcher import UNKNOWN
from edgeface.settings import LiveSettings

#: With no face in the scaled copy, the whole frame is searched at full resolution at most this
#: often (a search costs ~1.8 scaled ones): small faces arriving in a scene are found this late.
#: With motion search on, every ``still_recheck_s``: where it moved, small faces are looked for
#: in magnified regions already.
SWEEP_S = 1.0
#: The CNN's share (``turned_face_share``) saved up while nothing needs it, in seconds: enough for
#: two regions as soon as someone turned walks in.
TURNED_BURST_S = 0.5


class CameraTracker:
    def __init__(self, camera_id: str, settings: LiveSettings, stages: StageTimes | None = None):
        self.camera_id = camera_id
        self.settings = settings
        self.stages = stages or StageTimes()
        self.options = CameraOptions()     # the operator's settings; the service swaps in new ones
        self.tracks = TrackSet(settings)
        self.on_shadow: Callable[[str, str, str, str], object] | None = None   # (camera, serving, candidate, result)
        self.searched_at = -math.inf       # frame time of the last whole-frame search
        self.swept_at = -math.inf          # ... of the last full-resolution one
        # Motion search's budget (``_budget``): detector pixels, and the frame size it is counted in.
        self.budget, self.budget_at, self.frame_px = 0.0, -math.inf, 0
        # The CNN's (``_turned_budget``): seconds, spent by ``apply``.
        self.turned_budget, self.turned_at = TURNED_BURST_S, -math.inf

    # -- the camera's thread asks ---------------------------------------------------------------
    def plan(self, t: float, model: LoadedModel, *, new_scene: bool, motion: Motion | None = None,
             lead_s: float = 0.0, spare: bool = True) -> SearchPlan:
        """The search of the frame of time ``t``: the whole frame at a scene's start; else, with
        motion search on (``edgeface.live.motion``), around the tracks and where the scene moved
        away from them (``motion``) while the camera's budget allows (``_budget``), the whole frame
        every ``still_recheck_s`` for what stayed still and, on the old schedule, when the motion
        is too wide or too costly for regions; with it off, around the tracks between whole-frame
        searches every ``full_search_interval_s`` (at most every ``empty_search_interval_s`` with
        none tracked). New tracks it finds may be drawn ``lead_s`` before ``t`` (see ``Track``).
        The CNN may look for turned faces (``_turned``) only with ``spare`` analysis capacity."""
        s = self.settings
        live = [tr for tr in self.tracks.tracks if tr.ended_at > t]
        since = t - self.searched_at
        regions: tuple[Box, ...] = ()
        factor = 1.0
        if s.motion_search_max_share > 0:
            budget = self._budget(t, self.frame_px if motion is None else motion.frame_px)
            cost = math.inf if motion is None or motion.wide else motion.cost(s.engine_factor)
            kind = _with_motion(s, since, new_scene, bool(live), motion, budget >= cost)
            if kind == SearchKind.WHOLE:
                self.budget -= self.frame_px
            elif kind == SearchKind.AROUND and motion is not None and budget >= cost:   # regions too
                regions, factor = motion.regions, motion.factor(s.engine_factor)
                self.budget -= cost
        elif new_scene or since >= (s.full_search_interval_s if live else s.empty_search_interval_s):
            kind = SearchKind.WHOLE
        else:                              # nobody here half a second ago: a newcomer is found at the next look
            kind = SearchKind.AROUND if live else SearchKind.NONE
        return SearchPlan(
            self.camera_id, t, model, s, kind, tuple(view(tr, t) for tr in live), new_scene=new_scene,
            sweep_due=new_scene or t - self.swept_at >= (s.still_recheck_s if s.motion_search_max_share else SWEEP_S),
            motion=regions, motion_factor=factor, turned=self._turned(t, kind, motion) if spare else None,
            min_face_px=self.options.min_face_px or s.min_face_px, lead_s=lead_s)

    def _budget(self, t: float, frame_px: int) -> float:
        """The detector pixels this camera may spend on a region search now: refilled at one
        whole-frame search per ``full_search_interval_s`` (what the whole-frame searches cost
        with motion search off), holding at most one; whole-frame searches draw on it too."""
        if frame_px != self.frame_px:
            self.frame_px, self.budget = frame_px, float(frame_px)
        elif self.budget_at > -math.inf:
            rate = frame_px / max(self.settings.full_search_interval_s, 1e-3)
            self.budget = min(float(frame_px), self.budget + (t - self.budget_at) * rate)
        self.budget_at = t
        return self.budget

    def _turned(self, t: float, kind: SearchKind, motion: Motion | None) -> Box | None:
        """Where the CNN may look for turned faces in this search: the largest place the scene
        moved (searched by HOG as a region or with the whole frame), while the camera's share
        lasts. The share is seconds, refilled at ``turned_face_share`` of a second per second and
        holding at most ``TURNED_BURST_S``; a region may overspend it, and the camera then waits
        until it is paid back (``apply``)."""
        if self.settings.turned_face_share <= 0 or motion is None or kind == SearchKind.NONE or not motion.regions:
            return None
        if self.turned_at > -math.inf:
            refill = (t - self.turned_at) * self.settings.turned_face_share
            self.turned_budget = min(TURNED_BURST_S, self.turned_budget + max(0.0, refill))
        self.turned_at = t
        return max(motion.regions, key=area) if self.turned_budget > 0 else None

    def apply(self, plan: SearchPlan, seen: Observation, frame) -> tuple[list[RecognitionEvent], list[Sighting]]:
        """Take in what the search of ``plan`` saw in ``frame``; the events (named, renamed,
        Unknown) and sightings (reported faces seen again) it makes."""
        t = seen.time
        if seen.whole_frame:
            self.searched_at = t
        if seen.swept:
            self.swept_at = t
        self.turned_budget -= seen.turned_s
        faces = seen.faces
        found = self.tracks.join([f.box for f in faces],
                                 [Pair(f.track, j, f.doubtful) for j, f in enumerate(faces) if f.track is not None],
                                 t, plan.lead_s)
        named: list[tuple[Track, float]] = []
        for face, tr in zip(faces, found):
            if face.small:
                self.tracks.withdraw(tr)
            elif face.verified_by_look:
                tr.verified_at = t
            elif face.encoding is not None and face.alone is not None and face.with_track is not None:
                kept = self.tracks.verify(tr, face.encoding, t, face.alone.name)
                match = face.with_track if kept is tr else face.alone   # a new face's mean is its encoding
                shadow = face.shadow_with_track if kept is tr else face.shadow_alone
                if shadow is not None and self.on_shadow is not None:
                    self.on_shadow(self.camera_id, seen.model.version, seen.model.candidate_version or "",
                                   shadow_result(match.name, shadow.name))
                kept.remember(face.encoding)
                kept.look = face.look
                if face.shot is not None and face.shot_box is not None:
                    kept.shot, kept.shot_box, kept.shot_at = face.shot, face.shot_box, t
                if self.tracks.apply(kept, match, t, seen.model.generation):
                    named.append((kept, match.distance))
        dropped = self._enforce_options(frame)
        events = [self._event(tr, distance, seen.model, frame) for tr, distance in named if tr.id not in dropped]
        return events, self._sightings(t, frame)

    def hold(self, t: float, frame) -> list[Sighting]:
        """Nothing moved in the frame of time ``t``: every face is where it was, still verified."""
        self.tracks.hold(t)
        return self._sightings(t, frame)

    def cut(self, t: float) -> None:
        self.tracks.cut(t)

    def expire(self, t: float) -> None:
        self.tracks.expire(t)

    def labels(self, t: float) -> list[FaceLabel]:
        """The faces to draw on the frame of time ``t``."""
        stale_s = self.tracks.stale_s()
        return [FaceLabel(tr.id, tr.predicted_box(t), *tr.identity_at(t, stale_s)) for tr in self.tracks.visible(t)]

    def occupied(self, t: float) -> list[Box]:
        """Where the live faces are predicted at ``t``, and where each was last seen: what moved
        between them is theirs."""
        live = [tr for tr in self.tracks.tracks if tr.ended_at > t]
        return [tr.predicted_box(t) for tr in live] + [tr.box for tr in live]

    def people_now(self) -> list[str]:
        return sorted({tr.name for tr in self.tracks.tracks if tr.state == TrackState.NAMED and tr.name})

    # -- inside ---------------------------------------------------------------------------------
    def _enforce_options(self, frame) -> set[int]:
        """The camera's zone and minimum face size: tracks centred outside the zone are dropped,
        smaller faces lose their name (drawn unnamed, never named). The ids of both."""
        options = self.options
        if options.zone is None and options.min_face_px <= 0:
            return set()
        shape = getattr(getattr(frame, "bgr", None), "shape", None)
        dropped, kept = set(), []
        for tr in self.tracks.tracks:
            top, right, bottom, left = tr.box
            if options.zone is not None and shape is not None and not inside(
                    options.zone, (left + right) / 2 / shape[1], (top + bottom) / 2 / shape[0]):
                dropped.add(tr.id)
                continue
            if width(tr.box) < options.min_face_px:
                tr.state, tr.name, tr.distance, tr.reported = TrackState.PENDING, None, None, None
                dropped.add(tr.id)
            kept.append(tr)
        self.tracks.tracks = kept
        return dropped

    def _event(self, tr: Track, distance: float, model: LoadedModel, frame) -> RecognitionEvent:
        """The event of ``tr`` just named (or found Unknown), with its snapshot, the frame it was
        found in and its embedding (the mean the match used): the visit's context."""
        s = self.settings
        region, box = (tr.shot, tr.shot_box) if tr.shot_at == tr.seen_at else (None, None)
        if region is not None and box is not None:     # from the identify stream, this moment
            snapshot: bytes | None = encode_jpeg(face_crop(region, box, s.snapshot_margin), s.jpeg_quality)
        else:
            region = box = None
            bgr = frame_bgr(frame, self.stages)
            snapshot = None if bgr is None else snapshot_jpeg(bgr, tr.box, s.snapshot_margin, s.jpeg_quality)
        return RecognitionEvent(
            camera=self.camera_id, name=tr.name or "", distance=distance, box=list(tr.box), time=time.time(),
            track=tr.id, model_version=model.version, frame=frame, snapshot=snapshot, hide=self.hidden_boxes(),
            shot=region, shot_box=list(box) if box else None,
            embedding=np.mean(tr.encodings, axis=0).astype(np.float32) if len(tr.encodings) else None)

    def _sightings(self, t: float, frame) -> list[Sighting]:
        """The reported tracks that the detection pass of frame time ``t`` saw."""
        now = time.time()
        seen = [tr for tr in self.tracks.tracks if tr.reported is not None and tr.seen_at == t]
        hide = self.hidden_boxes() if seen else []
        margin = self.settings.snapshot_margin
        return [Sighting(self.camera_id, tr.id, tr.reported, tr.distance, tr.box, now, frame, hide,
                         shot=face_crop(tr.shot, tr.shot_box, margin)
                         if tr.shot is not None and tr.shot_box is not None and tr.shot_at == t else None)
                for tr in seen if tr.reported is not None]

    def hidden_boxes(self) -> list[Box]:
        """Where the faces the camera's privacy hides are in the frame last analysed (``docs/privacy.md``)."""
        return [tr.box for tr in self.tracks.tracks
                if self.options.hides(tr.name if tr.state == TrackState.NAMED else None)]


def _with_motion(s: LiveSettings, since: float, new_scene: bool, live: bool, motion: Motion | None,
                 affordable: bool) -> SearchKind:
    """The search kind with motion search on: a newcomer comes with motion, so the whole frame
    is searched at a scene's start and every ``still_recheck_s`` for what stayed still; motion
    too wide for regions, or more than the budget ``affordable`` allows, gets the whole frame on
    the old schedule (a panning camera costs what it did) and no region in between."""
    if new_scene or since >= s.still_recheck_s:
        return SearchKind.WHOLE
    if motion is not None and (motion.wide or not affordable):
        if since >= (s.full_search_interval_s if live else s.empty_search_interval_s):
            return SearchKind.WHOLE
        return SearchKind.AROUND if live else SearchKind.NONE
    return SearchKind.AROUND if live or motion is not None else SearchKind.NONE


def view(tr: Track, t: float) -> TrackView:
    """``tr`` frozen for the search of frame time ``t``. Its look only while its name stands: a
    track whose name was withdrawn must be found and encoded again."""
    return TrackView(tr.id, tr.box, tr.seen_at, tr.predicted_box(t), tr.state, tr.doubtful, tr.generation,
                     tr.encoded_at, tr.born_at, tr.look if tr.named_until == math.inf else None,
                     tuple(tr.encodings))


def shadow_result(serving: str, candidate: str) -> str:
    """One face's two decisions as ``edgeface.uplink.stats.SHADOW_RESULTS`` counts them."""
    if serving == candidate:
        return "same"
    if serving == UNKNOWN:
        return "newly_named"
    return "newly_unknown" if candidate == UNKNOWN else "changed_name"
