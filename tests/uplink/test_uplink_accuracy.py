"""Accuracy per model version: each pushed version's manifest carries its evaluation, the edge
counts what each version did (``/metrics`` and a retained MQTT stats message on a real broker),
and ``edgeface review --accuracy`` puts both side by side per version."""

from __future__ import annotations

import json
import time

import numpy as np
from helpers import run_cli, wait_until
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.registry import Collector

from edgeface.events import RecognitionEvent
from edgeface.modelfile import FaceModel
from edgeface.settings import UplinkSettings
from edgeface.store import open_store
from edgeface.uplink.metrics import uplink_metrics
from edgeface.uplink.mqtt import Topics
from edgeface.uplink.service import Uplink

TOLERANCE = 0.6


def _without(model: FaceModel, name: str) -> FaceModel:
    """The same enrolment minus one person (their embeddings and name)."""
    gone = model.names.index(name)
    keep = model.labels != gone
    labels = model.labels[keep]
    return FaceModel(model.embeddings[keep], np.where(labels > gone, labels - 1, labels),
                     [n for n in model.names if n != name], dict(model.metadata))


def test_each_pushed_version_carries_its_evaluation(sample_model, tmp_path):
    full = FaceModel.load(sample_model)
    smaller = _without(full, "Kit Harington").save(tmp_path / "smaller.data")
    store = open_store(str(tmp_path / "store"))
    old, new = store.push(smaller), store.push(sample_model)
    for version, model in ((old, FaceModel.load(smaller)), (new, full)):
        evaluation = store.manifest(version)["evaluation"]
        assert evaluation["images"] == len(model.labels) and evaluation["identities"] == len(model.names)
        assert 0.0 <= evaluation["leave_one_out_accuracy"] <= 1.0
        # The margins are the pair distances' extremes against the tolerance.
        emb, lab = model.embeddings, model.labels
        dist = np.linalg.norm(emb[:, None] - emb[None], axis=-1)
        upper = np.triu(np.ones_like(dist, dtype=bool), 1)
        same = dist[upper & (lab[:, None] == lab[None])]
        different = dist[upper & (lab[:, None] != lab[None])]
        assert abs(evaluation["same_margin"] - (TOLERANCE - same.max())) < 1e-3
        assert abs(evaluation["different_margin"] - (different.min() - TOLERANCE)) < 1e-3
    assert store.manifest(old)["evaluation"]["images"] < store.manifest(new)["evaluation"]["images"]


def _event(name: str, distance: float, version: str) -> RecognitionEvent:
    return RecognitionEvent(camera="door", name=name, distance=distance, box=[10, 60, 60, 10], time=time.time(),
                            track=int(time.monotonic_ns() % 100000), model_version=version)


class _Only(Collector):
    def __init__(self, uplink: Uplink):
        self.uplink = uplink

    def collect(self):
        return uplink_metrics(self.uplink.stats.counts(), self.uplink.status())


def test_the_edge_counts_per_version_and_review_plots_them(broker, recorder_factory, sample_model, tmp_path):
    store = open_store(str(tmp_path / "store"))
    v1, v2 = store.push(sample_model), store.push(sample_model)
    rec = recorder_factory(broker.port, "edgeface/+/model/+/stats")
    uplink = Uplink(UplinkSettings(mqtt_url=broker.url, site="lab", stats_interval_s=0.2), tolerance=TOLERANCE).start()
    seen = {v1: [("Unknown", 0.8), ("Unknown", 0.62), ("Jane", 0.3)],                 # 1 near
            v2: [("Jane", 0.3), ("Jane", 0.58), ("Jane", 0.4), ("Unknown", 0.9), ("Joe", 0.2)]}
    expected = {v1: {"named": 1, "unknown": 1, "near_threshold": 1},
                v2: {"named": 3, "unknown": 1, "near_threshold": 1}}
    try:
        for version, faces in seen.items():
            for name, distance in faces:
                uplink.on_event(_event(name, distance, version))
        # /metrics: the per-version counters and the MQTT figures.
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Only(uplink))
        wait_until(lambda: uplink.status()["mqtt"]["connected"], 10, "the publisher connected")
        text = generate_latest(registry).decode()
        for version, counts in expected.items():
            for result, count in counts.items():
                assert f'edgeface_faces_total{{model_version="{version}",result="{result}"}} {count}.0' in text
        assert "edgeface_mqtt_connected 1.0" in text
        # MQTT: one retained stats message per version, sent while running (every 0.2 s here).
        topics = Topics("lab")
        def latest(version: str) -> dict | None:
            """The newest stats message of ``version``, once it counts every face (one sent while the
            faces were still being recorded may have come first)."""
            messages = rec.all(topics.model_stats(version))
            body = json.loads(messages[-1][1]) if messages else None
            return body if body and body["faces"] == sum(expected[version].values()) else None

        for version, counts in expected.items():
            body = wait_until(lambda v=version: latest(v), 10, f"stats of {version}")
            assert {k: body[k] for k in counts} == counts
            assert body["tolerance"] == TOLERANCE and body["site"] == "lab"
    finally:
        uplink.close()
    # The core: manifests and the broker's retained stats, per version.
    out = tmp_path / "review"
    proc = run_cli("review", "--out", str(out), "--accuracy", "--store", str(tmp_path / "store"),
                   "--mqtt", broker.url)
    assert v1 in proc.stdout and v2 in proc.stdout
    rows = {r["version"]: r for r in json.loads((out / "accuracy.json").read_text())}
    assert set(rows) == {v1, v2}
    for version, counts in expected.items():
        assert {k: rows[version][k] for k in counts} == counts and rows[version]["sites"] == ["lab"]
        assert rows[version]["evaluation"] == store.manifest(version)["evaluation"]
    assert (out / "accuracy.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (out / "shadow.png").exists()        # no version was a candidate: nothing to plot


def test_accuracy_with_an_unreachable_broker_says_what_to_check(sample_model, tmp_path):
    open_store(str(tmp_path / "store")).push(sample_model)
    proc = run_cli("review", "--out", str(tmp_path / "r"), "--accuracy", "--store", str(tmp_path / "store"),
                   "--mqtt", "mqtt://user:hunter2@127.0.0.1:1", check=False)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "127.0.0.1:1" in proc.stderr and "hunter2" not in proc.stderr + proc.stdout


def test_collect_stats_reads_every_retained_message_and_stops_at_their_end(broker):
    """The end of the retained messages is the broker's answer to a second subscription, not a quiet
    period (which returned nothing when the machine was busy): 400 messages from 20 sites all come
    back, each time (a marker that overtook them would lose some; one never answered, an error)."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from edgeface.uplink.accuracy import collect_stats

    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    sent = {f"site{s}": {f"v{v}": {"site": f"site{s}", "model_version": f"v{v}", "named": s * v}
                         for v in range(20)} for s in range(20)}
    infos = [client.publish(Topics(site).model_stats(version), json.dumps(body), qos=1, retain=True)
             for site, versions in sent.items() for version, body in versions.items()]
    for info in infos:
        info.wait_for_publish(10)
    client.loop_stop()
    client.disconnect()
    for _ in range(5):
        assert collect_stats(broker.url, wait_s=30) == sent
