"""Edge -> core over a mosquitto bridge, with the configurations the manifests ship (TLS, passwords,
persistent session), two real brokers on loopback: events sent while the link is down all arrive."""

from __future__ import annotations

import time

from helpers import wait_until

from edgeface.events import RecognitionEvent
from edgeface.settings import UplinkSettings
from edgeface.uplink.mqtt import MqttPublisher


def unknown(track: int) -> RecognitionEvent:
    return RecognitionEvent(camera="door", name="Unknown", distance=0.7, box=[0, 50, 50, 0], time=time.time(),
                            track=track, model_version="v1")


def test_events_sent_while_the_core_is_away_all_arrive(link, recorder_factory):
    core, edge = link["core"], link["edge"]
    # A durable consumer at the core: its session (and what is queued for it) outlives a core restart.
    consumer = recorder_factory(core.port, "edgeface/+/events", clean=False, auth=link["consumer"])
    bridge_state = recorder_factory(core.port, "edgeface/lab/bridge", auth=link["consumer"])
    wait_until(lambda: any(p == b"1" for _, p, _ in bridge_state.all()), 30,
               f"the bridge to connect over TLS\n{edge.log()[-2000:]}")
    pub = MqttPublisher(UplinkSettings(mqtt_url=edge.url, site="lab")).start()
    try:
        for track in range(20):
            pub.publish_event(unknown(track))
        consumer.wait_events(20)
        core.stop()                                      # the link is down ...
        down_at = time.time()
        for track in range(20, 60):
            pub.publish_event(unknown(track))            # ... 40 more events reach the edge only
        wait_until(lambda: pub.status()["sent"] == 60, 30, "the edge broker to take all events")
        core.start()
        up_at = time.time()
        events = consumer.wait_events(60, timeout=120)   # the bridge backs off up to its restart_timeout
        arrived_at = time.time()
    finally:
        pub.close()
    received = [e for e in consumer.events() if e["type"] == "start"]    # close() adds 60 "end"s
    assert {e["track"] for e in events} == set(range(60))          # none lost
    assert len({e["message_id"] for e in received}) == 60           # duplicates (if any) share an id
    late = [e for e in events if e["seen_at"] >= down_at]
    assert len(late) == 40 and all(e["seen_at"] < up_at for e in late)
    print(f"bridge catch-up: 40 queued events at the core {arrived_at - up_at:.1f} s after it returned; "
          f"{len(received) - 60} duplicates")


def test_the_edge_broker_keeps_its_queue_for_the_core_across_its_own_restart(link, recorder_factory):
    core, edge = link["core"], link["edge"]
    consumer = recorder_factory(core.port, "edgeface/+/events", clean=False, auth=link["consumer"])
    pub = MqttPublisher(UplinkSettings(mqtt_url=edge.url, site="lab")).start()
    try:
        pub.publish_event(unknown(0))
        consumer.wait_events(1)
        core.stop()
        for track in range(1, 31):
            pub.publish_event(unknown(track))
        wait_until(lambda: pub.status()["sent"] == 31, 30, "the edge broker to take all events")
        edge.stop()                     # the edge pod restarts while the link is down (SIGTERM: store saved)
        edge.start()
        core.start()
        events = consumer.wait_events(31, timeout=120)
    finally:
        pub.close(timeout=2)
    assert {e["track"] for e in events} == set(range(31))
