"""Training from folders: usable images enrolled, bad ones skipped with reasons, results reproducible."""

import json
import shutil

import cv2
import numpy as np
import pytest
from helpers import run_cli
from PIL import Image

from edgeface import facebox, training
from edgeface.errors import TrainingError
from edgeface.live.frames import snapshot_jpeg
from edgeface.modelfile import FaceModel
from edgeface.training import train
from edgeface.uplink.captures import snapshot_box


@pytest.fixture
def messy_images(tmp_path, media_dir):
    """Real faces plus every kind of bad input, in both layouts."""
    root = tmp_path / "face-images"
    shutil.copytree(media_dir / "faces" / "Barack Obama", root / "Barack Obama")
    shutil.copytree(media_dir / "faces" / "Joe Biden", root / "Joe Biden")
    (root / "Barack Obama" / "notes.txt").write_text("not an image")
    (root / "Joe Biden" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    Image.new("RGB", (300, 300), (120, 160, 200)).save(root / "Joe Biden" / "sky.jpg")
    crowd = root / "Crowd Person"
    crowd.mkdir()
    shutil.copy(media_dir / "probes" / "two_people.jpg", crowd / "group.jpg")
    shutil.copy(media_dir / "faces" / "Kit Harington" / "john1.jpeg", root / "Kit Harington.jpeg")  # flat layout
    return root


def test_bad_images_are_skipped_and_reported(messy_images):
    model, report = train(messy_images, progress=False)
    assert model.names == ["Barack Obama", "Joe Biden", "Kit Harington"]
    assert report["not_enrolled"] == ["Crowd Person"]
    reasons = {r["file"].rsplit("/", 1)[-1]: r["reason"] for r in report["skipped"]}
    assert reasons["notes.txt"].startswith("not an image file")
    assert "corrupt or truncated" in reasons["broken.jpg"]
    assert reasons["sky.jpg"] == "no face found"
    assert reasons["group.jpg"].startswith("2 faces found")
    assert report["used"] == 5 and model.metadata["counts"]["identities"] == 3
    sources = {s["file"]: s["sha256"] for s in model.metadata["sources"]}
    assert len(sources) == 5 and all(len(h) == 64 for h in sources.values())


def test_same_inputs_give_same_model(messy_images):
    """Two workers (photos taken largest first) give the same model, in the same order, as one;
    the models are loaded once per process, not per call."""
    training._loaded_engine.cache_clear()
    a, _ = train(messy_images, progress=False, workers=2)
    b, _ = train(messy_images, progress=False, workers=1)
    assert a.content_digest() == b.content_digest()
    assert np.array_equal(a.embeddings, b.embeddings)
    assert [s["file"] for s in a.metadata["sources"]] == sorted(s["file"] for s in a.metadata["sources"])
    assert training._loaded_engine.cache_info().misses == 1


def test_nothing_usable_fails(tmp_path):
    (tmp_path / "Nobody").mkdir()
    Image.new("RGB", (200, 200)).save(tmp_path / "Nobody" / "black.png")
    with pytest.raises(TrainingError, match="none of 1 images"):
        train(tmp_path, progress=False)
    proc = run_cli("train", "--images", str(tmp_path), "--out", str(tmp_path / "m.data"), check=False)
    assert proc.returncode == 2 and "none of 1 images" in proc.stderr
    assert not (tmp_path / "m.data").exists()


def test_cli_train_writes_model_and_report(messy_images, tmp_path):
    """A person left with no usable image stops the training (no model that looks complete);
    --allow-missing writes the model without them, and the report lists them."""
    out = tmp_path / "out" / "model.data"
    out.parent.mkdir()      # train refuses to invent folders (a typo in --out is an error, issue 13)
    proc = run_cli("train", "--images", str(messy_images), "--out", str(out), "--no-progress", check=False)
    assert proc.returncode == 2 and "not enrolled: Crowd Person" in proc.stderr
    assert "error: not trained: Crowd Person (no usable image); no model written" in proc.stderr
    assert "Traceback" not in proc.stderr and not out.exists()
    proc = run_cli("train", "--images", str(messy_images), "--out", str(out), "--no-progress", "--allow-missing")
    assert "skipped" in proc.stderr and "group.jpg" in proc.stderr and "not enrolled: Crowd Person" in proc.stderr
    assert FaceModel.load(out).names == ["Barack Obama", "Joe Biden", "Kit Harington"]
    report = json.loads((tmp_path / "out" / "model.report.json").read_text())
    assert report["used"] == 5 and len(report["skipped"]) == 4 and report["missing"] == ["Crowd Person"]


def test_an_expected_person_without_images_stops_the_training(media_dir, tmp_path):
    images = tmp_path / "face-images"
    shutil.copytree(media_dir / "faces" / "Joe Biden", images / "Joe Biden")
    proc = run_cli("train", "--images", str(images), "--out", str(tmp_path / "m.data"), "--no-progress",
                   "--expect", "Joe Biden", "--expect", "Anthony Ramos", check=False)
    assert proc.returncode == 2 and f"not trained: Anthony Ramos (no images under {images})" in proc.stderr
    assert not (tmp_path / "m.data").exists()


def test_a_persons_folder_trained_by_mistake_is_warned_about(media_dir, tmp_path):
    """--images "face-images/Kit Harington": john1 and john2 would be two people."""
    folder = tmp_path / "Kit Harington"
    shutil.copytree(media_dir / "faces" / "Kit Harington", folder)
    shutil.copy(media_dir / "faces" / "Joe Biden" / "biden.jpg", folder / "biden.jpg")     # not a series
    proc = run_cli("train", "--images", str(folder), "--out", str(tmp_path / "m.data"), "--no-progress")
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "john1.jpeg, john2.jpeg look like photos of one person" in warnings[0]
    assert "'john1', 'john2'" in warnings[0] and "biden" not in warnings[0]
    report = json.loads((tmp_path / "m.report.json").read_text())
    assert report["warnings"] == [warnings[0].removeprefix("warning: ")]


def test_bad_source_date_epoch_fails_before_any_work(tmp_path, monkeypatch):
    (tmp_path / "Nobody").mkdir()
    Image.new("RGB", (200, 200)).save(tmp_path / "Nobody" / "black.png")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    proc = run_cli("train", "--images", str(tmp_path), "--out", str(tmp_path / "m.data"), check=False)
    assert proc.returncode == 2 and "SOURCE_DATE_EPOCH='yesterday' is not a Unix timestamp" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "m.data").exists()


def test_a_crop_without_a_detectable_face_trains_from_its_stored_box(media_dir, tmp_path):
    """The sample clip's stranger, cut as the live path cuts a visit's snapshot (123x126): training
    finds no face in it; stamped with the box the edge found it with, it is enrolled from that box.
    A stamp that does not fit the picture is not trusted."""
    clip = cv2.VideoCapture(str(media_dir / "video" / "short_hamilton_clip.mp4"))
    for _ in range(213):
        ok, frame = clip.read()
        assert ok
    clip.release()
    box = (65, 96, 135, 27)                             # where the live detector (0.75 scale) finds him
    snapshot = snapshot_jpeg(frame, box, 0.4, 80)
    folder = tmp_path / "images" / "Anthony Ramos"
    folder.mkdir(parents=True)
    (folder / "plain.jpg").write_bytes(snapshot)
    (folder / "stamped.jpg").write_bytes(facebox.stamp(snapshot, snapshot_box(box, 0.4, (126, 123)), capture="c1"))
    (folder / "foreign.jpg").write_bytes(facebox.stamp(snapshot, (0, 400, 300, 200)))
    model, report = train(tmp_path / "images", progress=False)
    assert model.names == ["Anthony Ramos"] and report["used"] == 1
    assert {s["file"].rsplit("/", 1)[1]: s["reason"] for s in report["skipped"]} == \
        {"plain.jpg": "no face found", "foreign.jpg": "no face found"}
    assert report["from_stored_box"] == [str(folder / "stamped.jpg")]
    assert model.metadata["sources"] == [{"file": "Anthony Ramos/stamped.jpg", "person": "Anthony Ramos",
                                          "sha256": model.metadata["sources"][0]["sha256"], "box": "stored"}]
