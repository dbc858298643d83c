"""The Elyra pipeline and the notebook, run headless the way a data scientist's work runs.

Each test copies model-training-pipeline/ into a temporary workspace (Elyra runs nodes in place)
and runs it against a real S3 server (moto_server over HTTP). The S3 settings reach the nodes only
as the RHODS data-connection variables in the environment of `elyra-pipeline run` / the kernel.
"""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from helpers import require_tool, run_cli

from edgeface.modelfile import FaceModel
from edgeface.store import open_store

pytestmark = pytest.mark.slow

PIPELINE = "model-training-pipeline/train-evaluate-upload.pipeline"


def elyra_pipeline(workspace, env, *args) -> subprocess.CompletedProcess:
    """`elyra-pipeline ARGS` from the workspace root, as in a JupyterLab terminal."""
    return subprocess.run([require_tool("elyra-pipeline"), *args], cwd=workspace, env=env,
                          capture_output=True, text=True, timeout=600)


def output_of(proc: subprocess.CompletedProcess) -> str:
    return f"exit {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"


def test_pipeline_file_validates(workspace, run_env):
    proc = elyra_pipeline(workspace, run_env, "validate", PIPELINE)
    assert proc.returncode == 0 and "validation SUCCEEDED" in proc.stdout, output_of(proc)


def test_pipeline_trains_evaluates_and_publishes_to_s3(workspace, run_env, s3_env, shipped_people, tmp_path):
    proc = elyra_pipeline(workspace, {**run_env, **s3_env}, "run", PIPELINE)
    log = output_of(proc)
    assert proc.returncode == 0, log
    assert s3_env["AWS_SECRET_ACCESS_KEY"] not in log

    store = open_store()  # s3://$AWS_S3_BUCKET/models from the same variables
    (version,) = store.versions()
    assert store.latest() == version
    assert f"published {store.where}/{version}" in proc.stdout
    manifest = store.verify("latest")
    assert manifest["identities"] == shipped_people

    artifacts = workspace / "model-training-pipeline" / "artifacts"
    store.pull("latest", tmp_path / "pulled.data")
    assert (tmp_path / "pulled.data").read_bytes() == (artifacts / "model.data").read_bytes()
    evaluation = json.loads((artifacts / "evaluation.json").read_text())
    assert evaluation["passed"] and evaluation["model_sha256"] == manifest["sha256"]
    assert json.loads((artifacts / "published.json").read_text())["version"] == version

    # same code path as the CLI: `edgeface train` on the same photos gives the same embeddings
    run_cli("train", "--images", str(workspace / "model-training-pipeline" / "face-images"),
            "--out", str(tmp_path / "cli.data"), "--no-progress")
    assert FaceModel.load(tmp_path / "cli.data").content_digest() == manifest["content_sha256"]


def test_a_failed_evaluation_stops_the_pipeline_before_upload(workspace, run_env, s3_env):
    """A photo filed under the wrong person fails the leave-one-out gate: nothing is published."""
    images = workspace / "model-training-pipeline" / "face-images"
    photo = sorted((images / "Barack Obama").iterdir())[0]
    shutil.move(photo, images / "Joe Biden" / f"misfiled-{photo.name}")

    proc = elyra_pipeline(workspace, {**run_env, **s3_env}, "run", PIPELINE)
    log = output_of(proc)
    assert proc.returncode != 0, log
    assert "evaluate.py" in proc.stdout + proc.stderr and "below the required" in proc.stdout, log
    assert s3_env["AWS_SECRET_ACCESS_KEY"] not in log
    assert open_store().versions() == []
    artifacts = workspace / "model-training-pipeline" / "artifacts"
    assert json.loads((artifacts / "evaluation.json").read_text())["passed"] is False
    assert not (artifacts / "published.json").exists()


def put_captures(s3_env, media_dir) -> None:
    """Two captures of one stranger, as an edge site's outbox ships them (crop + JSON sidecar)."""
    import boto3

    from edgeface.engine import FaceEngine
    from edgeface.images import encode_jpeg, load_image, rgb_to_bgr

    engine = FaceEngine()
    s3 = boto3.client("s3", endpoint_url=s3_env["AWS_S3_ENDPOINT"], region_name="us-east-1")
    for n, photo in enumerate(sorted((media_dir / "faces" / "Rose Leslie").glob("*"))[:2]):
        rgb = load_image(photo)
        boxes = engine.detect(rgb)
        top, right, bottom, left = boxes[0]
        key = f"captures/lab/door/2026-12-02/cap{n}"
        sidecar = {"id": f"cap{n}", "name": "Unknown", "label": None, "camera": "door", "site": "lab",
                   "seen_at": 1796200000.0 + n, "embedding": engine.encode(rgb, boxes)[0].tolist()}
        crop = encode_jpeg(rgb_to_bgr(rgb[top:bottom, left:right]).copy(), 90)
        s3.put_object(Bucket=s3_env["AWS_S3_BUCKET"], Key=key + ".jpg", Body=crop)
        s3.put_object(Bucket=s3_env["AWS_S3_BUCKET"], Key=key + ".json", Body=json.dumps(sidecar).encode())


def test_notebook_runs_headless_and_publishes(workspace, run_env, s3_env, shipped_people, media_dir):
    folder = workspace / "model-training-pipeline"
    put_captures(s3_env, media_dir)
    proc = subprocess.run(
        [require_tool("jupyter-nbconvert"), "--to", "notebook", "--execute", "--output", "executed.ipynb",
         "training-workflow.ipynb"],
        cwd=folder, env={**run_env, **s3_env}, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, output_of(proc)

    executed = (folder / "executed.ipynb").read_text()
    assert s3_env["AWS_SECRET_ACCESS_KEY"] not in executed
    cells = [c for c in json.loads(executed)["cells"] if c["cell_type"] == "code"]
    assert all(c["execution_count"] for c in cells)
    assert not [o for c in cells for o in c["outputs"] if o["output_type"] == "error"]
    # the two plots are shown as pictures: the photos with their faces, then the distances; last,
    # the review of what the edge sent back: one group for the stranger's two captures
    pictures = ["".join(c["source"]) for c in cells if any("image/png" in o.get("data", {}) for o in c["outputs"])]
    assert [("faces_figure" in src, "distances" in src, "review(" in src) for src in pictures] == \
        [(True, False, False), (False, True, False), (False, False, True)]
    assert "group 1: 2 faces" in executed

    store = open_store()
    (version,) = store.versions()
    assert store.latest() == version and store.verify(version)["identities"] == shipped_people
