"""``edgeface review`` on real captures: real faces encoded by the engine, shipped by the outbox
to a real S3 (moto_server), pulled, clustered with Chinese whispers, named."""

from __future__ import annotations

import json
import time

import cv2
import pytest
from helpers import run_cli

from edgeface.engine import FaceEngine
from edgeface.settings import S3Settings
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
