"""`edgeface pipeline run --local`: the Tasks' own scripts turn the newest model in the real S3
server into an image in a real registry, and podman runs that image to deliver the model."""

from __future__ import annotations

import json
import shutil
from urllib.request import Request, urlopen

import pytest
from deploy_helpers import BUSYBOX, results_of, run_edgeface

from edgeface.modelfile import sha256_file
from edgeface.tools.deploy.local_env import LocalBuildEnv
from edgeface.tools.deploy.local_pipeline import run_locally, secrets_from_env

pytestmark = pytest.mark.slow
LIST_TYPES = ("application/vnd.docker.distribution.manifest.list.v2+json", "application/vnd.oci.image.index.v1+json")


def run_local(image: str, env: dict, *extra: str):
    return run_edgeface("pipeline", "run", "--local", "--version", "latest", "--image", image, *extra, env=env)


def test_latest_model_becomes_an_image_that_delivers_it_byte_for_byte(published_model, registry, podman, tmp_path):
    repo = registry.repo()
    proc = run_local(repo, published_model["env"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = results_of(proc.stdout)
    version, sha256 = published_model["version"], sha256_file(published_model["path"])
    assert results["MODEL_VERSION"] == version
    assert results["MODEL_SHA256"] == sha256
    assert results["IMAGE_URL"] == f"{repo}:{version}"
    assert results["IMAGE_DIGEST"].startswith("sha256:")
    assert registry.tags(repo) == [version]
    assert "[build-model-image/build] verified linux/" in proc.stdout  # the in-image check ran

    target = tmp_path / "volume"
    target.mkdir(mode=0o777)
    target.chmod(0o777)  # an emptyDir is world-writable; the image runs as a non-root user
    pinned = f"{repo}@{results['IMAGE_DIGEST']}"  # as a Deployment pins it after `kustomize edit set image`
    delivered = podman.run(pinned, volume=target)
    assert (target / "model.data").read_bytes() == published_model["path"].read_bytes()
    assert f"delivered model {version}" in delivered.stdout
    assert [p.name for p in target.iterdir()] == ["model.data"]  # no temporary file left behind

    labels = json.loads(podman("image", "inspect", "--format", "{{json .Labels}}", pinned).stdout)
    assert labels["io.edgeface.model.version"] == version
    assert labels["io.edgeface.model.sha256"] == sha256
    assert labels["org.opencontainers.image.version"] == version

    # Reproducible: a second, independent run (fresh buildah storage) gives the same digest.
    again = run_local(repo, published_model["env"])
    assert again.returncode == 0, again.stdout + again.stderr
    assert results_of(again.stdout)["IMAGE_DIGEST"] == results["IMAGE_DIGEST"]


def test_missing_model_version_stops_at_fetch_and_pushes_nothing(published_model, registry):
    repo = registry.repo()
    proc = run_edgeface("pipeline", "run", "--local", "--version", "20200101T000000Z", "--image", repo,
                        env=published_model["env"])
    assert proc.returncode == 2
    assert "task fetch-model failed" in proc.stderr
    assert "model version 20200101T000000Z not found" in proc.stderr
    assert "edgeface model list" in proc.stderr  # what to do
    assert "build-model-image" not in proc.stdout
    assert registry.tags(repo) == []


def test_tampered_model_stops_at_fetch_and_pushes_nothing(published_model, registry):
    store, version = published_model["store"], published_model["version"]
    data = bytearray(store.backend.read(f"{version}/model.data"))
    data[-40] ^= 0xFF
    store.backend.write(f"{version}/model.data", bytes(data))
    repo = registry.repo()
    proc = run_local(repo, published_model["env"])
    assert proc.returncode == 2
    assert "task fetch-model failed" in proc.stderr
    assert "does not match its manifest" in proc.stderr
    assert registry.tags(repo) == []


def test_missing_data_connection_secret_says_which_keys_and_what_to_do(registry):
    repo = registry.repo()
    proc = run_local(repo, {})
    assert proc.returncode == 2
    assert "task fetch-model failed" in proc.stderr
    assert "aws-connection-edgeface-models' is missing or lacks: AWS_S3_BUCKET AWS_ACCESS_KEY_ID " \
           "AWS_SECRET_ACCESS_KEY" in proc.stderr
    assert "Data connections" in proc.stderr
    assert registry.tags(repo) == []


def test_unreachable_s3_stops_at_fetch(published_model, registry):
    from helpers import free_port

    env = published_model["env"] | {"AWS_S3_ENDPOINT": f"http://127.0.0.1:{free_port()}"}
    proc = run_local(registry.repo(), env)
    assert proc.returncode == 2
    assert "task fetch-model failed" in proc.stderr
    assert "cannot reach S3" in proc.stderr and "AWS_S3_ENDPOINT" in proc.stderr
    assert env["AWS_SECRET_ACCESS_KEY"] not in proc.stdout + proc.stderr


def test_unreachable_registry_stops_at_push_with_what_to_check(published_model):
    from helpers import free_port

    proc = run_local(f"127.0.0.1:{free_port()}/edgeface/model", published_model["env"])
    assert proc.returncode == 2
    assert "task build-model-image failed in step push" in proc.stderr
    assert "could not push" in proc.stderr
    assert "registry is reachable" in proc.stderr and "TLS_VERIFY" in proc.stderr
    assert "== build-model-image: Failed" in proc.stdout


def test_multi_arch_build_pushes_one_list_with_every_platform(published_model, registry, tmp_path):
    """Mechanics of PLATFORMS=linux/amd64,linux/arm64. No arm64 busybox can be had here, so the
    arm64 entry of the local busybox base holds this machine's binary (relabelled): the test
    proves the per-platform build, in-image check and list push, not that arm64 code runs."""
    env = LocalBuildEnv(tmp_path / "work").prepare()
    base = tmp_path / "busybox"
    base.mkdir()
    shutil.copy2(BUSYBOX, base / "busybox")
    (base / "Containerfile").write_text("FROM scratch\nCOPY busybox /bin/busybox\n")
    env.buildah("build", "--quiet", "--timestamp", "0", "--platform", "linux/amd64,linux/arm64",
                "--manifest", "localhost/edgeface-test/busybox-multi:1", str(base))
    repo = registry.repo()
    results = run_locally({"IMAGE": repo, "TLS_VERIFY": "false", "PLATFORMS": "linux/amd64,linux/arm64",
                           "BUSYBOX_IMAGE": "localhost/edgeface-test/busybox-multi:1"},
                          secrets_from_env("aws-connection-edgeface-models", published_model["env"]),
                          workdir=env.workdir, keep=True, on_event=lambda *a, **k: None)
    request = Request(f"http://{registry.host}/v2/{repo.split('/', 1)[1]}/manifests/{results['IMAGE_DIGEST']}",
                      headers={"Accept": ", ".join(LIST_TYPES)})
    with urlopen(request, timeout=10) as resp:
        index = json.load(resp)
    assert index["mediaType"] in LIST_TYPES
    assert sorted(m["platform"]["architecture"] for m in index["manifests"]) == ["amd64", "arm64"]
