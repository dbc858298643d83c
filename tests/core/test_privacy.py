"""The blur a camera's privacy setting applies: a blurred face is gone, for the detector and for
the face encoder, not merely softened; and which faces each setting hides."""

import cv2
import numpy as np
import pytest

from edgeface.engine import FaceEngine
from edgeface.images import load_image
from edgeface.matcher import DEFAULT_TOLERANCE, UNKNOWN
from edgeface.privacy import blur_boxes, blur_frame, hidden


def sharpness(bgr: np.ndarray) -> float:
    return float(cv2.Laplacian(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), cv2.CV_64F).var())


def overlaps(a, b) -> bool:
    return not (a[1] <= b[3] or b[1] <= a[3] or a[2] <= b[0] or b[2] <= a[0])


def probe_faces(media_dir, probe: str):
    """(engine, the probe's pixels, its faces' boxes, their encodings), before any blurring."""
    engine = FaceEngine(upsample=1)
    rgb = load_image(str(media_dir / "probes" / probe))
    boxes = engine.detect(rgb)
    assert boxes, f"no face found in {probe} before blurring"
    return engine, rgb, boxes, engine.encode(rgb, boxes)


@pytest.mark.parametrize("probe", ["obama1.jpg", "obama_and_biden.jpg", "kit_with_rose.jpg"])
def test_a_blurred_face_is_neither_found_nor_matched(media_dir, probe):
    engine, rgb, boxes, original = probe_faces(media_dir, probe)
    hide, shown = boxes[:1], boxes[1:]       # the first face hidden, any others kept
    blurred = blur_boxes(rgb, hide)
    assert blurred is not rgb and np.array_equal(rgb, load_image(str(media_dir / "probes" / probe)))   # a copy
    found = engine.detect(blurred)
    assert not [b for b in found if overlaps(b, hide[0])], "the detector still finds the blurred face"
    # Even told where it was, the encoder does not match it to the person any more.
    again = engine.encode(blurred, hide)[0]
    assert float(np.linalg.norm(again - original[0])) > DEFAULT_TOLERANCE
    top, right, bottom, left = hide[0]
    assert sharpness(blurred[top:bottom, left:right]) < 0.1 * sharpness(rgb[top:bottom, left:right])
    for box, encoding in zip(shown, original[1:]):      # the faces not hidden are as they were
        assert float(np.linalg.norm(engine.encode(blurred, [box])[0] - encoding)) < 0.05


@pytest.mark.parametrize("probe", ["obama1.jpg", "kit_with_rose.jpg"])
def test_a_frame_blurred_whole_shows_no_face(media_dir, probe):
    """What a clip keeps of a frame where no face was found yet on a camera that hides faces."""
    engine, rgb, boxes, original = probe_faces(media_dir, probe)
    blurred = blur_frame(rgb)
    assert blurred.shape == rgb.shape and engine.detect(blurred) == []
    for box, encoding in zip(boxes, original):
        assert float(np.linalg.norm(engine.encode(blurred, [box])[0] - encoding)) > DEFAULT_TOLERANCE


def test_boxes_at_the_edges_and_none():
    frame = np.random.default_rng(1).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    assert blur_boxes(frame, []) is frame
    out = blur_boxes(frame, [(-20, 50, 40, -10), (100, 170, 140, 130), (5, 5, 5, 5)])
    assert out.shape == frame.shape and not np.array_equal(out[:40, :50], frame[:40, :50])
    assert np.array_equal(out[60:90, 60:110], frame[60:90, 60:110])   # outside every box: untouched


def test_which_faces_each_setting_hides():
    watch = {"Jane Doe"}
    for name in ("Jane Doe", "John Roe", UNKNOWN, None):
        assert hidden("off", name, watch) is False
    assert [hidden("blur-unknown", n, watch) for n in ("Jane Doe", "John Roe", UNKNOWN, None)] == \
        [False, False, True, True]
    assert [hidden("blur-all-but-watchlist", n, watch) for n in ("Jane Doe", "John Roe", UNKNOWN, None)] == \
        [False, True, True, True]
    assert hidden("blur-all-but-watchlist", "Jane Doe", ()) is True    # an empty watchlist shows nobody
