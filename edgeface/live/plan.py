"""The values that cross between a camera's thread and the analysis pool, both frozen.

A camera's ``CameraTracker`` makes a :class:`SearchPlan` (where to look, and a view of each live
track); ``edgeface.live.search.search`` turns the plan and a frame into an :class:`Observation`
(the faces found, which track each is, their encodings and matches); the tracker applies it to
its tracks. Nothing here is ever changed after it is made, so it needs no lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np

from edgeface.geometry import Box, jump
from edgeface.live.modelwatch import LoadedModel
from edgeface.live.tracking import TrackState
from edgeface.matcher import Match
from edgeface.settings import LiveSettings


class SearchKind(str, Enum):
    NONE = "none"          # nobody here lately and none due: the next look will find a newcomer
    AROUND = "around"      # faces tracked: around each (and where the scene moved), between whole-frame searches
    WHOLE = "whole"        # the whole frame (periodically, and at a scene's start)


@dataclass(frozen=True)
class TrackView:
    """A live track as the search sees it, at the plan's frame time."""
    id: int
    box: Box                                  # as last detected
    seen_at: float
    predicted: Box                            # where it is predicted at the plan's frame time
    state: TrackState
    doubtful: bool
    generation: int                           # model generation its name came from
    encoded_at: float
    born_at: float
    look: np.ndarray | None                   # at its last encoding, None: none to follow or compare
    encodings: tuple[np.ndarray, ...]         # its recent encodings (the identity guard's and the probe's)

    def joins(self, box: Box, t: float) -> float:
        """As ``Track.joins`` at the plan's frame time."""
        return min(jump(self.predicted, box), jump(self.box, box))


@dataclass(frozen=True)
class SearchPlan:
    camera_id: str
    time: float                               # frame time of the frame to search
    model: LoadedModel
    settings: LiveSettings
    kind: SearchKind
    tracks: tuple[TrackView, ...]             # live at ``time``
    new_scene: bool = False                   # the first frame of a scene (or the camera's first)
    sweep_due: bool = False                   # whole: full resolution if the scaled copy finds nobody
    motion: tuple[Box, ...] = ()              # around: where the scene moved away from the tracks
    motion_factor: float = 1.0                # ... searched magnified this much (far faces)
    turned: Box | None = None                 # where the scene moved most: the CNN looks if HOG finds no face there
    min_face_px: int = 0                      # narrower faces are drawn, never named
    lead_s: float = 0.0                       # new tracks may be drawn this long before (delayed output)


@dataclass(frozen=True)
class FaceSeen:
    """One face the search found, and what it found out about it."""
    box: Box
    track: int | None                         # the track it is (a plan track's id); None: a new face
    doubtful: bool = False                    # a join that may have joined two different faces
    small: bool = False                       # narrower than min_face_px: never named
    verified_by_look: bool = False            # a named face that still looks as at its last encoding
    encoding: np.ndarray | None = None
    look: np.ndarray | None = None            # its look at this encoding
    alone: Match | None = None                # the encoding matched alone
    with_track: Match | None = None           # the track's recent encodings and this one, matched by their mean
    shadow_alone: Match | None = None         # the same two, by the candidate version (shadow evaluation)
    shadow_with_track: Match | None = None
    shot: np.ndarray | None = None            # encoded from the identify stream: the region there (BGR)
    shot_box: Box | None = None               # ... and the face in it


@dataclass(frozen=True)
class Observation:
    time: float                               # the plan's frame time
    model: LoadedModel
    faces: tuple[FaceSeen, ...] = ()
    whole_frame: bool = False                 # the whole frame was searched (restarts the timer)
    swept: bool = False                       # ... at full resolution too
    identify_note: str | None = None          # why faces were encoded from the detect stream, not the identify one
    identify_offset_s: float | None = None    # where the identify frame matching best arrived (see identify.Choice)
    turned_s: float = 0.0                     # seconds the CNN took looking for turned faces (the camera's share)

    @property
    def encodings(self) -> int:
        return sum(face.encoding is not None for face in self.faces)
