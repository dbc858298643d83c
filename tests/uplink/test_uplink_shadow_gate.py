"""The fleet's gate on shadow evaluation: the canary sites' retained stats messages (as the edge
publishes them, on a real mosquitto) decide whether the Tekton check-shadow Task (its own step
script, through the local runner) lets a version move on. A candidate that changed a name, or
that a canary site compared on too few faces, is refused; one that only newly names is let through."""

from __future__ import annotations

import json

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edgeface.tools.deploy.local_runner import LocalRunner, PipelineFailed, host_env
from edgeface.tools.deploy.tekton import load_definition
from edgeface.uplink.accuracy import accuracy_table, shadow_verdict
from edgeface.uplink.mqtt import Topics
from edgeface.uplink.stats import ModelStats

SERVING, SWAPPED, ADDED = "20261201T120000Z", "20261202T120000Z", "20261203T120000Z"


def site_stats(site: str, results: dict[str, dict[str, int]]) -> dict[str, dict]:
    """What a site's publisher sends: ``results`` {candidate: {shadow result: faces}}."""
    stats = ModelStats(tolerance=0.6)
    for candidate, counts in results.items():
        for result, n in counts.items():
            for _ in range(n):
                stats.record_shadow("door", SERVING, candidate, result)
    return stats.messages(site)


def publish_retained(port: int, messages: dict[str, dict[str, dict]]) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.connect("127.0.0.1", port)
    client.loop_start()
    for site, per_version in messages.items():
        for version, body in per_version.items():
            client.publish(Topics(site).model_stats(version), json.dumps(body), qos=1, retain=True).wait_for_publish(10)
    client.loop_stop()
    client.disconnect()


def gate(tmp_path, url: str, version: str, sites: str, min_compared: int = 50) -> list[str]:
    definition, logs = load_definition(), []
    runner = LocalRunner(definition, tmp_path / "runs", host_env(), {"edgeface-core-mqtt": {"url": url}},
                         on_event=lambda kind, **info: logs.append(info.get("line") or info.get("message") or ""))
    runner.run_task(f"check-{version}", definition.task("edgeface-check-shadow"),
                    {"MODEL_VERSION": version, "CANARY_SITES": sites, "MIN_COMPARED": str(min_compared)}, {})
    return logs


@pytest.mark.slow
def test_a_candidate_that_changed_a_name_at_a_canary_site_is_refused(broker, tmp_path):
    publish_retained(broker.port, {
        "store-001": site_stats("store-001", {SWAPPED: {"same": 300, "changed_name": 2},
                                              ADDED: {"same": 280, "newly_named": 12}}),
        "store-002": site_stats("store-002", {SWAPPED: {"same": 90}, ADDED: {"same": 30, "newly_named": 4}}),
    })
    with pytest.raises(PipelineFailed) as refused:
        gate(tmp_path / "swapped", broker.url, SWAPPED, "store-001 store-002")
    assert "store-001: 2 of 302 faces named as someone else" in str(refused.value)
    assert (refused.value.task, refused.value.step) == (f"check-{SWAPPED}", "gate")
    with pytest.raises(PipelineFailed, match="store-002 compared 34 faces, fewer than 50"):
        gate(tmp_path / "few", broker.url, ADDED, "store-001 store-002")
    with pytest.raises(PipelineFailed, match="store-003 has not evaluated"):
        gate(tmp_path / "absent", broker.url, ADDED, "store-001 store-003")
    logs = gate(tmp_path / "added", broker.url, ADDED, "store-001")
    assert any("no changed name" in line for line in logs), logs
    assert any("no shadow check" in line for line in gate(tmp_path / "off", broker.url, SWAPPED, ""))


def test_the_review_table_shows_the_candidates_comparison():
    stats = {"store-001": site_stats("store-001", {SWAPPED: {"same": 10, "changed_name": 1}}),
             "store-002": site_stats("store-002", {SWAPPED: {"same": 5, "newly_unknown": 2}})}
    (row,) = accuracy_table({}, stats)
    assert row["version"] == SWAPPED and row["shadow"]["compared"] == 18
    assert row["shadow"]["changed_name"] == 1 and row["shadow"]["newly_unknown"] == 2
    assert shadow_verdict(stats, SWAPPED, ["store-002"], 5) == []
    assert shadow_verdict(stats, SWAPPED, ["store-001"], 5) != []
