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
from edgeface.recognize import STILL_SETTINGS
from edgeface.settings import S3Settings
from edgeface.uplink.captures import CaptureMaker
from edgeface.uplink.outbox import Outbox, capture_key


@pytest.fixture(scope="module")
def portrait(media_dir) -> bytes:
    """A snapshot as the pipeline makes it: the face with a margin, as JPEG."""
    bgr = cv2.imread(str(media_dir / "faces" / "Barack Obama" / "obama.jpg"))
    return cv2.imencode(".jpg", cv2.resize(bgr, None, fx=0.5, fy=0.5))[1].tobytes()


def event(name: str, distance: float, snapshot: bytes) -> RecognitionEvent:
    ev = RecognitionEvent(camera="door", name=name, distance=distance, box=[40, 300, 300, 40], time=time.time(),
                          track=3, model_version="v2")
    ev.snapshot = snapshot
    return ev


def test_unknown_and_doubtful_faces_become_captures_in_s3(portrait, s3_env, tmp_path):
    outbox = Outbox(str(tmp_path / "outbox"), "lab", S3Settings.from_env(s3_env)).start()
    maker = CaptureMaker(outbox, tolerance=0.6).start()
    try:
        blurred = cv2.imencode(".jpg", cv2.GaussianBlur(cv2.imdecode(np.frombuffer(portrait, np.uint8), 1),
                                                        (0, 0), 5))[1].tobytes()
        unknown, doubtful = event("Unknown", 0.71, portrait), event("Jane Doe", 0.57, portrait)
        unknown.frame = Frame(seq=1, time=time.monotonic(), jpeg=b"\xff\xd8the whole frame")   # the camera's
        for ev in (unknown, event("Jane Doe", 0.35, portrait), doubtful, event("Unknown", 0.8, blurred)):
            maker.offer(ev)
        wait_until(lambda: maker.kept + maker.refused == 3 and outbox.status()["shipped"] == 2, 60, "two captures")
    finally:
        maker.close()
        outbox.close()
    assert (maker.kept, maker.refused, maker.skipped) == (2, 1, 0)      # the confident match was no candidate
    s3 = S3Settings.from_env(s3_env)
    client = boto3.client("s3", endpoint_url=s3.endpoint, region_name="us-east-1")
    rgb = cv2.cvtColor(cv2.imdecode(np.frombuffer(portrait, np.uint8), 1), cv2.COLOR_BGR2RGB)
    engine = FaceEngine(STILL_SETTINGS)
    expected = engine.encode(rgb, engine.detect(rgb)[:1])[0]
    for ev, reason in ((unknown, "unknown"), (doubtful, "doubtful")):
        sidecar_key = capture_key({"site": "lab", "camera": "door", "seen_at": ev.time, "id": ev.id}, ".json")
        sidecar = json.loads(client.get_object(Bucket=s3.bucket, Key=sidecar_key)["Body"].read())
        assert (sidecar["reason"], sidecar["name"], sidecar["model_version"]) == (reason, ev.name, "v2")
        assert np.linalg.norm(np.asarray(sidecar["embedding"]) - expected) < 1e-3
        assert sidecar["quality"]["frontal"] and sidecar["quality"]["size"] >= 60
        crop = client.get_object(Bucket=s3.bucket, Key=sidecar_key.replace(".json", ".jpg"))["Body"].read()
        assert crop == portrait
    frames = [k["Key"] for k in client.list_objects_v2(Bucket=s3.bucket)["Contents"] if k["Key"].endswith(".frame.jpg")]
    assert [k.rsplit("/", 1)[1] for k in frames] == [f"{unknown.id}.frame.jpg"]      # the doubtful one had none
