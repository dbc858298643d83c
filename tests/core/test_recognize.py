"""Every shared probe is named as its label says, through the CLI a user runs."""

import json
from collections import Counter

from helpers import run_cli

from edgeface.engine import FaceEngine
from edgeface.images import bgr_to_rgb, load_image
from edgeface.modelfile import FaceModel


def test_every_probe_is_named_as_labelled(media_dir, sample_model):
    labels = json.loads((media_dir / "probes" / "labels.json").read_text())
    images = [str(media_dir / "probes" / name) for name in labels if not name.startswith("_")]
    proc = run_cli("recognize", "--model", str(sample_model), "--json", *images)
    results = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["image"] for r in results] == images
    for r in results:
        expected = labels[r["image"].rsplit("/", 1)[-1]]
        assert Counter(f["name"] for f in r["faces"]) == Counter(expected), r
        for f in r["faces"]:
            top, right, bottom, left = f["box"]
            assert 0 <= top < bottom and 0 <= left < right and isinstance(f["distance"], float)


def test_unreadable_image_gets_error_line_and_exit_1(tmp_path, sample_model, media_dir):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"garbage")
    good = str(media_dir / "probes" / "obama_small.jpg")
    proc = run_cli("recognize", "--model", str(sample_model), "--json", str(bad), good, check=False)
    lines = [json.loads(x) for x in proc.stdout.splitlines()]
    assert proc.returncode == 1 and "not a readable image" in lines[0]["error"]
    assert lines[1]["faces"][0]["name"] == "Barack Obama"


def test_bgr_frames_and_scaled_detection_agree(media_dir, sample_model):
    """A BGR camera frame, converted in one place, encodes like the RGB file; scaled detection maps boxes back."""
    import cv2

    rgb = load_image(media_dir / "probes" / "obama-720p.jpg")
    bgr = cv2.imread(str(media_dir / "probes" / "obama-720p.jpg"))
    full, half = FaceEngine(upsample=0), FaceEngine(upsample=0, scale=0.5)
    box_full, box_half = full.detect(rgb)[0], half.detect(bgr_to_rgb(bgr))[0]
    assert max(abs(a - b) for a, b in zip(box_full, box_half)) < 0.2 * (box_full[2] - box_full[0])
    matcher = FaceModel.load(sample_model).matcher()
    assert matcher.match(full.encode(bgr_to_rgb(bgr), [box_half]))[0].name == "Barack Obama"


def test_out_of_range_options_are_refused_before_any_work(tmp_path):
    for option, value, message in (("--upsample", "-1", "not a whole number >= 0"),
                                   ("--tolerance", "nan", "not a distance from 0 to 2")):
        proc = run_cli("recognize", "--model", str(tmp_path / "none.data"), option, value, "x.jpg", check=False)
        assert proc.returncode == 2 and f"argument {option}: '{value}' is {message}" in proc.stderr
        assert "Traceback" not in proc.stderr
