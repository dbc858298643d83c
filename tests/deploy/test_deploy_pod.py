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

The second test plays the same pod following the model store (EDGEFACE_STORE and the S3 settings in
the app's env, an API token in place of the optional Secret): a real S3 (moto_server) starts in the
pod's namespace only after the app, which waits for it and says why; `edgeface model push` there
swaps the new version in without a restart and `edgeface model promote` rolls it back. Then
`edgeface bench --app-url` runs in the namespace against that app. With EDGEFACE_BENCH_POD_OUT=PATH
(scripts/bench-pod.sh) the bench is the full one, 4 cameras, and its JSON is written to PATH.
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import yaml
from deploy_helpers import render, run_edgeface
from helpers import REPO, require_tool, wait_until

from edgeface.buildinfo import dlib_info
from edgeface.errors import ConfigError
from edgeface.modelfile import FaceModel
from edgeface.store import open_store
from edgeface.tools.bench_live import procstats
from edgeface.tools.bench_live.system import LiveSystem, attach_to
from edgeface.tools.deploy.local_pipeline import run_locally, secrets_from_env

pytestmark = pytest.mark.slow
OVERLAY = REPO / "manifests" / "overlays" / "microshift-cpu"
NAMED = "Lin-Manuel Miranda"  # in the sample clip and the sample faces
CAMERA_PORT = 8081
EVENTS_CLAIM = "edgeface-events"   # the PersistentVolumeClaim of the base; podman makes it a volume
STORE_PORT = 9000   # the S3 server in the pod's namespace (where only the app listens besides)
# An HTTP GET from inside the namespace: prints {"status": …, "body": …}. The token, if any, comes
# in the environment (a command line shows in ps).
FETCH = """
import json, os, sys, urllib.error, urllib.request
token = os.environ.get("FETCH_TOKEN")
request = urllib.request.Request(sys.argv[1], headers={"Authorization": f"Bearer {token}"} if token else {})
try:
    with urllib.request.urlopen(request, timeout=5) as r:
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

    def get(self, url: str, token: str | None = None) -> tuple[int, str]:
        env = {**os.environ, "FETCH_TOKEN": token} if token else None
        proc = subprocess.run([*self.exec_prefix(), sys.executable, "-c", FETCH, url],
                              capture_output=True, text=True, timeout=30, env=env)
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
    path = labelled(sample_model, label, tmp_path)
    version = open_store(f"s3://{s3_env['AWS_S3_BUCKET']}/models").push(path)
    results = run_locally({"IMAGE": repo, "TLS_VERIFY": "false"},
                          secrets_from_env("aws-connection-edgeface-models", s3_env), on_event=lambda *a, **k: None)
    assert results["MODEL_VERSION"] == version
    return results


def labelled(sample_model: Path, label: str, tmp_path: Path) -> Path:
    """The sample model with ``label`` as the version in its metadata (what the app reports for a file)."""
    model = FaceModel.load(sample_model)
    return FaceModel(model.embeddings, model.labels, model.names, {**model.metadata, "version": label}) \
        .save(tmp_path / f"model-{label}.data")


def stop(helper: subprocess.Popen | None, log) -> None:
    """Stop a process the test started in the namespace (by its PID) and close its log."""
    if helper is not None:
        helper.terminate()
        helper.wait(10)
    log.close()


def take_down(podman, kube_yaml: Path) -> None:
    """`kube down`, and the events claim's volume too: podman 4.3 keeps it, and the next test's
    play would refuse to create it again (the tests share the app image's podman storage)."""
    podman("kube", "down", str(kube_yaml), check=False)
    podman("volume", "rm", "--force", EVENTS_CLAIM, check=False)


@pytest.fixture
def model_repo(registry) -> str:
    return registry.repo()


def podman_ready_pod(docs: list[dict], app_env: dict[str, str] | None = None) -> list[dict]:
    """The rendered overlay with the podman differences listed in the module docstring; ``app_env``
    sets (or replaces) variables of the app container."""
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
    app["env"] = [e for e in app["env"] if e["name"] not in (app_env or {})] + \
        [{"name": k, "value": v} for k, v in (app_env or {}).items()]
    # podman plays the workload, its ConfigMap and its claim; the cluster-only kinds stay with the cluster
    return [d for d in docs if d["kind"] in ("Deployment", "ConfigMap", "PersistentVolumeClaim")]


def render_for_podman(tmp_path: Path, app_image: str, model_image: str,
                      app_env: dict[str, str] | None = None) -> tuple[Path, list[dict]]:
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
    docs = podman_ready_pod(render(overlay), app_env)
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
        stop(camera, camera_log)
        take_down(podman, kube_yaml)


MAKE_BUCKET = """
import os, boto3
boto3.client("s3", endpoint_url=os.environ["AWS_S3_ENDPOINT"], region_name="us-east-1") \\
    .create_bucket(Bucket=os.environ["AWS_S3_BUCKET"])
"""
BENCH_REQUIRED = ("cameras", "fps_per_camera", "fps_by_camera", "named_frame_recall", "first_name_latency_ms",
                  "cpu_ms_per_frame", "rss_mb", "pss_mb", "app_processes", "reference_fps", "stages", "reference",
                  "machine", "goal", "app_url")


def webapp_state(podman) -> tuple[str, str]:
    """The app container's host PID and start time: unchanged means not restarted."""
    name = podman("ps", "--filter", "name=webapp", "--format", "{{.Names}}").stdout.split()[0]
    pid, started = podman("inspect", "--format", "{{.State.Pid}} {{.State.StartedAt}}", name).stdout.split(" ", 1)
    return pid, started.strip()


def test_pod_hot_reloads_from_the_store_rolls_back_and_is_benched(app_image, s3_env, sample_model, model_repo,
                                                                   netns, media_dir, tmp_path):
    podman = app_image.podman
    init = publish(s3_env, sample_model, model_repo, "pod-init", tmp_path)
    token = secrets.token_urlsafe(16)
    store = {"AWS_S3_ENDPOINT": f"http://127.0.0.1:{STORE_PORT}", "AWS_ACCESS_KEY_ID": "edgeface-pod",
             "AWS_SECRET_ACCESS_KEY": secrets.token_hex(12), "AWS_S3_BUCKET": "edgeface-pod",
             "AWS_DEFAULT_REGION": "us-east-1", "EDGEFACE_STORE": "s3://edgeface-pod/models"}
    kube_yaml, docs = render_for_podman(tmp_path, app_image.tag, init["IMAGE_URL"],
                                        {**store, "EDGEFACE_API_TOKEN": token})
    port = next(d for d in docs if d["kind"] == "ConfigMap")["data"]["EDGEFACE_PORT"]
    base = f"http://127.0.0.1:{port}"

    def serving() -> str | None:
        status, body = netns.get(f"{base}/api/v1/model", token)
        return json.loads(body)["version"] if status == 200 else None

    def in_netns(*args: str) -> str:
        proc = run_edgeface(*args, env=store, prefix=netns.exec_prefix(), timeout=120)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.strip()

    def push(label: str) -> str:
        # The same people and embeddings under another label: a new version only to see it served.
        return in_netns("model", "push", str(labelled(sample_model, label, tmp_path)), "--allow-same")

    moto = None
    moto_log = open(tmp_path / "moto.log", "wb")  # noqa: SIM115 - closed in finally
    try:
        podman("kube", "play", "--network", "none", "--tls-verify=false", str(kube_yaml))
        netns.attach(podman)
        # No S3 in the namespace yet: the app runs, is not ready, says why, and keeps polling.
        def unready_for_s3() -> str | None:
            status, body = netns.get(f"{base}/readyz")
            reason = json.loads(body)["reason"] if status == 503 else ""
            return reason if "S3" in reason else None   # before the first poll: "still loading"
        reason = wait_until(unready_for_s3, timeout=180, interval=0.5, what="the app to say it waits for S3")
        assert "cannot reach S3 at http://127.0.0.1:9000" in reason, reason
        time.sleep(3)   # a few polls (EDGEFACE_RELOAD_INTERVAL 2 s) fail before the store comes up
        moto = subprocess.Popen([*netns.exec_prefix(), require_tool("moto_server"), "-H", "127.0.0.1",
                                 "-p", str(STORE_PORT)], stdout=moto_log, stderr=subprocess.STDOUT)
        wait_until(lambda: netns.get(f"http://127.0.0.1:{STORE_PORT}/")[0] != 0, timeout=60, interval=0.5,
                   what="moto_server in the pod's namespace")
        bucket = subprocess.run([*netns.exec_prefix(), sys.executable, "-c", MAKE_BUCKET], capture_output=True,
                                text=True, env={**os.environ, **store}, timeout=60)
        assert bucket.returncode == 0, bucket.stderr

        v1 = push("store-v1")
        wait_until(lambda: serving() == v1, timeout=60, interval=0.2, what=f"the app to load {v1} from the store")
        before = webapp_state(podman)

        started = time.monotonic()
        v2 = push("store-v2")
        wait_until(lambda: serving() == v2, timeout=60, interval=0.2, what=f"the app to hot-reload {v2}")
        print(f"hot reload, push to the new version serving: {time.monotonic() - started:.1f} s")
        started = time.monotonic()
        assert in_netns("model", "promote", v1) == f"latest -> {v1}"
        wait_until(lambda: serving() == v1, timeout=60, interval=0.2, what=f"the app to roll back to {v1}")
        print(f"rollback, promote to the old version serving: {time.monotonic() - started:.1f} s")
        assert webapp_state(podman) == before, "the app restarted instead of reloading"
        model = json.loads(netns.get(f"{base}/api/v1/model", token)[1])
        assert model["reloads"]["ok"] == 3 and model["source"].endswith(v1), model

        bench = run_bench(netns, base, token, before[0], sample_model, media_dir, tmp_path)
        assert all(key in bench for key in BENCH_REQUIRED), set(BENCH_REQUIRED) - set(bench)
        assert bench["app_url"] == base and bench["settings"] is None
        assert bench["fps_per_camera"] > 0 and bench["rss_mb"] > 0 and bench["cpu_ms_per_frame"] > 0
        assert bench["app_processes"] >= 2 and "detect" in bench["stages"]   # its /proc and /metrics were read
        cameras = json.loads(netns.get(f"{base}/api/v1/cameras", token)[1])["cameras"]
        assert cameras == [], "the bench leaves the running app with the cameras it had"
    finally:
        stop(moto, moto_log)
        take_down(podman, kube_yaml)


def run_bench(netns, base: str, token: str, app_pid: str, model: Path, media_dir: Path, tmp_path: Path) -> dict:
    """`edgeface bench --app-url` in the pod's namespace: a short one (1 camera) in the suite, the full
    one (4 cameras, the defaults, then any options in EDGEFACE_BENCH_POD_ARGS) with
    EDGEFACE_BENCH_POD_OUT set; returns its JSON."""
    out = os.environ.get("EDGEFACE_BENCH_POD_OUT")
    logs = tmp_path / "bench"
    short = ["--cameras", "1", "--source", str(media_dir / "video" / "short_hamilton_clip.mp4"),
             "--reference-frames", "12", "--warmup", "3", "--duration", "5"]
    proc = run_edgeface("bench", "--app-url", base, "--app-pids", app_pid, "--model", str(model), "--json",
                        "--logs", str(logs),
                        *(["--cameras", "4", *shlex.split(os.environ.get("EDGEFACE_BENCH_POD_ARGS", ""))]
                          if out else short),
                        env={"EDGEFACE_API_TOKEN": token}, prefix=netns.exec_prefix(), timeout=900 if out else 300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    result = json.loads(proc.stdout)
    if out:
        Path(out).write_text(json.dumps(result, indent=1) + "\n")
    frames = [json.loads(line) for line in (logs / "frames.jsonl").read_text().splitlines()]
    assert frames and all(f["frame"] is not None for f in frames), "the pod's app forwarded the frame numbers"
    assert any(NAMED in f["drawn"] for f in frames), "the app in the pod named a face of the clip"
    return result


def test_bench_attaches_only_to_an_app_it_can_measure(monkeypatch, tmp_path):
    pid = str(os.getpid())
    monkeypatch.delenv("EDGEFACE_API_TOKEN", raising=False)
    with pytest.raises(ConfigError, match="EDGEFACE_API_TOKEN"):
        attach_to("http://127.0.0.1:8080", pid, {})
    monkeypatch.setenv("EDGEFACE_API_TOKEN", secrets.token_hex(8))
    for url, pids, app_env, says in [("http://10.0.0.5:8080", pid, {}, "ip netns exec"),
                                     ("http://127.0.0.1", pid, {}, "no valid port"),
                                     ("http://127.0.0.1:8080", "12,x", {}, "comma-separated"),
                                     ("http://127.0.0.1:8080", "", {}, "comma-separated"),
                                     ("http://127.0.0.1:8080", "999999999", {}, "no process 999999999"),
                                     ("http://127.0.0.1:8080", pid, {"EDGEFACE_LIVE_UPSAMPLE": "0"}, "ConfigMap"),
                                     (None, pid, {}, "--app-url")]:
        with pytest.raises(ConfigError, match=says):
            attach_to(url, pids, app_env)
    assert attach_to(None, None, {}) is None     # the bench starts its own app
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:   # a PID given beside its parent's is counted once
        system = LiveSystem(tmp_path / "model.data", tmp_path / "clip.mp4", 1, tmp_path,
                            attach=attach_to("http://localhost:8080", f"{child.pid},{pid}", {}))
        assert system.port == 8080 and system.app_pids == (child.pid, os.getpid())
        assert system.usage().processes == procstats.tree_usage(os.getpid()).processes
    finally:
        child.kill()
        child.wait()
