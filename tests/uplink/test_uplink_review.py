"""``edgeface review`` on real captures: real faces encoded by the engine, shipped by the outbox
to a real S3 (moto_server), pulled, clustered with Chinese whispers, named."""

from __future__ import annotations

import json
import shutil
import time

import cv2
import numpy as np
import pytest
from helpers import run_cli, wait_until

from edgeface.engine import EngineSettings, FaceEngine
from edgeface.live.frames import snapshot_jpeg
from edgeface.modelfile import FaceModel
from edgeface.settings import LiveSettings, S3Settings
from edgeface.training import check_image
from edgeface.uplink.captures import CaptureMaker
from edgeface.uplink.outbox import Capture, Outbox

PEOPLE = {
    "Barack Obama": ["faces/Barack Obama/obama.jpg", "faces/Barack Obama/obama2.jpg", "probes/obama1.jpg",
                     "probes/obama3.jpg", "probes/obama-720p.jpg"],
    "Alex Lacamoire": ["faces/Alex Lacamoire/img1.jpg", "faces/Alex Lacamoire/alex-lacamoire.png",
                       "probes/alex_lacamoire1.jpg"],
    "Joe Biden": ["faces/Joe Biden/biden.jpg"],
}


@pytest.fixture
def shipped(media_dir, s3_env, tmp_path) -> dict[str, str]:
    """Capture id -> true person, for every sample face, shipped from two sites."""
    engine = FaceEngine()
    truth = {}
    boxes = {site: Outbox(str(tmp_path / f"outbox-{site}"), site, S3Settings.from_env(s3_env))
             for site in ("lab", "yard")}
    for person, paths in PEOPLE.items():
        for n, rel in enumerate(paths):
            bgr = cv2.imread(str(media_dir / rel))
            found, vectors = engine.detect_and_encode(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
            top, right, bottom, left = found[0]                      # the largest face
            m = (bottom - top) // 3
            crop = bgr[max(0, top - m):bottom + m, max(0, left - m):right + m]
            capture = Capture(camera="door", face_jpeg=cv2.imencode(".jpg", crop)[1].tobytes(), frame_jpeg=None,
                              seen_at=time.time(), embedding=vectors[0].tolist(), distance=0.7, model_version="v1",
                              label="Barack Obama" if rel.endswith("obama1.jpg") else None)
            boxes["lab" if n % 2 == 0 else "yard"].add(capture)
            truth[capture.id] = person
    for box in boxes.values():
        box.ship_pending()
    return truth


def test_review_clusters_by_person_and_accepts_a_cluster(shipped, s3_env, tmp_path):
    out = tmp_path / "review"
    proc = run_cli("review", "--out", str(out), env=s3_env)
    assert f"pulled {len(shipped)} new captures" in proc.stdout
    clusters = json.loads((out / "clusters.json").read_text())
    people = {n: {shipped[i] for i in ids} for n, ids in clusters.items()}
    assert all(len(found) == 1 for found in people.values()), people           # every cluster is one person
    assert sorted(next(iter(p)) for p in people.values()) == sorted(PEOPLE)     # and each person one cluster
    obama = next(n for n, p in people.items() if p == {"Barack Obama"})
    assert obama == "1" and len(clusters[obama]) == 5                          # the largest comes first
    page = (out / "index.html").read_text()
    assert page.count("<figure") == len(shipped) and "<figcaption>Barack Obama</figcaption>" in page
    grid = cv2.imread(str(out / "cluster-1.png"))
    assert grid.shape[:2] == (96, 5 * 96)

    again = run_cli("review", "--out", str(out), env=s3_env)
    assert "pulled 0 new captures" in again.stdout                              # only what is new

    images = tmp_path / "face-images"
    run_cli("review", "--out", str(out), "--accept", obama, "--name", "Barack Obama", "--images", str(images))
    copied = sorted(p.name for p in (images / "Barack Obama").iterdir())
    assert copied == sorted(f"capture-{i}.jpg" for i in clusters[obama])
    alex = next(n for n, p in people.items() if p == {"Alex Lacamoire"})
    run_cli("review", "--out", str(out), "--reject", alex)
    decisions = json.loads((out / "decisions.json").read_text())
    assert decisions[obama]["decision"] == "accepted" and decisions[alex]["decision"] == "rejected"


def test_review_mistakes_get_clear_errors(tmp_path):
    out = tmp_path / "review"
    proc = run_cli("review", "--out", str(out), "--accept", "1", "--name", "X", check=False)
    assert proc.returncode == 2 and "run edgeface review --out" in proc.stderr and "Traceback" not in proc.stderr
    out.mkdir()
    (out / "clusters.json").write_text(json.dumps({"1": ["a"]}))
    proc = run_cli("review", "--out", str(out), "--accept", "1", "--name", "../etc", check=False)
    assert proc.returncode == 2 and "cannot be a person's folder" in proc.stderr
    proc = run_cli("review", "--out", str(out), "--reject", "7", check=False)
    assert proc.returncode == 2 and "no cluster 7" in proc.stderr
    # A cluster of which training could use nothing (a faceless crop; a capture whose files are gone).
    (out / "captures").mkdir()
    cv2.imwrite(str(out / "captures" / "a.jpg"), np.full((100, 100, 3), 90, np.uint8))
    (out / "captures" / "a.json").write_text(json.dumps({"embedding": [0.1] * 128}))
    (out / "clusters.json").write_text(json.dumps({"1": ["a", "b"]}))
    images = tmp_path / "face-images"
    proc = run_cli("review", "--out", str(out), "--accept", "1", "--name", "Jane Doe", "--images", str(images),
                   check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "capture a: training would skip it (no face found); not copied" in proc.stderr
    assert "capture b: training would skip it (cannot read its files in" in proc.stderr
    assert "none of the 2 faces of cluster 1 can be trained" in proc.stderr and not images.exists()


def test_the_labelled_unknown_of_the_sample_clip_trains(media_dir, s3_env, tmp_path):
    """Issue "corrections that take effect": the stranger of the sample clip, labelled by an operator,
    accepted in review and trained. His visit's snapshot (the face with the live margin, 123x126)
    is a crop in which training finds no face; the capture is cut from the frame with a wider
    margin, and carries the box the live detector found, for the crop where that is all there is."""
    live = LiveSettings()
    clip = cv2.VideoCapture(str(media_dir / "video" / "short_hamilton_clip.mp4"))
    for _ in range(213):                               # frame 212: his face, as the live path finds it
        ok, frame = clip.read()
        assert ok
    clip.release()
    engine = FaceEngine(EngineSettings(detector=live.detector, scale=live.detect_scale, upsample=live.upsample))
    box = next(b for b in engine.detect(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)) if b[1] < 200)
    snapshot = snapshot_jpeg(frame, box, live.snapshot_margin, live.jpeg_quality)
    assert cv2.imdecode(np.frombuffer(snapshot, np.uint8), 1).shape[:2] == (126, 123)
    assert check_image(snapshot, "the visit's snapshot") == ("no face found", False)     # what was seen

    outbox = Outbox(str(tmp_path / "outbox"), "lab", S3Settings.from_env(s3_env))
    maker = CaptureMaker(outbox, tolerance=0.6).start()
    frame_jpeg = cv2.imencode(".jpg", frame)[1].tobytes()
    labelled = [Capture(camera="stage", face_jpeg=snapshot, frame_jpeg=jpeg, seen_at=time.time(), distance=0.68,
                        box=list(box), reason="labelled", label="Anthony Ramos") for jpeg in (frame_jpeg, None)]
    try:
        assert all(maker.add_labelled(c) for c in labelled)    # with the frame, and a history without frames
        wait_until(lambda: maker.kept == 2, 60, "the labelled captures")
    finally:
        maker.close()
    # A face no detector finds and with no box: review must say so instead of copying it.
    sidecar = json.loads(outbox.spool.read(outbox.spool.stems()[0]))
    blank = Capture(camera="stage", face_jpeg=cv2.imencode(".jpg", np.full((120, 120, 3), 128, np.uint8))[1].tobytes(),
                    frame_jpeg=None, seen_at=time.time(), embedding=sidecar["embedding"], reason="labelled",
                    label="Anthony Ramos")
    outbox.add(blank)
    assert outbox.ship_pending() == 3
    assert sidecar["quality"] and len(sidecar["face_box"]) == 4 and len(sidecar["landmarks"]) == 5

    out, images = tmp_path / "review", tmp_path / "face-images"
    shutil.copytree(media_dir / "faces", images)
    run_cli("review", "--out", str(out), env=s3_env)
    clusters = json.loads((out / "clusters.json").read_text())
    assert sorted(map(sorted, clusters.values())) == [sorted([c.id for c in labelled] + [blank.id])]
    proc = run_cli("review", "--out", str(out), "--accept", "1", "--name", "Anthony Ramos", "--images", str(images))
    assert f"capture {blank.id}: training would skip it (no face found); not copied" in proc.stderr
    assert "2 of 3 faces copied" in proc.stdout and "--expect 'Anthony Ramos'" in proc.stdout
    decisions = json.loads((out / "decisions.json").read_text())["1"]
    assert decisions["not_copied"] == {blank.id: "no face found"} and len(decisions["from_stored_box"]) == 1

    proc = run_cli("train", "--images", str(images), "--out", str(tmp_path / "model.data"), "--no-progress",
                   "--expect", "Anthony Ramos")
    assert "no face found" not in proc.stderr and "not enrolled" not in proc.stderr
    model = FaceModel.load(tmp_path / "model.data")
    ramos = model.names.index("Anthony Ramos")
    assert int((model.labels == ramos).sum()) == 2 and len(model.names) == 7
    stored = [s for s in model.metadata["sources"] if s.get("box") == "stored"]
    assert [s["person"] for s in stored] == ["Anthony Ramos"]
    assert f"enrolled {images / 'Anthony Ramos' / stored[0]['file'].rsplit('/', 1)[1]} from the capture's stored" \
        in proc.stderr
