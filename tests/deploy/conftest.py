"""Fixtures of the deployment path: a real registry, models in the real S3 server, podman."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from deploy_helpers import Podman, Registry, make_model
from helpers import REPO, free_port, require_tool, wait_for_port

from edgeface.store import open_store


@pytest.fixture(scope="session")
def registry(tmp_path_factory):
    """Debian's docker-registry on 127.0.0.1, plain HTTP, storage in a temporary folder."""
    exe = require_tool("docker-registry")
    root = tmp_path_factory.mktemp("registry")
    port = free_port()
    config = root / "config.yml"
    config.write_text("version: 0.1\nlog:\n  level: warn\n"
                      f"storage:\n  filesystem:\n    rootdirectory: {root / 'data'}\n"
                      f"http:\n  addr: 127.0.0.1:{port}\n  secret: edgeface-test\n")
    with open(root / "registry.log", "wb") as log:
        proc = subprocess.Popen([exe, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, proc=proc)
        yield Registry(f"127.0.0.1:{port}")
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture
def published_model(s3_env, tmp_path) -> dict:
    """A model pushed to the real S3 server as the newest version (so `latest` points at it)."""
    path = make_model(tmp_path / "model.data")
    store = open_store(f"s3://{s3_env['AWS_S3_BUCKET']}/models")
    store.push(make_model(tmp_path / "older.data", names=("Old Model",)))
    version = store.push(path)
    return {"path": path, "version": version, "store": store, "env": s3_env}


@pytest.fixture(scope="session")
def app_image(tmp_path_factory):
    """The web app image, built (or loaded from the cache) by scripts/build-app-image.sh into a
    podman storage of its own that the pod tests share."""
    root = Path(tempfile.mkdtemp(prefix="efapp-", dir="/tmp"))  # podman wants a runroot under 50 chars
    podman = Podman(root)
    tag = "localhost/edgeface/edgeface:test"
    started = time.monotonic()
    proc = subprocess.run([str(REPO / "scripts" / "build-app-image.sh"), tag], capture_output=True, text=True,
                          env=podman.build_env(), timeout=3600)
    assert proc.returncode == 0, proc.stderr[-6000:]
    try:
        yield SimpleNamespace(tag=tag, podman=podman, log=proc.stderr, seconds=time.monotonic() - started)
    finally:
        podman("rm", "--all", "--force", check=False)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def podman():
    root = Path(tempfile.mkdtemp(prefix="efpod-", dir="/tmp"))  # podman wants a runroot under 50 chars
    try:
        yield Podman(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
