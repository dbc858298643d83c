"""`edgeface pipeline run` against a cluster: the kubernetes client creating and following a
PipelineRun. No cluster can run here, so the API server is a stand-in (kube_standin.py, a fake
serving the few endpoints over real HTTP) whose controller runs the real step scripts."""

from __future__ import annotations

import subprocess

import pytest
import yaml
from deploy_helpers import render, results_of, run_edgeface
from helpers import REPO, free_port
from kube_standin import KubeStandIn, write_kubeconfig

from edgeface.tools.deploy import DEFAULT_DATA_CONNECTION, RECIPE_CONFIGMAP
from edgeface.tools.deploy.tekton import load_definition


@pytest.fixture
def standin(tmp_path):
    server = KubeStandIn(tmp_path / "controller")
    yield server
    server.close()


def run_in_cluster(standin: KubeStandIn, tmp_path, *args: str) -> subprocess.CompletedProcess:
    kubeconfig = standin.kubeconfig(tmp_path / "kubeconfig")
    return run_edgeface("pipeline", "run", "--kubeconfig", str(kubeconfig), "--poll", "0.1", *args, env={})


def test_dry_run_pipelinerun_matches_the_pipeline_and_the_generated_configmap():
    proc = run_edgeface("pipeline", "run", "--dry-run", "--version", "20261124T210343Z",
                        "--image", "quay.io/acme/edgeface-model", "--registry-secret", "push-creds", env={})
    assert proc.returncode == 0, proc.stderr
    run = yaml.safe_load(proc.stdout)
    pipeline = load_definition().pipeline["spec"]
    assert run["apiVersion"] == "tekton.dev/v1" and run["kind"] == "PipelineRun"
    params = {p["name"]: p["value"] for p in run["spec"]["params"]}
    assert set(params) <= {p["name"] for p in pipeline["params"]}
    assert params["MODEL_VERSION"] == "20261124T210343Z" and params["IMAGE"] == "quay.io/acme/edgeface-model"
    assert {w["name"] for w in run["spec"]["workspaces"]} == {w["name"] for w in pipeline["workspaces"]}
    recipe = next(w for w in run["spec"]["workspaces"] if w["name"] == "recipe")
    configmaps = [d for d in render(REPO / "init-container") if d["kind"] == "ConfigMap"]
    assert [c["metadata"]["name"] for c in configmaps] == [recipe["configMap"]["name"]] == [RECIPE_CONFIGMAP]
    secret = next(w for w in run["spec"]["workspaces"] if w["name"] == "dockerconfig")["secret"]
    assert secret == {"secretName": "push-creds", "items": [{"key": ".dockerconfigjson", "path": "config.json"}]}


def test_bad_arguments_are_refused_before_contacting_a_cluster():
    proc = run_edgeface("pipeline", "run", "--image", "quay.io/acme/model:v1", env={})
    assert proc.returncode == 2 and "without tag" in proc.stderr
    proc = run_edgeface("pipeline", "run", "--image", "quay.io/acme/model", "--version", "newest", env={})
    assert proc.returncode == 2 and "edgeface model list" in proc.stderr


def test_pipeline_not_installed_says_how_to_install_it(tmp_path):
    server = KubeStandIn(tmp_path / "controller", pipelines=())
    try:
        proc = run_in_cluster(server, tmp_path, "--image", "quay.io/acme/edgeface-model")
    finally:
        server.close()
    assert proc.returncode == 2
    assert "Pipeline edgeface-model-image not found in namespace edgeface" in proc.stderr
    assert "kubectl apply -k manifests/tekton" in proc.stderr
    assert server.created == []


def test_unreachable_cluster_is_reported(tmp_path):
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", f"http://127.0.0.1:{free_port()}", "edgeface")
    proc = run_edgeface("pipeline", "run", "--kubeconfig", str(kubeconfig), "--image", "quay.io/a/model", env={})
    assert proc.returncode == 2
    assert "cannot reach the Kubernetes API" in proc.stderr


def test_missing_secret_fails_the_run_with_the_steps_own_message(standin, tmp_path):
    proc = run_in_cluster(standin, tmp_path, "--image", "quay.io/acme/edgeface-model")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "created PipelineRun edgeface-model-image-" in proc.stdout
    assert "fetch-model: Failed" in proc.stdout
    assert "build-model-image" not in proc.stdout
    # read back from the failed step's log through the pods/log endpoint
    assert f"'{DEFAULT_DATA_CONNECTION}' is missing or lacks: AWS_S3_BUCKET" in proc.stderr
    assert "Data connections" in proc.stderr
    assert standin.created[0]["spec"]["pipelineRef"] == {"name": "edgeface-model-image"}


@pytest.mark.slow
def test_run_is_followed_to_its_results(standin, tmp_path, published_model, registry):
    standin.secrets = {DEFAULT_DATA_CONNECTION: dict(published_model["env"])}
    repo = registry.repo()
    proc = run_in_cluster(standin, tmp_path, "--image", repo, "--tls-verify", "false")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for line in ("fetch-model: Succeeded", "build-model-image/build: terminated (exit 0)",
                 "build-model-image/push: terminated (exit 0)", "build-model-image: Succeeded"):
        assert line in proc.stdout
    results = results_of(proc.stdout)
    assert results["MODEL_VERSION"] == published_model["version"]
    assert results["IMAGE_URL"] == f"{repo}:{published_model['version']}"
    assert results["IMAGE_DIGEST"].startswith("sha256:")
    assert registry.tags(repo) == [published_model["version"]]
