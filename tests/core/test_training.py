"""Training from folders: usable images enrolled, bad ones skipped with reasons, results reproducible."""

import json
import shutil

import numpy as np
import pytest
from helpers import run_cli
from PIL import Image

from edgeface import training
from edgeface.errors import TrainingError
from edgeface.modelfile import FaceModel
from edgeface.training import train


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
    out = tmp_path / "out" / "model.data"
    out.parent.mkdir()      # train refuses to invent folders (a typo in --out is an error, issue 13)
    proc = run_cli("train", "--images", str(messy_images), "--out", str(out), "--no-progress")
    assert "skipped" in proc.stderr and "group.jpg" in proc.stderr and "not enrolled: Crowd Person" in proc.stderr
    assert FaceModel.load(out).names == ["Barack Obama", "Joe Biden", "Kit Harington"]
    report = json.loads((tmp_path / "out" / "model.report.json").read_text())
    assert report["used"] == 5 and len(report["skipped"]) == 4


def test_bad_source_date_epoch_fails_before_any_work(tmp_path, monkeypatch):
    (tmp_path / "Nobody").mkdir()
    Image.new("RGB", (200, 200)).save(tmp_path / "Nobody" / "black.png")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    proc = run_cli("train", "--images", str(tmp_path), "--out", str(tmp_path / "m.data"), check=False)
    assert proc.returncode == 2 and "SOURCE_DATE_EPOCH='yesterday' is not a Unix timestamp" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "m.data").exists()
