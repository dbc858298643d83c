"""The capture outbox against a real S3 (moto_server over HTTP) that goes away and comes back."""

from __future__ import annotations

import json
import subprocess
import time
import uuid

import boto3
import numpy as np
import pytest
from helpers import free_port, require_tool, wait_for_port, wait_until

from edgeface.errors import EdgefaceError
from edgeface.s3config import S3Settings
from edgeface.uplink.outbox import Capture, Outbox, capture_key
from edgeface.uplink.spool import Spool

FACE = b"\xff\xd8face-crop" + bytes(200)
FRAME = b"\xff\xd8whole-frame" + bytes(2000)


class MotoServer:
    """An S3 server we may stop and start again on the same port (it forgets its buckets)."""

    def __init__(self, workdir):
        self.exe = require_tool("moto_server")
        self.port = free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, bucket: str) -> MotoServer:
        with open(self.workdir / "moto.log", "ab") as log:
            self.proc = subprocess.Popen([self.exe, "-H", "127.0.0.1", "-p", str(self.port)], stdout=log,
                                         stderr=subprocess.STDOUT)
        wait_for_port(self.port, proc=self.proc)
        self.client().create_bucket(Bucket=bucket)
        return self

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None

    def client(self):
        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id="k", aws_secret_access_key="s")


@pytest.fixture
def moto(tmp_path):
    server = MotoServer(tmp_path)
    yield server
    server.stop()


def settings_for(endpoint: str, bucket: str) -> S3Settings:
    return S3Settings.from_env({"AWS_S3_ENDPOINT": endpoint, "AWS_S3_BUCKET": bucket, "AWS_ACCESS_KEY_ID": "k",
                                "AWS_SECRET_ACCESS_KEY": "s-" + uuid.uuid4().hex, "AWS_DEFAULT_REGION": "us-east-1"})


def capture(camera: str = "door", name: str = "Unknown", label: str | None = None,
            when: float | None = None) -> Capture:
    rng = np.random.default_rng()
    return Capture(camera=camera, face_jpeg=FACE, frame_jpeg=FRAME, seen_at=when or time.time(), name=name,
                   distance=0.71, embedding=rng.normal(size=128).tolist(), model_version="v3",
                   box=[10, 80, 80, 10], label=label)


def keys(client, bucket: str) -> set[str]:
    return {o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", [])}


def test_captures_survive_an_s3_outage_and_an_app_restart(tmp_path, moto):
    bucket = "core-" + uuid.uuid4().hex[:8]
    moto.start(bucket)
    spool_dir = str(tmp_path / "outbox")
    box = Outbox(spool_dir, "lab", settings_for(moto.endpoint, bucket)).start()
    first = capture(when=1767225600.5)       # 2026-01-01T00:00:00.5Z
    box.add(first)
    wait_until(lambda: box.status()["shipped"] == 1, 30, "the first capture shipped")
    stem = f"captures/lab/door/2026-01-01/{first.id}"
    assert keys(moto.client(), bucket) == {f"{stem}.jpg", f"{stem}.frame.jpg", f"{stem}.json"}
    sidecar = json.loads(moto.client().get_object(Bucket=bucket, Key=f"{stem}.json")["Body"].read())
    assert sidecar["embedding"] == pytest.approx(first.embedding, abs=1e-6)
    assert (sidecar["site"], sidecar["camera"], sidecar["model_version"], sidecar["distance"]) == (
        "lab", "door", "v3", 0.71)
    assert moto.client().get_object(Bucket=bucket, Key=f"{stem}.frame.jpg")["Body"].read() == FRAME

    moto.stop()                                # S3 goes away ...
    during = [capture(camera=f"cam{i % 2}") for i in range(6)]
    for c in during:
        box.add(c)
    wait_until(lambda: box.status()["failures"] >= 1, 60, "a failed upload")
    box.close()                                # ... and the app restarts meanwhile
    restarted = Outbox(spool_dir, "lab", settings_for(moto.endpoint, bucket))
    assert len(restarted.spool) == 6
    moto.start(bucket)                         # S3 is back (empty: moto keeps nothing)
    restarted.start()
    try:
        wait_until(lambda: len(restarted.spool) == 0, 60, "the outbox drained")
    finally:
        restarted.close()
    shipped = keys(moto.client(), bucket)
    for c in during:
        assert {capture_key(c.sidecar("lab"), s) for s in (".jpg", ".frame.jpg", ".json")} <= shipped
    assert len(shipped) == 18 and restarted.status()["dropped"] == 0


def test_past_the_quota_the_oldest_go_first_and_are_counted(tmp_path):
    unreachable = settings_for(f"http://127.0.0.1:{free_port()}", "nowhere")
    made = [capture() for _ in range(6)]
    one = len(FACE) + len(FRAME) + len(json.dumps(made[0].sidecar("lab")))   # within a few % of the others
    box = Outbox(str(tmp_path / "outbox"), "lab", unreachable, quota_bytes=int(3.5 * one))
    for c in made:
        box.add(c)
    kept = [json.loads(box.spool.read(stem) or b"{}")["id"] for stem in box.spool.stems()]
    assert kept == [c.id for c in made[3:]]
    assert box.status()["dropped"] == 3 and box.spool.bytes <= 3.5 * one
    assert len(list((tmp_path / "outbox").iterdir())) == 9       # the dropped ones are gone from disk too


def test_retention_deletes_old_captures_waiting_at_the_edge(tmp_path):
    box = Outbox(str(tmp_path / "outbox"), "lab", settings_for(f"http://127.0.0.1:{free_port()}", "x"),
                 retention_days=7)
    for _ in range(3):
        box.add(capture())
    assert box.expire(now=time.time() + 6 * 86400) == 0
    assert box.expire(now=time.time() + 8 * 86400) == 3
    assert len(box.spool) == 0 and box.status()["expired"] == 3


def test_forget_one_person_here_and_in_the_bucket(tmp_path, moto):
    bucket = "core-" + uuid.uuid4().hex[:8]
    moto.start(bucket)
    s3 = settings_for(moto.endpoint, bucket)
    box = Outbox(str(tmp_path / "outbox"), "lab", s3)
    jane_doubtful, jane_labelled, other = capture(name="Jane Doe"), capture(label="Jane Doe"), capture()
    for c in (jane_doubtful, jane_labelled, other):
        box.add(c)
    assert box.ship_pending() == 3
    waiting = capture(name="Jane Doe")
    box.add(waiting)
    assert box.forget("Jane Doe") == {"local": 1, "bucket": 2}
    left = keys(moto.client(), bucket)
    assert {k.rsplit("/", 1)[1].split(".")[0] for k in left} == {other.id}
    assert len(left) == 3 and len(box.spool) == 0
    with pytest.raises(EdgefaceError, match="not one person"):
        box.forget("Unknown")


def test_spool_sweeps_torn_writes_and_keeps_order_across_restarts(tmp_path):
    spool = Spool(tmp_path, max_entries=10)
    stems = [spool.put({".json": b'{"n": %d}' % i, ".jpg": b"x" * i}, f"k{i}") for i in range(4)]
    (tmp_path / ".tmp-99999999999999999999-k9.json").write_bytes(b"{")         # crashed mid-write
    (tmp_path / "99999999999999999998-k8.jpg").write_bytes(b"orphan")           # its sidecar never landed
    again = Spool(tmp_path, max_entries=10)
    assert again.stems() == stems
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{s}{x}" for s in stems for x in (".json", ".jpg"))
    assert again.bytes == sum(len(b'{"n": %d}' % i) + i for i in range(4))
    newer = again.put({".json": b"{}"}, "k.with/odd chars")
    assert again.stems()[-1] == newer and "/" not in newer and "." not in newer
