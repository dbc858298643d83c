"""Events over MQTT against a real mosquitto: topics, retained state, last will, outages, restarts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from helpers import REPO, free_port, wait_until
from mqtt_helpers import Broker

from edgeface.errors import ConfigError
from edgeface.events import RecognitionEvent
from edgeface.settings import UplinkSettings
from edgeface.uplink.mqtt import MqttPublisher, Topics


def sighting(name: str, track: int = 1, camera: str = "door", when: float | None = None) -> RecognitionEvent:
    return RecognitionEvent(camera=camera, name=name, distance=0.41 if name != "Unknown" else 0.72,
                            box=[10, 60, 60, 10], time=when if when is not None else time.time(), track=track,
                            model_version="v7")


@pytest.fixture
def publisher_factory():
    made: list[MqttPublisher] = []

    def make(url: str, **settings) -> MqttPublisher:
        pub = MqttPublisher(UplinkSettings(mqtt_url=url, site="lab", **settings)).start()
        made.append(pub)
        return pub
    yield make
    for pub in made:
        pub.close(timeout=2)


def retained(port: int, topic: str, recorder_factory) -> dict[str, bytes]:
    """What a consumer that connects now is told (retained messages only)."""
    rec = recorder_factory(port, topic)
    time.sleep(0.3)     # retained messages arrive right after the subscription
    return {t: p for t, p, was_retained in rec.all() if was_retained}


def test_event_lifecycle_topics_and_person_state(broker, recorder_factory, publisher_factory):
    rec = recorder_factory(broker.port)
    pub = publisher_factory(broker.url)
    topics = Topics("lab")
    pub.camera_availability("door", True)
    first = sighting("Unknown")
    pub.publish_event(first)
    second = sighting("Jane Doe", when=first.time + 1.5)
    pub.publish_event(second)
    rec.wait_events(2)
    # While the face is there, the state says so (state is current, not history: wait for it).
    jane_topic = topics.person("door", "Jane Doe")
    present = wait_until(lambda: rec.all(jane_topic), 10, "Jane's state")
    assert json.loads(present[-1][1])["state"] == "present" and json.loads(present[-1][1])["seen_at"] == second.time
    pub.end_track("door", 1, seen_at=first.time + 3)
    start, update, end = sorted(rec.wait_events(3), key=lambda e: e["seq"])

    assert [start["type"], update["type"], end["type"]] == ["start", "update", "end"]
    assert start["event_id"] == update["event_id"] == end["event_id"]
    assert len({start["message_id"], update["message_id"], end["message_id"]}) == 3
    assert (start["name"], update["name"]) == ("Unknown", "Jane Doe")
    assert start["seen_at"] == first.time and update["seen_at"] == second.time
    assert end["seen_at"] == first.time + 3 and end["reason"] == "track_lost"
    assert update["recognition_id"] == second.id and update["model_version"] == "v7"
    assert start["seen_at_iso"].startswith(time.strftime("%Y-%m-%dT", time.gmtime(first.time)))

    state = wait_until(lambda: (s := retained(broker.port, "edgeface/lab/#", recorder_factory))
                       and json.loads(s.get(topics.person("door", "Jane Doe"), b"{}")).get("state") == "absent"
                       and s, 10, "retained state")
    assert state[topics.availability] == b"online"
    assert state[topics.camera("door")] == b"online"
    assert json.loads(state[topics.person("door", "Unknown")])["state"] == "absent"
    jane = json.loads(state[jane_topic])
    assert jane["seen_at"] == first.time + 3 and jane["event_id"] == start["event_id"]


def test_forget_clears_a_persons_retained_state(broker, recorder_factory, publisher_factory):
    pub = publisher_factory(broker.url)
    topics = Topics("lab")
    for camera, track in (("door", 1), ("yard", 2)):
        pub.publish_event(sighting("Jane Doe", track=track, camera=camera))
    pub.publish_event(sighting("Ali", track=3))
    wait_until(lambda: len(retained(broker.port, "edgeface/lab/+/person/#", recorder_factory)) == 3, 10, "states")
    pub.forget("Jane Doe")
    left = wait_until(lambda: (s := retained(broker.port, "edgeface/lab/+/person/#", recorder_factory))
                      and len(s) == 1 and s, 10, "Jane's state cleared")
    assert list(left) == [topics.person("door", "Ali")]
    pub.close()                                  # shutdown ends the open events: Jane's state stays gone
    assert list(retained(broker.port, "edgeface/lab/+/person/#", recorder_factory)) == [topics.person("door", "Ali")]


def test_camera_offline_ends_its_events_and_shutdown_says_offline(broker, recorder_factory):
    rec = recorder_factory(broker.port)
    pub = MqttPublisher(UplinkSettings(mqtt_url=broker.url, site="lab")).start()
    pub.camera_availability("door", True)
    pub.camera_availability("yard", True)
    pub.publish_event(sighting("Jane Doe", camera="door"))
    pub.publish_event(sighting("Ali", camera="yard", track=4))
    rec.wait_events(2)
    pub.camera_availability("door", False)
    ends = [e for e in rec.wait_events(3) if e["type"] == "end"]
    assert [(e["camera"], e["reason"]) for e in ends] == [("door", "camera_offline")]
    pub.close()
    events = rec.wait_events(4)
    assert {(e["camera"], e["reason"]) for e in events if e["type"] == "end"} == {
        ("door", "camera_offline"), ("yard", "shutdown")}
    topics = Topics("lab")
    wait_until(lambda: rec.all(topics.availability) and rec.all(topics.availability)[-1][1] == b"offline",
               10, "app offline")
    assert rec.all(topics.camera("yard"))[-1][1] == b"offline"


def test_last_will_marks_the_site_offline_when_the_app_dies(broker, recorder_factory, tmp_path):
    script = ("import sys, time\nfrom edgeface.uplink.mqtt import MqttPublisher\n"
              "from edgeface.settings import UplinkSettings\n"
              "p = MqttPublisher(UplinkSettings(mqtt_url=sys.argv[1], site='lab')).start()\n"
              "p.camera_availability('door', True)\ntime.sleep(600)\n")
    rec = recorder_factory(broker.port)
    topics = Topics("lab")
    proc = subprocess.Popen([sys.executable, "-c", script, broker.url], cwd=REPO, env=os.environ.copy())
    try:
        wait_until(lambda: rec.all(topics.camera("door")), 20, "the app online")
        assert rec.all(topics.availability)[-1][1] == b"online"
        proc.send_signal(signal.SIGKILL)      # no goodbye: only the broker's last will can tell
        wait_until(lambda: rec.all(topics.availability)[-1][1] == b"offline", 10, "the last will")
    finally:
        proc.kill()
        proc.wait(5)
    assert retained(broker.port, topics.availability, recorder_factory)[topics.availability] == b"offline"


def test_broker_outage_loses_nothing_and_replays_no_old_sighting_as_new(tmp_path, recorder_factory,
                                                                       publisher_factory):
    broker = Broker(tmp_path / "broker").start()
    try:
        rec = recorder_factory(broker.port, clean=False)    # its session outlives the broker restart
        pub = publisher_factory(broker.url, mqtt_queue_dir=str(tmp_path / "queue"))
        topics = Topics("lab")
        pub.publish_event(sighting("Jane Doe", track=1))
        rec.wait_events(1)
        broker.stop()
        wait_until(lambda: not pub.connected, 10, "the publisher to notice")
        down_at = time.time()
        for track in range(2, 12):                     # ten people pass while the broker is away
            pub.publish_event(sighting("Unknown", track=track))
        pub.end_track("door", 1)                       # Jane leaves while it is away
        wait_until(lambda: len(pub.queue) == 11, 10, "events queued")
        assert len(os.listdir(tmp_path / "queue")) == 11     # on disk, not only in memory
        broker.start()
        up_at = time.time()
        events = rec.wait_events(12, timeout=30)
    finally:
        broker.stop()
    queued = [e for e in events if e["sent_at"] >= up_at]
    assert len(queued) == 11 and all(e["seen_at"] < up_at for e in queued)     # each keeps when it was seen
    assert sorted(e["track"] for e in queued if e["seen_at"] >= down_at) == list(range(2, 12))
    assert pub.status()["dropped"] == 0
    # After the reconnect the app sent Jane's current state (absent), never "present" again. (The
    # broker itself hands a re-subscribing consumer its stored state, flagged retained, with the old seen_at.)
    live = [json.loads(p) for _, p, retain in rec.all(topics.person("door", "Jane Doe")) if not retain]
    assert [body["state"] for body in live] == ["present", "absent"]


def test_restart_delivers_the_disk_queue_with_original_ids(tmp_path, broker, recorder_factory):
    queue_dir = tmp_path / "queue"
    nowhere = f"mqtt://127.0.0.1:{free_port()}"
    offline = MqttPublisher(UplinkSettings(mqtt_url=nowhere, site="lab", mqtt_queue_dir=str(queue_dir))).start()
    sightings = [sighting("Unknown", track=t) for t in range(5)]
    for s in sightings:
        offline.publish_event(s)
    wait_until(lambda: len(offline.queue) == 5, 10, "events queued")
    offline.close(timeout=1)        # the app restarts before the broker came back
    rec = recorder_factory(broker.port)
    again = MqttPublisher(UplinkSettings(mqtt_url=broker.url, site="lab", mqtt_queue_dir=str(queue_dir))).start()
    try:
        events = rec.wait_events(10)     # 5 starts + the 5 ends written at shutdown
        wait_until(lambda: len(again.queue) == 0, 10, "the queue drained")
    finally:
        again.close()
    starts = {e["recognition_id"]: e for e in events if e["type"] == "start"}
    assert set(starts) == {s.id for s in sightings}
    assert all(starts[s.id]["seen_at"] == s.time for s in sightings)
    assert {e["reason"] for e in events if e["type"] == "end"} == {"shutdown"}


def test_bounded_queue_drops_the_oldest_and_counts_them(tmp_path):
    nowhere = f"mqtt://127.0.0.1:{free_port()}"
    pub = MqttPublisher(UplinkSettings(mqtt_url=nowhere, site="lab", mqtt_queue_max=5)).start()
    try:
        sightings = [sighting("Unknown", track=t) for t in range(8)]
        for s in sightings:
            pub.publish_event(s)
        wait_until(lambda: pub.queue.dropped == 3, 10, "three dropped")
        kept = [json.loads(pub.queue.read(stem) or b"{}")["recognition_id"] for stem in pub.queue.stems()]
        assert kept == [s.id for s in sightings[3:]]
        assert pub.status()["dropped"] == 3 and not pub.connected
    finally:
        pub.close(timeout=0.5)


def test_settings_errors_name_the_variable_but_never_the_password():
    with pytest.raises(ConfigError) as err:
        UplinkSettings.from_env({"EDGEFACE_MQTT_URL": "http://user:hunter2@broker:1883"})
    assert "EDGEFACE_MQTT_URL" in str(err.value) and "hunter2" not in str(err.value)
    with pytest.raises(ConfigError, match="EDGEFACE_SITE"):
        UplinkSettings.from_env({"EDGEFACE_SITE": "a/b"})
    good = UplinkSettings.from_env({"EDGEFACE_MQTT_URL": "mqtt://u:hunter2@broker", "EDGEFACE_SITE": "store-12",
                                    "EDGEFACE_MQTT_QUEUE_MAX": "50"})
    assert (good.site, good.mqtt_queue_max, good.broker_label()) == ("store-12", 50, "broker:1883")
    assert "hunter2" not in repr(good) and good.url == "mqtt://u:hunter2@broker"


def test_shutdown_delivers_every_retained_state_even_behind_a_full_window(broker, recorder_factory):
    """At close the goodbyes (an 'end' per open event, 'offline' per camera, the stats) exceed paho's
    in-flight window: the publisher waits for each retained state's acknowledgement before it
    disconnects (it used to hand the last ones to paho and disconnect, and the stats were lost)."""
    stats = {"v7": {"named": 3}}
    pub = MqttPublisher(UplinkSettings(mqtt_url=broker.url, site="lab", stats_interval_s=3600),
                        stats=lambda: stats).start()
    cameras = [f"cam{i}" for i in range(40)]
    for camera in cameras:
        pub.camera_availability(camera, True)
        for track in range(3):
            pub.publish_event(sighting(f"Person {track}", track=track, camera=camera))
    rec = recorder_factory(broker.port, "edgeface/+/events")
    rec.wait_events(len(cameras) * 3, timeout=60)
    stats["v7"] = {"named": 120}        # counted since the last periodic message: only close sends it
    pub.close()
    topics = Topics("lab")
    state = retained(broker.port, "edgeface/#", recorder_factory)
    assert json.loads(state[topics.model_stats("v7")]) == {"named": 120}
    assert all(state[topics.camera(c)] == b"offline" for c in cameras)
    assert state[topics.availability] == b"offline"
