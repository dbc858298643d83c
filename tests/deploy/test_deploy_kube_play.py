"""The rendered Deployment (manifests/base) under `podman kube play --network none`: its init
container, the model image the pipeline pushed to the local registry, fills the emptyDir that
the app container reads at /model.

What differs from MicroShift, and why:
- the app container is a busybox stand-in that checks /model/model.data, because the web app
  image's base (python:3.11-slim) cannot be pulled here; its probes and port go with it (it serves
  no HTTP, and podman would map the port, which needs a network);
- the base, not an overlay, is played: the overlays add host networking for mDNS (containers
  here run with --network none only) and the pod IP from the downward API, which podman lacks;
- restartPolicy OnFailure: podman 4.3 gives init containers the pod's restart policy, so with
  a Deployment's Always the init container would run forever;
- runAsUser is set: podman's emptyDir belongs to the pod's user instead of being world-writable.
"""

from __future__ import annotations

import json
import os
import shutil

import pytest
import yaml
from deploy_helpers import BUSYBOX, render
from helpers import REPO

from edgeface.deploy.local_pipeline import run_locally, secrets_from_env
from edgeface.modelfile import sha256_file

pytestmark = pytest.mark.slow
APP_STANDIN = "localhost/edgeface-test/app-standin:1"
CHECK_MODEL = ('m=/model/model.data; set -e; bb=/bin/busybox; $bb test -r $m; '
               'echo "standin read $m sha256 $($bb sha256sum $m | $bb cut -d " " -f 1) '
               'size $($bb stat -c %s $m)"; '
               'if $bb touch /model/x 2>/dev/null; then echo "/model is WRITABLE"; exit 3; fi')


def podman_patches() -> list[dict]:
    probe_ops = [{"op": "remove", "path": f"/spec/template/spec/containers/0/{p}"}
                 for p in ("startupProbe", "livenessProbe", "readinessProbe", "ports")]
    return [
        {"op": "add", "path": "/spec/template/spec/restartPolicy", "value": "OnFailure"},
        {"op": "add", "path": "/spec/template/spec/securityContext/runAsUser", "value": 1001},
        *probe_ops,
        {"op": "add", "path": "/spec/template/spec/containers/0/command",
         "value": ["/bin/busybox", "sh", "-c", CHECK_MODEL]},
    ]


def render_for_podman(tmp_path, model_image: str) -> str:
    repo, tag = model_image.rsplit(":", 1)
    test_overlay = tmp_path / "podman-overlay"
    test_overlay.mkdir()
    (test_overlay / "kustomization.yaml").write_text(yaml.safe_dump({
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
        "resources": [os.path.relpath(REPO / "manifests" / "base", test_overlay)],
        "images": [{"name": "edgeface-model", "newName": repo, "newTag": tag},
                   {"name": "edgeface-webapp", "newName": APP_STANDIN.rsplit(":", 1)[0], "newTag": "1"}],
        "patches": [{"target": {"kind": "Deployment", "name": "edgeface"},
                     "patch": yaml.safe_dump(podman_patches(), width=1000)}],
    }))
    # podman plays the workload and its ConfigMap; the cluster-only kinds stay with the cluster
    docs = [d for d in render(test_overlay) if d["kind"] in ("Deployment", "ConfigMap")]
    path = tmp_path / "edgeface-podman.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    return str(path)


def build_app_standin(podman, tmp_path) -> None:
    context = tmp_path / "standin"
    context.mkdir()
    shutil.copy2(BUSYBOX, context / "busybox")
    (context / "Containerfile").write_text("FROM scratch\nCOPY busybox /bin/busybox\nUSER 1001\n")
    podman("build", "--network", "none", "-t", APP_STANDIN, str(context))


def test_init_container_fills_the_volume_the_app_reads(published_model, registry, podman, tmp_path):
    results = run_locally({"IMAGE": registry.repo(), "TLS_VERIFY": "false"},
                          secrets_from_env("aws-connection-edgeface-models", published_model["env"]),
                          on_event=lambda *a, **k: None)
    build_app_standin(podman, tmp_path)
    kube_yaml = render_for_podman(tmp_path, results["IMAGE_URL"])
    try:
        podman("kube", "play", "--network", "none", "--tls-verify=false", kube_yaml)
        containers = json.loads(podman("ps", "-a", "--format", "json").stdout)
        app = next(c for c in containers if c["Image"] == APP_STANDIN)
        assert podman("wait", app["Id"]).stdout.strip() == "0", podman("logs", app["Id"]).stdout
        logs = podman("logs", app["Id"]).stdout
    finally:
        podman("kube", "down", kube_yaml, check=False)
    expected = f"standin read /model/model.data sha256 {sha256_file(published_model['path'])} " \
               f"size {published_model['path'].stat().st_size}"
    assert expected in logs
