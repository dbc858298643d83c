"""Recognition events become captures: real snapshots of real faces, dlib, the outbox, moto S3."""

from __future__ import annotations

import json
import time

import boto3
import cv2
import numpy as np
import pytest
from helpers import wait_until

from edgeface.cameras.source import Frame
from edgeface.engine import FaceEngine
from edgeface.events import RecognitionEvent
from edgeface.live.frames import snapshot_jpeg
from edgeface.recognize import STILL_SETTINGS
from edgeface.settings import S3Settings
from edgeface.uplink.captures import CaptureMaker
from edgeface.uplink.outbox import Outbox, capture_key
from edgeface.uplink.selection import CapturePolicy


@pytest.fixture(scope="module")
def scenes(media_dir) -> dict[str, tuple[np.ndarray, list[int]]]:
    """Two people, each alone in a camera frame: (frame, face box) as the live detector finds it."""
    engine = FaceEngine(STILL_SETTINGS)
    out = {}
    for person, rel in (("obama", "faces/Barack Obama/obama.jpg"), ("biden", "faces/Joe Biden/biden.jpg")):
        bgr = cv2.resize(cv2.imread(str(media_dir / rel)), None, fx=0.5, fy=0.5)
        frame = cv2.copyMakeBorder(bgr, 100, 100, 200, 200, cv2.BORDER_CONSTANT, value=(60, 60, 60))
        out[person] = frame, list(engine.detect(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))[0])
    return out


def event(name: str, distance: float, scene: tuple[np.ndarray, list[int]]) -> RecognitionEvent:
    frame, box = scene
    ev = RecognitionEvent(camera="door", name=name, distance=distance, box=box, time=time.time(), track=3,
                          model_version="v2")
    ev.snapshot = snapshot_jpeg(frame, box, 0.4, 80)         # as the pipeline makes it
    return ev


def test_unknown_and_doubtful_faces_become_captures_in_s3(scenes, s3_env, tmp_path):
    outbox = Outbox(str(tmp_path / "outbox"), "lab", S3Settings.from_env(s3_env)).start()
    maker = CaptureMaker(outbox, tolerance=0.6, policy=CapturePolicy(hold_s=0, samples_per_name_day=0)).start()
    frame, _ = scenes["obama"]
    try:
        blurred = (cv2.GaussianBlur(frame, (0, 0), 5), scenes["obama"][1])
        unknown, doubtful = event("Unknown", 0.71, scenes["obama"]), event("Jane Doe", 0.57, scenes["biden"])
        unknown.frame = Frame(seq=1, time=time.monotonic(), jpeg=cv2.imencode(".jpg", frame)[1].tobytes())
        for ev in (unknown, event("Jane Doe", 0.35, scenes["biden"]), doubtful, event("Unknown", 0.8, blurred)):
            maker.offer(ev)
        wait_until(lambda: maker.kept + maker.refused == 3 and outbox.status()["shipped"] == 2, 60, "two captures")
    finally:
        maker.close()
        outbox.close()
    assert (maker.kept, maker.refused, maker.skipped) == (2, 1, 0)      # the confident match was no candidate
    s3 = S3Settings.from_env(s3_env)
    client = boto3.client("s3", endpoint_url=s3.endpoint, region_name="us-east-1")
    engine = FaceEngine(STILL_SETTINGS)
    for ev, reason in ((unknown, "unknown"), (doubtful, "doubtful")):
        sidecar_key = capture_key({"site": "lab", "camera": "door", "seen_at": ev.time, "id": ev.id}, ".json")
        sidecar = json.loads(client.get_object(Bucket=s3.bucket, Key=sidecar_key)["Body"].read())
        assert (sidecar["reason"], sidecar["name"], sidecar["model_version"]) == (reason, ev.name, "v2")
        assert sidecar["quality"]["frontal"] and sidecar["quality"]["size"] >= 60 and sidecar["box"] == ev.box
        crop = client.get_object(Bucket=s3.bucket, Key=sidecar_key.replace(".json", ".jpg"))["Body"].read()
        rgb = cv2.cvtColor(cv2.imdecode(np.frombuffer(crop, np.uint8), 1), cv2.COLOR_BGR2RGB)
        # The sidecar says where the face is in the crop, and its embedding is that face's.
        top, right, bottom, left = sidecar["face_box"]
        assert 0 <= top < bottom <= rgb.shape[0] and 0 <= left < right <= rgb.shape[1]
        assert all(left <= x <= right and top <= y <= bottom for x, y in sidecar["landmarks"])
        expected = engine.encode(rgb, [tuple(sidecar["face_box"])])[0]
        assert np.linalg.norm(np.asarray(sidecar["embedding"]) - expected) < 1e-3
        if ev is doubtful:
            assert crop == ev.snapshot                  # no frame: the snapshot is the crop
        else:                       # cut from the frame with a wider margin than the snapshot's 0.4
            assert min(rgb.shape[:2]) >= 2 * (bottom - top)
    frames = [k["Key"] for k in client.list_objects_v2(Bucket=s3.bucket)["Contents"] if k["Key"].endswith(".frame.jpg")]
    assert [k.rsplit("/", 1)[1] for k in frames] == [f"{unknown.id}.frame.jpg"]      # the doubtful one had none


def test_a_visit_waiting_for_a_better_face_is_sent_when_the_app_stops(scenes, tmp_path):
    outbox = Outbox(str(tmp_path / "outbox"), "lab")          # not started: what it was given stays here
    maker = CaptureMaker(outbox, tolerance=0.6, policy=CapturePolicy(hold_s=3600)).start()
    first, second = event("Unknown", 0.7, scenes["obama"]), event("Unknown", 0.7, scenes["obama"])
    second.track = 4                            # the same face in a new track: the same visit
    maker.offer(first)
    maker.offer(second)
    wait_until(lambda: maker.counts()["merged"] == 1 and maker.filter.waiting == 1, 60, "the visit to wait")
    assert maker.kept == 0 and len(outbox.spool) == 0
    maker.close()
    assert maker.kept == 1 and len(outbox.spool) == 1
    sidecar = json.loads(outbox.spool.read(outbox.spool.stems()[0]))
    assert sidecar["merged"] == 1 and sidecar["id"] in (first.id, second.id)


def test_a_face_from_the_identify_stream_is_captured_from_there(scenes, tmp_path):
    """The event carries the main stream's region around the face (here the frame at twice the
    size): the capture is cut from it, with the training margin, at its pixels."""
    outbox = Outbox(str(tmp_path / "outbox"), "lab")          # not started: the capture stays in its spool
    maker = CaptureMaker(outbox, tolerance=0.6, policy=CapturePolicy(hold_s=0, samples_per_name_day=0)).start()
    frame, box = scenes["obama"]
    ev = event("Unknown", 0.75, scenes["obama"])
    ev.shot, ev.shot_box = cv2.resize(frame, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC), [2 * v for v in box]
    try:
        maker.offer(ev)
        wait_until(lambda: maker.kept + maker.refused == 1, 60, "the capture")
    finally:
        maker.close()
    assert maker.kept == 1
    [stem] = outbox.spool.stems()
    sidecar = json.loads(outbox.spool.read(stem))
    crop = cv2.imdecode(np.frombuffer(outbox.spool.read(stem, ".jpg"), np.uint8), 1)
    top, right, bottom, left = sidecar["face_box"]
    width = box[1] - box[3]
    assert right - left >= 1.6 * width, "the face is not the identify stream's"
    assert min(crop.shape[:2]) >= 2 * (bottom - top), "no training margin around the face"
