"""The versioned model store, on a directory and on a real S3 server (moto_server over HTTP)."""

import json
import shutil

import boto3
import pytest
from helpers import run_cli

from edgeface.errors import StoreError
from edgeface.modelfile import FaceModel
from edgeface.store import open_store


def test_local_store_push_list_pull_promote(tmp_path, sample_model):
    store = open_store(str(tmp_path / "store"))
    v1 = store.push(sample_model)
    v2 = store.push(sample_model)
    assert v1 < v2 and store.versions() == [v1, v2] and store.latest() == v2
    manifest = store.pull("latest", tmp_path / "pulled.data")
    assert (tmp_path / "pulled.data").read_bytes() == sample_model.read_bytes()
    assert manifest["version"] == v2 and "Lin-Manuel Miranda" in manifest["identities"]
    store.promote(v1)
    assert store.latest() == v1
    with pytest.raises(StoreError, match="not found"):
        store.pull("20000101T000000Z", tmp_path / "x")
    with pytest.raises(StoreError, match="not a model version"):
        store.pull("../etc", tmp_path / "x")


def test_refuses_to_publish_a_non_model(tmp_path):
    bad = tmp_path / "model.data"
    bad.write_bytes(b"not a model")
    proc = run_cli("model", "--store", str(tmp_path / "s"), "push", str(bad), check=False)
    assert proc.returncode == 2 and "not an edgeface model file" in proc.stderr
    assert open_store(str(tmp_path / "s")).versions() == []


def test_a_manifest_naming_another_version_is_refused(tmp_path, sample_model):
    """The manifest's version becomes a store key and an image tag: it must be its own version."""
    store = open_store(str(tmp_path / "store"))
    v1 = store.push(sample_model)
    manifest_file = tmp_path / "store" / v1 / "manifest.json"
    manifest = json.loads(manifest_file.read_text())
    for forged in ("../../outside", "20000101T000000Z", None):
        manifest_file.write_text(json.dumps({**manifest, "version": forged}))
        with pytest.raises(StoreError, match="names version"):
            store.pull(v1, tmp_path / "pulled.data")
    manifest_file.write_text("[1, 2]")
    proc = run_cli("model", "--store", str(tmp_path / "store"), "verify", check=False)
    assert proc.returncode == 2 and "not a valid manifest" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "pulled.data").exists()


def test_push_with_a_damaged_training_report_says_so(tmp_path, sample_model):
    model = tmp_path / "model.data"
    model.write_bytes(sample_model.read_bytes())
    (tmp_path / "model.report.json").write_text("{not json")
    proc = run_cli("model", "--store", str(tmp_path / "s"), "push", str(model), check=False)
    assert proc.returncode == 2 and "model.report.json: not a readable training report" in proc.stderr
    assert "Traceback" not in proc.stderr and open_store(str(tmp_path / "s")).versions() == []
    proc = run_cli("model", "--store", str(tmp_path / "s"), "push", str(tmp_path / "missing.data"), check=False)
    assert proc.returncode == 2 and "no such model file" in proc.stderr


def test_an_unwritable_output_path_is_a_user_error(tmp_path, sample_model):
    store = str(tmp_path / "s")
    run_cli("model", "--store", store, "push", str(sample_model))
    not_a_folder = tmp_path / "plain-file"
    not_a_folder.write_text("x")
    proc = run_cli("model", "--store", store, "pull", "latest", "--out", str(not_a_folder / "model.data"),
                   check=False)
    assert proc.returncode == 2 and f"edgeface: error: {not_a_folder}" in proc.stderr
    assert "Traceback" not in proc.stderr and not_a_folder.read_text() == "x"


def test_s3_round_trip_through_the_cli(s3_env, sample_model, tmp_path):
    """push → list → pull latest → identical bytes, with settings only from the RHODS variables."""
    version = run_cli("model", "push", str(sample_model)).stdout.strip()
    listed = json.loads(run_cli("model", "list", "--json").stdout)
    assert listed["versions"] == [version] and listed["latest"] == version
    assert listed["store"] == f"s3://{s3_env['AWS_S3_BUCKET']}/models"
    out = tmp_path / "pulled" / "model.data"
    assert run_cli("model", "pull", "latest", "--out", str(out)).stdout.strip() == version
    assert out.read_bytes() == sample_model.read_bytes()
    s3 = boto3.client("s3", endpoint_url=s3_env["AWS_S3_ENDPOINT"])
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=s3_env["AWS_S3_BUCKET"])["Contents"]}
    assert keys == {f"models/{version}/model.data", f"models/{version}/manifest.json", "models/latest"}
    manifest = json.loads(s3.get_object(Bucket=s3_env["AWS_S3_BUCKET"],
                                        Key=f"models/{version}/manifest.json")["Body"].read())
    assert manifest["size"] == sample_model.stat().st_size and len(manifest["identities"]) == 6
    assert run_cli("model", "verify").returncode == 0


def test_s3_tampered_object_and_rollback(s3_env, sample_model, tmp_path):
    store = open_store()
    v1 = store.push(sample_model)
    v2 = store.push(sample_model)
    s3 = boto3.client("s3", endpoint_url=s3_env["AWS_S3_ENDPOINT"])
    s3.put_object(Bucket=s3_env["AWS_S3_BUCKET"], Key=f"models/{v2}/model.data",
                  Body=sample_model.read_bytes()[:-7])
    proc = run_cli("model", "pull", "latest", "--out", str(tmp_path / "m.data"), check=False)
    assert proc.returncode == 2 and "does not match its manifest" in proc.stderr
    assert not (tmp_path / "m.data").exists()
    run_cli("model", "promote", v1)
    assert run_cli("model", "pull", "latest", "--out", str(tmp_path / "m.data")).stdout.strip() == v1
    assert "not match" in run_cli("model", "promote", v2, check=False).stderr


def test_a_version_without_manifest_is_not_listed(s3_env, sample_model):
    """A push interrupted before its manifest leaves a version nobody can see or pull."""
    s3 = boto3.client("s3", endpoint_url=s3_env["AWS_S3_ENDPOINT"])
    s3.put_object(Bucket=s3_env["AWS_S3_BUCKET"], Key="models/20990101T000000Z/model.data", Body=b"partial")
    assert open_store().versions() == []
    v = open_store().push(sample_model)
    assert open_store().versions() == [v] and v > "20990101T000000Z"


def test_errors_are_clear_and_never_print_the_secret(s3_env, sample_model):
    wrong = {"AWS_S3_BUCKET": "no-such-bucket"}
    proc = run_cli("model", "list", env=wrong, check=False)
    assert proc.returncode == 2 and "does not exist" in proc.stderr
    down = {"AWS_S3_ENDPOINT": "http://127.0.0.1:9"}
    proc = run_cli("model", "push", str(sample_model), env=down, check=False)
    assert proc.returncode == 2 and "cannot reach S3 at http://127.0.0.1:9" in proc.stderr
    for p in (proc, run_cli("-v", "model", "list", check=False)):
        assert s3_env["AWS_SECRET_ACCESS_KEY"] not in p.stdout + p.stderr


def test_push_refuses_a_version_that_changes_nothing(tmp_path, sample_model, media_dir):
    """Every new image skipped in training gives the same model again: not a new version, unless
    --allow-same. Manifests from before content_sha256 was recorded are compared by their model."""
    store = str(tmp_path / "store")
    v1 = run_cli("model", "--store", store, "push", str(sample_model)).stdout.strip()
    proc = run_cli("model", "--store", store, "push", str(sample_model), check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"holds the same 6 people and {FaceModel.load(sample_model).labels.size} embeddings as latest ({v1}" \
        in proc.stderr and "--allow-same" in proc.stderr
    assert open_store(store).versions() == [v1]
    manifest_file = tmp_path / "store" / v1 / "manifest.json"
    manifest = json.loads(manifest_file.read_text())
    del manifest["content_sha256"]
    manifest_file.write_text(json.dumps(manifest))
    assert run_cli("model", "--store", store, "push", str(sample_model), check=False).returncode == 2
    v2 = run_cli("model", "--store", store, "push", str(sample_model), "--allow-same").stdout.strip()
    assert open_store(store).versions() == [v1, v2]
    # A model with one person fewer is new.
    fewer = tmp_path / "fewer" / "model.data"
    fewer.parent.mkdir()
    shutil.copytree(media_dir / "faces", tmp_path / "faces", ignore=lambda d, names: ["Rose Leslie"])
    run_cli("train", "--images", str(tmp_path / "faces"), "--out", str(fewer), "--no-progress")
    assert run_cli("model", "--store", store, "push", str(fewer)).stdout.strip() > v2
