"""The real pod: `podman kube play` of the rendered microshift-cpu overlay, with the web app image
that scripts/build-app-image.sh built and the model image that `edgeface pipeline run --local`
pushed to the local registry. The pod runs with `--network none` (its own network namespace,
loopback only), which the test names (`ip netns attach`) and joins to run the camera and its
HTTP checks: that namespace plays the edge node's LAN.

The init container delivers the model from S3 (through the image), the app becomes ready, a
simulated camera in the same namespace finds it over mDNS, registers on the announced port and is
recognised: an event names a person of the sample clip. /metrics and /healthz answer.

What differs from MicroShift, and why (everything else is the rendered overlay as shipped):
- hostNetwork is off and the pod gets `--network none` instead: podman would otherwise put it on
  this machine's real network (podman 4.3 pods cannot join a given namespace, `ns:PATH`);
- EDGEFACE_MDNS_INTERFACE is 127.0.0.1 rather than the downward API's status.podIP (podman has no
  pod IP to give; the namespace's loopback carries multicast);
- the probes are left out: podman runs httpGet probes with curl inside the container, which the
  image does not have; the test asks /readyz and /healthz itself;
- the container's `ports` are left out: podman turns them into port mappings, which it refuses in
  a given namespace (with host networking on MicroShift they are the node's ports anyway);
- restartPolicy OnFailure: podman 4.3 gives init containers the pod's restart policy;
- runAsUser is set: podman's emptyDir belongs to the pod's user instead of being world-writable.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import yaml
from deploy_helpers import render
from helpers import REPO, require_tool, wait_until

from edgeface.buildinfo import dlib_info
from edgeface.modelfile import FaceModel
from edgeface.store import open_store
from edgeface.tools.deploy.local_pipeline import run_locally, secrets_from_env

pytestmark = pytest.mark.slow
OVERLAY = REPO / "manifests" / "overlays" / "microshift-cpu"
NAMED = "Lin-Manuel Miranda"  # in the sample clip and the sample faces
CAMERA_PORT = 8081
# An HTTP GET from inside the namespace: prints {"status": …, "body": …}.
FETCH = """
import json, sys, urllib.error, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=5) as r:
        status, body = r.status, r.read()
except urllib.error.HTTPError as err:
    status, body = err.code, err.read()
print(json.dumps({"status": status, "body": body.decode("utf-8", "replace")}))
"""


class Namespace:
    """The pod's network namespace under a name of this test's, so that processes can join it."""

    def __init__(self):
        self.ip = require_tool("ip")
        self.name = f"efpod-{uuid.uuid4().hex[:8]}"

    def attach(self, podman) -> None:
        """Name the namespace of the pod podman runs now (again after the pod is replaced)."""
        pod = podman("pod", "ps", "--quiet").stdout.split()[0]
        infra = podman("pod", "inspect", "--format", "{{.InfraContainerID}}", pod).stdout.strip()
        pid = podman("inspect", "--format", "{{.State.Pid}}", infra).stdout.strip()
        self.delete()
        subprocess.run([self.ip, "netns", "attach", self.name, pid], check=True)

    def exec_prefix(self) -> list[str]:
        return [self.ip, "netns", "exec", self.name]

    def get(self, url: str) -> tuple[int, str]:
        proc = subprocess.run([*self.exec_prefix(), sys.executable, "-c", FETCH, url],
                              capture_output=True, text=True, timeout=30)
        if proc.returncode != 0:  # nothing listening yet: connection refused
            return 0, proc.stderr
        answer = json.loads(proc.stdout)
        return answer["status"], answer["body"]

    def delete(self) -> None:
        """Drop the name (the namespace itself lives as long as the pod)."""
        subprocess.run([self.ip, "netns", "del", self.name], capture_output=True, check=False)


@pytest.fixture
def netns():
    ns = Namespace()
    try:
        yield ns
    finally:
        ns.delete()


def publish(s3_env: dict, sample_model: Path, repo: str, label: str, tmp_path: Path) -> dict[str, str]:
    """`edgeface model push` then `edgeface pipeline run --local`: the model's init image in the registry.

    The model is the sample one labelled ``label`` in its metadata: the app reports a model by the
    version its file carries (the store's version lives in the manifest and the image's labels)."""
    model = FaceModel.load(sample_model)
    path = FaceModel(model.embeddings, model.labels, model.names, {**model.metadata, "version": label}) \
        .save(tmp_path / f"model-{label}.data")
    version = open_store(f"s3://{s3_env['AWS_S3_BUCKET']}/models").push(path)
    results = run_locally({"IMAGE": repo, "TLS_VERIFY": "false"},
                          secrets_from_env("aws-connection-edgeface-models", s3_env), on_event=lambda *a, **k: None)
    assert results["MODEL_VERSION"] == version
    return results


@pytest.fixture
def model_repo(registry) -> str:
    return registry.repo()


def podman_ready_pod(docs: list[dict]) -> list[dict]:
    """The rendered overlay with the podman differences listed in the module docstring."""
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    pod["hostNetwork"] = False
    pod.pop("dnsPolicy")
    pod["restartPolicy"] = "OnFailure"
    pod["securityContext"]["runAsUser"] = 1001
    app = pod["containers"][0]
    for field in ("startupProbe", "livenessProbe", "readinessProbe", "ports"):
        app.pop(field)
    mdns = next(e for e in app["env"] if e["name"] == "EDGEFACE_MDNS_INTERFACE")
    mdns.pop("valueFrom")
    mdns["value"] = "127.0.0.1"
    # podman plays the workload, its ConfigMap and its claim; the cluster-only kinds stay with the cluster
    return [d for d in docs if d["kind"] in ("Deployment", "ConfigMap", "PersistentVolumeClaim")]


def render_for_podman(tmp_path: Path, app_image: str, model_image: str) -> tuple[Path, list[dict]]:
    """A site overlay over microshift-cpu that sets both images the documented way (kustomize
    images:, what `kustomize edit set image` writes); a new model version = a new newTag."""
    overlay = tmp_path / f"pod-overlay-{model_image.rsplit(':', 1)[1]}"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(yaml.safe_dump({
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
        "resources": [os.path.relpath(OVERLAY, overlay)],
        "images": [{"name": "quay.io/edgeface/model", "newName": model_image.rsplit(":", 1)[0],
                    "newTag": model_image.rsplit(":", 1)[1]},
                   {"name": "quay.io/edgeface/edgeface", "newName": app_image.rsplit(":", 1)[0],
                    "newTag": app_image.rsplit(":", 1)[1]}],
    }))
    docs = podman_ready_pod(render(overlay))
    path = overlay / "edgeface-pod.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    return path, docs


def test_pod_recognises_a_registered_camera_and_rolls_out_a_new_model(app_image, s3_env, sample_model, model_repo,
                                                                       netns, media_dir, tmp_path):
    podman = app_image.podman
    model_image = publish(s3_env, sample_model, model_repo, "pod-v1", tmp_path)
    kube_yaml, docs = render_for_podman(tmp_path, app_image.tag, model_image["IMAGE_URL"])
    images = [c["image"] for d in docs if d["kind"] == "Deployment"
              for c in d["spec"]["template"]["spec"]["initContainers"] + d["spec"]["template"]["spec"]["containers"]]
    assert images == [model_image["IMAGE_URL"], app_image.tag]   # set through kustomize images:
    config = next(d for d in docs if d["kind"] == "ConfigMap")["data"]
    app_env = {e["name"]: e.get("value") for d in docs if d["kind"] == "Deployment"
               for e in d["spec"]["template"]["spec"]["containers"][0]["env"]}
    base = f"http://127.0.0.1:{config['EDGEFACE_PORT']}"

    def app_log() -> str:
        name = podman("ps", "-a", "--filter", "name=webapp", "--format", "{{.Names}}").stdout.split()[0]
        logs = podman("logs", name, check=False)
        return logs.stdout + logs.stderr
    camera = None
    camera_log = open(tmp_path / "camera.log", "wb")  # noqa: SIM115 - closed in finally
    started = time.monotonic()
    try:
        podman("kube", "play", "--network", "none", "--tls-verify=false", str(kube_yaml))
        netns.attach(podman)

        def ready():
            state = podman("ps", "-a", "--filter", "name=webapp", "--format", "{{.State}}").stdout
            assert "exited" not in state, app_log()[-4000:]
            return netns.get(f"{base}/readyz")[0] == 200
        wait_until(ready, timeout=180, interval=0.5, what="the app in the pod to be ready (/readyz)")
        ready_s = time.monotonic() - started
        print(f"kube play to /readyz: {ready_s:.1f} s")

        model = json.loads(netns.get(f"{base}/api/v1/model")[1])
        assert model["version"] == "pod-v1", model   # delivered by the init container
        assert netns.get(f"{base}/healthz")[0] == 200
        status, metrics = netns.get(f"{base}/metrics")
        assert status == 200 and "edgeface_" in metrics

        # The camera knows only the registration host name: mDNS gives it the address and the port.
        camera = subprocess.Popen(
            [*netns.exec_prefix(), sys.executable, "-m", "edgeface", "camera",
             "--source", str(media_dir / "video" / "short_hamilton_clip.mp4"), "--host", "127.0.0.1",
             "--port", str(CAMERA_PORT), "--mdns-interface", "127.0.0.1",
             "--register-host", config["EDGEFACE_REGISTER_HOST"], "--reregister-after", "2"],
            cwd=REPO, stdout=camera_log, stderr=subprocess.STDOUT)

        def camera_online():
            cameras = json.loads(netns.get(f"{base}/api/v1/cameras")[1])["cameras"]
            return [c for c in cameras if f":{CAMERA_PORT}/" in c["url"] and c["online"]]
        wait_until(camera_online, timeout=90, interval=1, what="the simulated camera to register and stream")

        def named():
            return json.loads(netns.get(f"{base}/api/v1/events?name={NAMED.replace(' ', '%20')}")[1])["events"]
        event = wait_until(named, timeout=120, interval=1, what=f"an event naming {NAMED}")[0]
        assert event["name"] == NAMED and event["distance"] <= 0.6

        log = app_log()
        info = dlib_info()   # the image carries the same OpenBLAS build as this machine's install
        assert f"face engine: dlib {info['version']} (dlib, BLAS yes, CUDA no, march " in log, log[-3000:]
        assert app_env["EDGEFACE_ANNOUNCE_PORT"] == config["EDGEFACE_PORT"]   # cameras come to the app's port

        # Rollout: push → pipeline → new image tag in the overlay → pod recreated → new version serves,
        # and the recognition history (on the PVC) is still there.
        started = time.monotonic()
        new = publish(s3_env, sample_model, model_repo, "pod-v2", tmp_path)
        assert new["MODEL_VERSION"] != model_image["MODEL_VERSION"]
        kube_yaml, docs = render_for_podman(tmp_path, app_image.tag, new["IMAGE_URL"])
        # the claim stays as it is (podman 4.3 would refuse to create its volume again)
        kube_yaml.write_text(yaml.safe_dump_all([d for d in docs if d["kind"] != "PersistentVolumeClaim"]))
        podman("kube", "play", "--replace", "--network", "none", "--tls-verify=false", str(kube_yaml))
        netns.attach(podman)
        wait_until(lambda: netns.get(f"{base}/readyz")[0] == 200 and json.loads(
            netns.get(f"{base}/api/v1/model")[1])["version"] == "pod-v2",
            timeout=180, interval=0.5, what="the new model version to serve")
        print(f"rollout, push to the new version serving: {time.monotonic() - started:.1f} s")
        kept = json.loads(netns.get(f"{base}/api/v1/events?limit=1000")[1])["events"]
        assert event["id"] in [e["id"] for e in kept], "recognition history was lost in the rollout"
    finally:
        if camera is not None:
            camera.terminate()
            camera.wait(10)
        camera_log.close()
        podman("kube", "down", str(kube_yaml), check=False)
