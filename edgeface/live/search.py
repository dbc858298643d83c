"""Analysis as a pure function: ``search(engine, frame, plan)`` → the faces in the frame.

It detects where the plan says (around the tracks, where the scene moved, or the whole frame),
says which track each face is, verifies named faces by their look, encodes the faces whose
identity is new, doubtful, stale or from an older model, and matches them — alone, and with their
track's recent encodings. It reads the plan and the frame and writes neither: the camera's
``CameraTracker`` applies what it returns. Runs on the analysis pool (``edgeface.live.analyzer``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

import cv2
import numpy as np

from edgeface.engine import Engine
from edgeface.geometry import Box, aligned, grown, same_place, width
from edgeface.images import bgr_to_rgb
from edgeface.live.frames import frame_bgr
from edgeface.live.identify import FaceCrop, Picture, choose_frame, crop_face
from edgeface.live.looks import appearance, look_alike
from edgeface.live.metrics import StageTimes
from edgeface.live.plan import FaceSeen, Observation, SearchKind, SearchPlan, TrackView
from edgeface.live.regions import FAR_FACE_PX, HOG_WINDOW_PX, factor_for, magnified, turned
from edgeface.live.tracking import TrackState, associate, probe_of

#: Around a track, the detector looks at its predicted box grown by this many face widths on every
#: side, with the region's corner on the geometry's alignment grid (HOG's cells then fall as in a
#: whole-frame search). On the sample clip it finds 56 of the 57 faces the whole-frame search
#: finds, for 20 ms instead of 54; magnified crops found fewer (interpolation blurs the gradients).
REGION_GROW = 1.5
#: A large face's region is scaled down until the face is this wide where the detector scans it.
REGION_FACE_PX = 100
#: ... and a small one magnified when the detector would see it at under this share of its window.
MAGNIFY_BELOW = 0.85


def search(engine: Engine, frame, plan: SearchPlan, stages: StageTimes,
           main: Callable[[], tuple[Picture, ...]] | None = None,
           drift: float | None = None) -> Observation | None:
    """The faces in ``frame`` as ``plan`` asks; None when the frame cannot be decoded.
    ``main``: gives the camera's identify-stream frames around the frame's time, asked only when
    a face is due an encoding (it may wait for frames still arriving); None: no identify stream.
    Faces are encoded from those frames where they pass ``edgeface.live.identify``'s checks,
    unless the streams ``drift`` (seconds, judged by the camera over recent frames)."""
    bgr = frame_bgr(frame, stages)
    if bgr is None:
        return None
    rgb = bgr_to_rgb(bgr)
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)     # ~0.1 ms: looks compare faces without encoding
    boxes, swept, turned_s = _find_faces(engine, rgb, gray, plan)
    with stages.timed("track"):
        faces = identify(plan, boxes, gray)
    due = [i for i, (_, due) in enumerate(faces) if due]
    seen = [face for face, _ in faces]
    note, offset = None, None
    if due:
        crops: list[FaceCrop | None] = [None] * len(due)
        if main is not None:
            with stages.timed("identify_frames"):     # decoded now where the stream is packets
                choice = choose_frame(main(), plan.time, bgr, plan.settings.identify_max_skew_s)
            chosen, note, offset = choice.frame, choice.why, choice.offset_s
            if drift is not None:
                chosen, note = None, (f"the identify stream drifts: recent frames match {drift * 1000:+.0f} ms "
                                      "from the detect stream's")
            if chosen is not None:
                with stages.timed("identify"):
                    crops = [crop_face(engine, chosen, gray, seen[i].box, plan.settings.engine_factor)
                             for i in due]
                if not any(crops):
                    note = "faces not found at the same place in the identify frame"
        encodings = _encode(engine, rgb, [seen[i].box for i in due], crops)
        with stages.timed("match"):
            matched = _match(plan, [seen[i] for i in due], encodings, gray)
        for i, face, crop in zip(due, matched, crops):
            seen[i] = face if crop is None else replace(face, shot=crop.bgr, shot_box=crop.box)
    return Observation(plan.time, plan.model, tuple(seen), whole_frame=plan.kind == SearchKind.WHOLE, swept=swept,
                       identify_note=note, identify_offset_s=offset, turned_s=turned_s)


def _encode(engine: Engine, rgb: np.ndarray, boxes: list[Box], crops: list[FaceCrop | None]) -> np.ndarray:
    """Each face's encoding: from its identify crop where there is one, else from the frame."""
    plain = [i for i, crop in enumerate(crops) if crop is None]
    out = dict(zip(plain, engine.encode(rgb, [boxes[i] for i in plain]))) if plain else {}
    for i, crop in enumerate(crops):
        if crop is not None:
            out[i] = engine.encode(crop.rgb, [crop.box])[0]
    return np.stack([out[i] for i in range(len(boxes))])


def identify(plan: SearchPlan, boxes: list[Box], gray: np.ndarray) -> list[tuple[FaceSeen, bool]]:
    """Each box as the track it is, and whether it needs an encoding: a new face, or a track whose
    identity is unknown, doubtful, stale or from an older model. A named face between re-encodings
    is verified by its look — the picture at its last encoding, scoring ``same_look`` — or due when
    another look stands there. A face narrower than ``min_face_px`` is too small to name: never."""
    s, t = plan.settings, plan.time
    views = {view.id: view for view in plan.tracks}
    paired = {pair.box: pair for pair in associate(plan.tracks, boxes, t, s)}
    faces = []
    for j, box in enumerate(boxes):
        pair = paired.get(j)
        view = None if pair is None else views[pair.track]
        face = FaceSeen(box, None if pair is None else pair.track, doubtful=pair is not None and pair.doubtful)
        if width(box) < plan.min_face_px:
            faces.append((replace(face, small=True), False))
        elif view is None or view.state == TrackState.PENDING or face.doubtful or view.doubtful \
                or view.generation != plan.model.generation:
            faces.append((face, True))
        elif view.state == TrackState.UNKNOWN:
            faces.append((face, t - view.encoded_at >= s.unknown_recheck_s or t - view.born_at < s.settle_s))
        elif t - view.encoded_at < s.named_recheck_s and view.look is not None \
                and look_alike(view.look, gray, box)[0] >= s.same_look:
            faces.append((replace(face, verified_by_look=True), False))
        else:
            faces.append((face, True))
    return faces


def _match(plan: SearchPlan, faces: list[FaceSeen], encodings: np.ndarray, gray: np.ndarray) -> list[FaceSeen]:
    """Match each encoding alone (it decides whether the face is still its track's: the identity
    guard) and by the mean with its track's recent encodings (what names a kept track)."""
    views = {view.id: view for view in plan.tracks}
    matcher, margin = plan.model.matcher, plan.settings.match_margin
    alone = matcher.match(encodings, margin=margin)
    probes = np.stack([vector if face.track is None else probe_of([*views[face.track].encodings, vector])
                       for face, vector in zip(faces, encodings)])
    with_track = matcher.match(probes, margin=margin)
    faces = [replace(face, encoding=vector, alone=a, with_track=w, look=appearance(gray, face.box))
             for face, vector, a, w in zip(faces, encodings, alone, with_track)]
    candidate = plan.model.candidate
    if candidate is None:
        return faces
    # Shadow evaluation: the same probes by the candidate version, a fraction of a millisecond.
    return [replace(face, shadow_alone=a, shadow_with_track=w)
            for face, a, w in zip(faces, candidate.match(encodings, margin=margin),
                                  candidate.match(probes, margin=margin))]


def _find_faces(engine: Engine, rgb: np.ndarray, gray: np.ndarray,
                plan: SearchPlan) -> tuple[list[Box], bool, float]:
    """Faces in the frame, whether the whole frame was searched at full resolution, and the
    seconds the CNN took. Between whole-frame searches, only where the tracks are
    (``_around_tracks``) and where the scene moved away from them (``edgeface.live.motion``). A
    whole-frame search, then where a tracked face was missed, its look. Then, where the scene
    moved most and HOG found no face, the CNN if the plan allows (``plan.turned``)."""
    if plan.kind == SearchKind.NONE:
        return [], False, 0.0
    s = plan.settings
    if plan.kind == SearchKind.AROUND:
        boxes = _around_tracks(engine, rgb, gray, plan)
        for region in plan.motion:
            boxes += [b for b in magnified(engine, rgb, aligned(region), plan.motion_factor)
                      if not any(same_place(b, o) for o in boxes)]
        swept = False
    else:
        boxes, swept = _whole_frame(engine, rgb, plan)
        boxes += [box for tr in plan.tracks if not any(tr.joins(b, plan.time) <= s.max_jump for b in boxes)
                  for box in [_by_look(gray, tr, s.same_look)] if box is not None]
    turned_s = 0.0
    if plan.turned is not None and not any(_centred_in(b, plan.turned) for b in boxes):
        # Turned three-quarters: HOG's frontal templates miss them where the CNN finds them.
        started = time.perf_counter()          # wall, hand-over included: a busy machine spends less
        boxes += [b for b in turned(engine, rgb, plan.turned) if not any(same_place(b, o) for o in boxes)]
        turned_s = time.perf_counter() - started
    return boxes, swept, turned_s


def _centred_in(box: Box, region: Box) -> bool:
    return region[0] <= (box[0] + box[2]) / 2 <= region[2] and region[3] <= (box[1] + box[3]) / 2 <= region[1]


def _whole_frame(engine: Engine, rgb: np.ndarray, plan: SearchPlan) -> tuple[list[Box], bool]:
    """The scaled copy first (cheap), then full resolution where it may have missed small ones —
    the whole frame when it found nothing and the plan says a sweep is due, and a crop around
    every live track it did not find again (a small face the full-resolution look found is kept
    track of)."""
    boxes = engine.detect(rgb)
    factor = 1 / plan.settings.detect_scale        # the engine scales by detect_scale: net full resolution
    if factor <= 1:
        return boxes, False
    if not boxes and plan.sweep_due:
        return magnified(engine, rgb, (0, rgb.shape[1], rgb.shape[0], 0), factor), True
    max_jump, t = plan.settings.max_jump, plan.time
    for tr in plan.tracks:
        if not any(tr.joins(b, t) <= max_jump for b in boxes):
            boxes += [b for b in magnified(engine, rgb, grown(tr.predicted, 1.0, rgb.shape), factor)
                      if tr.joins(b, t) <= max_jump]
    return boxes, False


def _around_tracks(engine: Engine, rgb: np.ndarray, gray: np.ndarray, plan: SearchPlan) -> list[Box]:
    """Each track's face: followed by its look where it still looks as at its last encoding
    (~0.1 ms), else looked for by the detector in a region around where it is predicted, at
    the scale it likes best (``REGION_*``, ~20 ms); a face two regions found counts once."""
    s, t = plan.settings, plan.time
    boxes: list[Box] = []
    for tr in plan.tracks:
        followed = _by_look(gray, tr, s.same_look)
        if followed is not None:
            boxes.append(followed)
            continue
        factor = _track_factor(width(tr.predicted), s.engine_factor)
        boxes += [b for b in magnified(engine, rgb, aligned(grown(tr.predicted, REGION_GROW, rgb.shape)), factor)
                  if tr.joins(b, t) <= s.max_jump and not any(same_place(b, o) for o in boxes)]
    return boxes


def _track_factor(face_px: int, engine_factor: float) -> float:
    """A tracked face's region scale: large faces scaled down to ``REGION_FACE_PX``; a face the
    engine would see at under ``MAGNIFY_BELOW`` of its window, magnified to fill it (down to the
    far face's, ``FAR_FACE_PX``). Not sooner: magnifying blurs the gradients, and on the sample
    clip magnifying its 48-53 px faces (seen at 72-80 px, found all the same) lost one named box
    in fifteen."""
    if face_px * engine_factor >= HOG_WINDOW_PX * MAGNIFY_BELOW:
        return min(1.0, REGION_FACE_PX / max(1, face_px) / engine_factor)
    return factor_for(max(FAR_FACE_PX, face_px), engine_factor)


def _by_look(gray: np.ndarray, tr: TrackView, same_look: float) -> Box | None:
    """Where ``tr``'s face is in ``gray`` if it still looks as it did at its last encoding
    (searched a little around where it is predicted; see ``look_alike``); None when it does not,
    or when it has no look to follow (never encoded, or its name was withdrawn since)."""
    if tr.look is None:
        return None
    score, box = look_alike(tr.look, gray, tr.predicted)
    return box if score >= same_look else None
