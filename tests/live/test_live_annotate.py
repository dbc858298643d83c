"""edgeface.live.annotate: boxes and labels drawn on frames."""

from __future__ import annotations

import numpy as np

from edgeface.live.annotate import COLOURS, FaceLabel, draw_faces
from edgeface.live.tracking import TrackState
from edgeface.matcher import UNKNOWN


def test_labels_are_drawn_in_colours_by_state_with_any_name():
    frame = np.zeros((120, 200, 3), np.uint8)
    faces = [FaceLabel(1, (10, 60, 60, 10), TrackState.NAMED, "José Ñúñez", 0.4),
             FaceLabel(2, (10, 150, 60, 100), TrackState.UNKNOWN, UNKNOWN, 0.8),
             FaceLabel(3, (90, 199, 119, 150), TrackState.PENDING, None, None)]          # at the frame's corner
    out = draw_faces(frame.copy(), faces)
    assert tuple(out[10, 30]) == COLOURS[TrackState.NAMED] and tuple(out[10, 120]) == COLOURS[TrackState.UNKNOWN]
    assert tuple(out[90, 170]) == COLOURS[TrackState.PENDING]
    assert (out[61:80, 10:60] == 255).any(), "no label text under the box"
