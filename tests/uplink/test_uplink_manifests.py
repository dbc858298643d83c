"""The uplink manifests render with kustomize, their core kinds validate strictly, and the edge
component wires the web app to its broker."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml
from helpers import REPO, require_tool

MANIFESTS = REPO / "manifests"
CORE_KINDS = {"v1", "apps/v1", "networking.k8s.io/v1"}


def render(path: Path) -> list[dict]:
    proc = subprocess.run([require_tool("kubectl"), "kustomize", str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return [d for d in yaml.safe_load_all(proc.stdout) if d]


def validate(docs: list[dict], tmp_path: Path) -> None:
    exe = require_tool("kubernetes-validate")
    path = tmp_path / "rendered.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    proc = subprocess.run([exe, "--strict", "-k", "1.28.0", str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("passed for resource") == len(docs), proc.stdout


@pytest.fixture
def edge_site(tmp_path) -> list[dict]:
    """The base with the mqtt-edge component, as an overlay would add it."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "kustomization.yaml").write_text(yaml.safe_dump({
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
        "resources": [os.path.relpath(MANIFESTS / "base", site)],       # kustomize refuses absolute paths
        "components": [os.path.relpath(MANIFESTS / "components" / "mqtt-edge", site)]}))
    return render(site)


def test_edge_component_adds_the_broker_and_points_the_app_at_it(edge_site, tmp_path):
    validate([d for d in edge_site if d["apiVersion"] in CORE_KINDS and d["kind"] != "Namespace"], tmp_path)
    by_name = {(d["kind"], d["metadata"]["name"]): d for d in edge_site}
    app = by_name[("Deployment", "edgeface")]["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in app["env"]}
    service = by_name[("Service", "edgeface-mqtt")]
    assert env["EDGEFACE_MQTT_URL"] == f"mqtt://{service['metadata']['name']}:{service['spec']['ports'][0]['port']}"
    assert env["EDGEFACE_SITE"]
    app_mounts = [m["mountPath"] for m in app["volumeMounts"]]
    app_volumes = {v["name"]: v for v in by_name[("Deployment", "edgeface")]["spec"]["template"]["spec"]["volumes"]}
    queue_mount = next(m for m in app["volumeMounts"] if env["EDGEFACE_MQTT_QUEUE_DIR"].startswith(m["mountPath"]))
    assert "persistentVolumeClaim" in app_volumes[queue_mount["name"]], app_mounts      # survives a restart
    broker = by_name[("Deployment", "edgeface-mqtt")]["spec"]["template"]["spec"]
    mounts = {m["mountPath"] for m in broker["containers"][0]["volumeMounts"]}
    conf = by_name[("ConfigMap", "edgeface-mqtt-config")]["data"]["mosquitto.conf"]
    assert "persistence_location /mosquitto/data/" in conf and "/mosquitto/data" in mounts
    assert "include_dir /mosquitto/bridge" in conf and "/mosquitto/bridge" in mounts
    policy = by_name[("NetworkPolicy", "edgeface-mqtt")]["spec"]
    assert policy["ingress"][0]["from"][0]["podSelector"]["matchLabels"] == {"app": "edgeface"}


def test_core_broker_and_kafka_connect_render(tmp_path):
    core = render(MANIFESTS / "core")
    validate([d for d in core if d["apiVersion"] in CORE_KINDS], tmp_path)
    assert {d["metadata"].get("namespace") for d in core if d["kind"] != "Namespace"} == {"edgeface-core"}
    conf = next(d for d in core if d["kind"] == "ConfigMap")["data"]["mosquitto.conf"]
    assert "allow_anonymous false" in conf and "password_file" in conf and "certfile" in conf
    route = next(d for d in core if d["kind"] == "Route")
    assert route["spec"]["tls"]["termination"] == "passthrough"
    kafka = {d["kind"]: d for d in render(MANIFESTS / "core" / "kafka")}
    assert set(kafka) == {"KafkaTopic", "KafkaConnect", "KafkaConnector"}
    connector = kafka["KafkaConnector"]
    assert connector["metadata"]["labels"]["strimzi.io/cluster"] == kafka["KafkaConnect"]["metadata"]["name"]
    assert connector["spec"]["config"]["topics"] == kafka["KafkaTopic"]["metadata"]["name"]
    assert connector["spec"]["config"]["camel.kamelet.mqtt5-source.topic"] == "edgeface/+/events"
