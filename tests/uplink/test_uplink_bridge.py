"""Edge -> core over a mosquitto bridge, with the configurations the manifests ship (TLS, passwords,
persistent session), two real brokers on loopback: events sent while the link is down all arrive."""

from __future__ import annotations

import re
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import yaml
from conftest import AS_ROOT, Broker
from helpers import REPO, free_port, require_tool, wait_until

from edgeface.live.events import RecognitionEvent
from edgeface.uplink.mqtt import MqttPublisher
from edgeface.uplink.settings import UplinkSettings

MANIFESTS = REPO / "manifests"


def shipped(path: str, key: str, section: str = "data") -> str:
    """A file from a ConfigMap or Secret (template) in manifests/."""
    return yaml.safe_load((MANIFESTS / path).read_text())[section][key]


def make_tls(folder: Path) -> None:
    """A CA and a broker certificate for 127.0.0.1, as the core's service CA would issue."""
    openssl = require_tool("openssl")
    folder.mkdir()
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run = lambda *args: subprocess.run([openssl, *args], check=True, capture_output=True, cwd=folder)
    run("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "1", "-subj", "/CN=edgeface test CA")
    run("req", *ec, "-keyout", "tls.key", "-out", "tls.csr", "-subj", "/CN=127.0.0.1")
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    run("x509", "-req", "-in", "tls.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "1",
        "-out", "tls.crt", "-extfile", "san.ext")


def listener(conf: str, container_port: int, port: int) -> str:
    """The pod's listener on all addresses becomes a loopback port here."""
    out, n = re.subn(rf"^listener {container_port} 0\.0\.0\.0$", f"listener {port} 127.0.0.1", conf, flags=re.M)
    assert n == 1, f"no 'listener {container_port} 0.0.0.0' in the shipped configuration"
    return out


@pytest.fixture
def link(tmp_path):
    """The core broker (TLS + passwords) and the edge broker bridged to it, from the manifests."""
    passwd_tool = require_tool("mosquitto_passwd")
    make_tls(tmp_path / "tls")
    passwords = {"lab": uuid.uuid4().hex, "consumer": uuid.uuid4().hex}
    auth = tmp_path / "auth"
    auth.mkdir()
    for user, password in passwords.items():
        subprocess.run([passwd_tool, *([] if (auth / "passwd").exists() else ["-c"]), "-b", str(auth / "passwd"),
                        user, password], check=True, capture_output=True)

    core_tls, core_plain = free_port(), free_port()
    conf = shipped("core/mqtt/configmap.yaml", "mosquitto.conf")
    conf = listener(listener(conf, 8883, core_tls), 1883, core_plain)
    conf = (conf.replace("/mosquitto/tls/", f"{tmp_path}/tls/").replace("/mosquitto/auth/", f"{auth}/")
            .replace("/mosquitto/data/", f"{tmp_path}/core/") + AS_ROOT)
    core = Broker(tmp_path / "core", core_plain, conf)

    bridge_dir = tmp_path / "bridge"
    bridge_dir.mkdir()
    (bridge_dir / "ca.crt").write_bytes((tmp_path / "tls" / "ca.crt").read_bytes())
    bridge = shipped("components/mqtt-edge/bridge.template.yaml", "bridge.conf", "stringData")
    bridge = (bridge.replace("CORE_HOST:443", f"127.0.0.1:{core_tls}").replace("EDGE_PASSWORD", passwords["lab"])
              .replace("SITE", "lab").replace("/mosquitto/bridge/", f"{bridge_dir}/"))
    (bridge_dir / "bridge.conf").write_text(bridge)
    edge_port = free_port()
    conf = listener(shipped("components/mqtt-edge/configmap.yaml", "mosquitto.conf"), 1883, edge_port)
    conf = (conf.replace("/mosquitto/data/", f"{tmp_path}/edge/").replace("include_dir /mosquitto/bridge",
                                                                         f"include_dir {bridge_dir}") + AS_ROOT)
    edge = Broker(tmp_path / "edge", edge_port, conf)
    core.start()
    edge.start()
    try:
        yield {"core": core, "edge": edge, "consumer": ("consumer", passwords["consumer"])}
    finally:
        edge.stop()
        core.stop()


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
