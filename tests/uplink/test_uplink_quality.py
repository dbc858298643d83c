"""The capture quality gate on real faces: dlib's detector and 5-point landmarks on the sample media."""

from __future__ import annotations

import cv2
import dlib
import face_recognition_models
import numpy as np
import pytest

from edgeface.images import sharpness
from edgeface.uplink.quality import QualityGate, yaw_ratio


@pytest.fixture(scope="module")
def face(media_dir):
    """(frame, box [top, right, bottom, left], 5 landmarks) of Obama's portrait."""
    bgr = cv2.imread(str(media_dir / "faces" / "Barack Obama" / "obama.jpg"))
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    rects = dlib.get_frontal_face_detector()(rgb, 1)
    assert len(rects) == 1
    rect = rects[0]
    predictor = dlib.shape_predictor(face_recognition_models.pose_predictor_five_point_model_location())
    shape = predictor(rgb, rect)
    points = [(shape.part(i).x, shape.part(i).y) for i in range(5)]
    return bgr, [rect.top(), rect.right(), rect.bottom(), rect.left()], points


def crop(bgr, box):
    top, right, bottom, left = box
    return bgr[max(0, top):bottom, max(0, left):right]


def test_a_sharp_frontal_portrait_passes(face):
    bgr, box, points = face
    quality = QualityGate().assess(crop(bgr, box), box, points)
    assert quality.ok, quality.reasons
    assert yaw_ratio(points) < 0.1 and quality.size >= 100


def test_blur_small_faces_and_turned_heads_are_refused(face):
    bgr, box, points = face
    gate = QualityGate()
    blurred = cv2.GaussianBlur(crop(bgr, box), (0, 0), 4)
    assert sharpness(blurred) < gate.min_sharpness <= sharpness(crop(bgr, box))
    assert gate.assess(blurred, box, points).reasons == [f"sharpness {sharpness(blurred):.0f} < 10"]

    small = cv2.resize(bgr, None, fx=0.2, fy=0.2, interpolation=cv2.INTER_AREA)     # ~270 px -> ~53 px
    small_box = [int(v * 0.2) for v in box]
    assert any(r.startswith("face ") for r in gate.assess(crop(small, small_box), small_box).reasons)

    # The same face with its nose moved along the eye line, as a head turned ~30° would show it.
    p = np.asarray(points, dtype=float)
    axis = p[2:4].mean(axis=0) - p[0:2].mean(axis=0)
    turned = [*points[:4], tuple(p[4] + 0.3 * axis)]
    assert yaw_ratio(turned) == pytest.approx(0.3, abs=0.1)
    assert gate.assess(crop(bgr, box), box, turned).reasons == ["not frontal"]
    # Without landmarks a box twice as wide as tall is not frontal either.
    top, _, bottom, left = box
    wide = [top, left + 2 * (bottom - top), bottom, left]
    assert "not frontal" in gate.assess(crop(bgr, box), wide).reasons


def test_only_unknown_and_doubtful_results_are_candidates():
    gate = QualityGate(doubtful_margin=0.06)
    assert gate.candidate("Unknown", 0.72, 0.6) == "unknown"
    assert gate.candidate("Jane Doe", 0.57, 0.6) == "doubtful"
    assert gate.candidate("Jane Doe", 0.40, 0.6) is None
