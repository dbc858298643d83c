"""manifests/: everything renders with `kubectl kustomize`, core kinds pass `kubernetes-validate
--strict`, the OpenShift kinds have what their APIs require, and the Deployment is wired as the
deployment path needs (init container -> emptyDir -> web app at /model)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from deploy_helpers import render
from helpers import REPO, require_tool

MANIFESTS = REPO / "manifests"
TARGETS = ["base", "overlays/microshift-cpu", "overlays/jetson-cuda", "tekton", "rhods"]
CORE_GROUPS = {"v1", "apps/v1", "rbac.authorization.k8s.io/v1", "node.k8s.io/v1"}
MICROSHIFT_KUBERNETES = "1.28.0"  # MicroShift 4.15
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "RuntimeClass"}


def kubernetes_validate(docs: list[dict], tmp_path: Path, version: str) -> subprocess.CompletedProcess:
    exe = require_tool("kubernetes-validate")
    path = tmp_path / f"rendered-{version}.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    return subprocess.run([exe, "--strict", "-k", version, str(path)], capture_output=True, text=True)


def one(docs: list[dict], kind: str) -> dict:
    found = [d for d in docs if d["kind"] == kind]
    assert len(found) == 1, f"{len(found)} {kind}"
    return found[0]


@pytest.mark.parametrize("target", TARGETS)
def test_renders_and_core_kinds_validate_strictly(target, tmp_path):
    docs = render(MANIFESTS / target)
    core = [d for d in docs if d["apiVersion"] in CORE_GROUPS]
    for version in (MICROSHIFT_KUBERNETES, "1.37.0"):
        if core:
            proc = kubernetes_validate(core, tmp_path, version)
            assert proc.returncode == 0, proc.stdout + proc.stderr
            assert proc.stdout.count("passed for resource") == len(core), proc.stdout
    for doc in docs:
        assert doc["apiVersion"] in CORE_GROUPS | {"route.openshift.io/v1", "image.openshift.io/v1", "tekton.dev/v1"}
        check_openshift_kind(doc)


def test_validation_catches_a_broken_deployment(tmp_path):
    deployment = one(render(MANIFESTS / "base"), "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = "Sometimes"
    deployment["spec"]["template"]["spec"]["initContainers"][0]["volumeMount"] = []
    proc = kubernetes_validate([deployment], tmp_path, MICROSHIFT_KUBERNETES)
    assert proc.returncode != 0


def check_openshift_kind(doc: dict) -> None:
    """The required fields of the OpenShift kinds (no schema for them in kubernetes-validate)."""
    if doc["kind"] == "Route":
        spec = doc["spec"]
        assert set(spec) <= {"host", "path", "to", "port", "tls", "wildcardPolicy", "alternateBackends"}
        assert spec["to"]["kind"] == "Service" and spec["to"]["name"]
    if doc["kind"] == "ImageStream":
        for tag in doc["spec"]["tags"]:
            assert tag["from"]["kind"] in ("DockerImage", "ImageStreamTag") and tag["from"]["name"]


@pytest.mark.parametrize("overlay", ["microshift-cpu", "jetson-cuda"])
def test_overlay_wires_the_model_from_the_init_container_to_the_web_app(overlay):
    docs = render(MANIFESTS / "overlays" / overlay)
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    init, = pod["initContainers"]
    app, = pod["containers"]
    init_mount, = [m for m in init["volumeMounts"] if m["mountPath"] == "/model"]
    app_mount, = [m for m in app["volumeMounts"] if m["mountPath"] == "/model"]
    assert init_mount["name"] == app_mount["name"] and "emptyDir" in volumes[init_mount["name"]]
    assert app_mount.get("readOnly") is True and not init_mount.get("readOnly")
    assert init["args"] == ["/model"]
    assert init["image"].startswith("quay.io/edgeface/model:") and not init["image"].endswith(":latest")

    config = one(docs, "ConfigMap")["data"]
    assert config["MODEL_FILENAME"] == "/model/model.data" and config["EDGEFACE_PORT"] == "8080"
    assert {"configMapRef": {"name": "edgeface-config"}} in app["envFrom"]
    assert app["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    assert app["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert app["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}

    assert pod["securityContext"]["runAsNonRoot"] is True
    for container in (init, app):
        assert container["resources"]["requests"] and container["resources"]["limits"]
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]

    route, service = one(docs, "Route"), one(docs, "Service")
    assert route["spec"]["host"] == "microshift-cam-reg.local"
    assert route["spec"]["to"]["name"] == service["metadata"]["name"]
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    assert service["spec"]["selector"] == one(docs, "Deployment")["spec"]["selector"]["matchLabels"]

    # mDNS (announce + browse) needs the node's network; the SCC is granted to the app's account only
    assert pod["hostNetwork"] is True and pod["dnsPolicy"] == "ClusterFirstWithHostNet"
    binding = one(docs, "RoleBinding")
    assert binding["roleRef"]["name"] == "system:openshift:scc:hostnetwork-v2"
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": pod["serviceAccountName"],
                                    "namespace": "edgeface"}]
    # cameras are told (mDNS) to call the app's own port on the node, not the Route's router
    announce, = [e["value"] for e in app["env"] if e["name"] == "EDGEFACE_ANNOUNCE_PORT"]
    assert int(announce) == app["ports"][0]["containerPort"]


@pytest.mark.parametrize("overlay", ["microshift-cpu", "jetson-cuda"])
def test_every_namespaced_object_is_in_the_apps_namespace(overlay):
    docs = render(MANIFESTS / "overlays" / overlay)
    for doc in docs:
        if doc["kind"] in CLUSTER_SCOPED:
            assert "namespace" not in doc["metadata"], doc["kind"]
        else:
            assert doc["metadata"].get("namespace") == "edgeface", f"{doc['kind']} {doc['metadata']['name']}"


@pytest.mark.parametrize("overlay", ["microshift-cpu", "jetson-cuda"])
def test_events_survive_pod_recreation_on_the_default_storage_class(overlay):
    docs = render(MANIFESTS / "overlays" / overlay)
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    app_mounts = {m["mountPath"]: m["name"] for m in pod["containers"][0]["volumeMounts"]}
    events_dir = one(docs, "ConfigMap")["data"]["EDGEFACE_EVENTS_DIR"]
    volume, = [v for v in pod["volumes"] if v["name"] == app_mounts[events_dir]]
    claim = one(docs, "PersistentVolumeClaim")
    assert volume["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    assert "storageClassName" not in claim["spec"] and claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert one(docs, "Deployment")["spec"]["strategy"]["type"] == "Recreate"  # RWO: old pod first


def test_jetson_overlay_runs_on_the_gpu():
    docs = render(MANIFESTS / "overlays" / "jetson-cuda")
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    assert pod["runtimeClassName"] == one(docs, "RuntimeClass")["metadata"]["name"]
    assert pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert pod["containers"][0]["image"].endswith("-cuda")
    assert one(docs, "ConfigMap")["data"]["EDGEFACE_LIVE_DETECTOR"] == "cnn"


def test_new_model_version_rolls_out_by_changing_the_image_tag(tmp_path):
    """What `kustomize edit set image edgeface-model=REPO:VERSION` writes, and what it renders."""
    copy = tmp_path / "manifests"
    shutil.copytree(MANIFESTS, copy)
    shutil.copytree(REPO / "init-container", tmp_path / "init-container")
    kustomization = copy / "overlays" / "microshift-cpu" / "kustomization.yaml"
    data = yaml.safe_load(kustomization.read_text())
    entry, = [i for i in data["images"] if i["name"] == "edgeface-model"]
    entry.update(newName="registry.example/edgeface/model", newTag="20261201T120000Z")
    kustomization.write_text(yaml.safe_dump(data))
    pod = one(render(copy / "overlays" / "microshift-cpu"), "Deployment")["spec"]["template"]["spec"]
    assert pod["initContainers"][0]["image"] == "registry.example/edgeface/model:20261201T120000Z"
    assert pod["containers"][0]["image"] == "quay.io/edgeface/edgeface:0.1.0"  # the app image is untouched


def test_tekton_resources_carry_the_recipe_files_verbatim():
    docs = render(MANIFESTS / "tekton")
    assert sorted((d["kind"], d["metadata"]["name"]) for d in docs) == [
        ("ConfigMap", "edgeface-model-image-recipe"), ("Pipeline", "edgeface-model-image"),
        ("Task", "edgeface-build-model-image"), ("Task", "edgeface-check-shadow"), ("Task", "edgeface-fetch-model"),
        ("Task", "edgeface-propose-model-tag")]
    data = one(docs, "ConfigMap")["data"]
    for name in ("Containerfile", "entrypoint.sh"):
        assert data[name] == (REPO / "init-container" / name).read_text()


def test_secret_templates_validate_and_hold_no_real_secret(tmp_path):
    templates = sorted((MANIFESTS / "secrets").glob("*.template.yaml"))
    assert templates
    docs = [yaml.safe_load(p.read_text()) for p in templates]
    proc = kubernetes_validate(docs, tmp_path, MICROSHIFT_KUBERNETES)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    connection = next(d for d in docs if d["metadata"]["name"] == "aws-connection-edgeface-models")
    assert set(connection["stringData"]) == {"AWS_S3_ENDPOINT", "AWS_S3_BUCKET", "AWS_DEFAULT_REGION",
                                             "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
    assert connection["metadata"]["labels"]["opendatahub.io/dashboard"] == "true"
    assert connection["stringData"]["AWS_SECRET_ACCESS_KEY"] == "REPLACE-ME"


def test_workbench_imagestream_is_listed_by_the_rhods_dashboard():
    stream = one(render(MANIFESTS / "rhods"), "ImageStream")
    assert stream["metadata"]["namespace"] == "redhat-ods-applications"
    assert stream["metadata"]["labels"]["opendatahub.io/notebook-image"] == "true"
    assert stream["metadata"]["annotations"]["opendatahub.io/notebook-image-name"]
