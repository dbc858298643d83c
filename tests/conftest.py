"""Shared fixtures: the sample media, a real S3 server (moto_server over HTTP), a trained model."""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import pytest
from helpers import REPO, free_port, require_tool, wait_for_port


@pytest.fixture(scope="session")
def media_dir() -> Path:
    """The shared test media (faces/, probes/ with labels.json, video/) beside the checkout."""
    path = Path(os.environ.get("EDGEFACE_MEDIA", REPO.parent / "shared" / "media"))
    assert (path / "faces").is_dir(), f"no test media at {path}: set EDGEFACE_MEDIA"
    return path


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """A real S3 server (moto_server) on 127.0.0.1, reached by boto3 over HTTP."""
    exe = require_tool("moto_server")
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([exe, "-H", "127.0.0.1", "-p", str(port)], stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, proc=proc)
        yield {"endpoint": f"http://127.0.0.1:{port}", "proc": proc, "log": log}
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture
def s3_env(s3_server, monkeypatch) -> dict:
    """RHODS data-connection variables for a fresh bucket; also set in os.environ for the test."""
    import boto3

    env = {
        "AWS_S3_ENDPOINT": s3_server["endpoint"],
        "AWS_ACCESS_KEY_ID": "edgeface-test-key",
        "AWS_SECRET_ACCESS_KEY": "s3cr3t-" + uuid.uuid4().hex,
        "AWS_S3_BUCKET": "edgeface-" + uuid.uuid4().hex[:12],
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("EDGEFACE_STORE", raising=False)
    boto3.client("s3", endpoint_url=env["AWS_S3_ENDPOINT"], region_name="us-east-1").create_bucket(
        Bucket=env["AWS_S3_BUCKET"])
    return env


@pytest.fixture(scope="session")
def sample_model(media_dir, tmp_path_factory) -> Path:
    """model.data trained once per session from the sample faces."""
    from edgeface.training import train

    model, _ = train(media_dir / "faces", progress=False)
    return model.save(tmp_path_factory.mktemp("model") / "model.data")
