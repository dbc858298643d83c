"""Real MQTT brokers (mosquitto on loopback ports) and a recording subscriber for the uplink tests."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import threading
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
import yaml
from helpers import REPO, free_port, require_tool, wait_for_port, wait_until
from paho.mqtt.enums import CallbackAPIVersion

# Started as root, mosquitto would switch to user "mosquitto", who cannot read pytest's tmp dirs.
AS_ROOT = "user root\n" if os.geteuid() == 0 else ""


class Broker:
    """A mosquitto process that can be stopped and started again on the same port and store."""

    def __init__(self, workdir: Path, port: int | None = None, config: str = ""):
        self.exe = require_tool("mosquitto")
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.conf = workdir / "mosquitto.conf"
        self.conf.write_text(config or self.default_config())
        self.proc: subprocess.Popen | None = None

    def default_config(self) -> str:
        return (f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
                f"persistence_location {self.workdir}/\nautosave_interval 1\n{AS_ROOT}")

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> Broker:
        log = open(self.workdir / "mosquitto.log", "ab")   # noqa: SIM115 - lives as long as the process
        self.proc = subprocess.Popen([self.exe, "-c", str(self.conf)], stdout=log, stderr=subprocess.STDOUT)
        log.close()
        wait_for_port(self.port, timeout=15, proc=self.proc)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()      # SIGTERM: mosquitto saves its persistent store first
            self.proc.wait(10)
        self.proc = None

    def log(self) -> str:
        path = self.workdir / "mosquitto.log"
        return path.read_text(errors="replace") if path.exists() else ""


class Recorder:
    """A subscriber that keeps every message; reconnects by itself (persistent session, QoS 1)."""

    def __init__(self, port: int, topic: str = "edgeface/#", clean: bool = True,
                 auth: tuple[str, str] | None = None):
        self.messages: list[tuple[str, bytes, bool]] = []      # (topic, payload, retained)
        self._lock = threading.Lock()
        self.topic = topic
        self.subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"rec-{uuid.uuid4().hex[:8]}",
                                  clean_session=clean)
        self.client.reconnect_delay_set(0.2, 1)
        if auth:
            self.client.username_pw_set(*auth)
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(self.topic, qos=1)
        self.client.on_subscribe = lambda *a: self.subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port, keepalive=10)
        self.client.loop_start()
        assert self.subscribed.wait(10), "the recorder could not subscribe"

    def _on_message(self, client, userdata, msg) -> None:
        with self._lock:
            self.messages.append((msg.topic, msg.payload, bool(msg.retain)))

    def all(self, topic: str | None = None) -> list[tuple[str, bytes, bool]]:
        with self._lock:
            return [m for m in self.messages if topic is None or m[0] == topic]

    def events(self) -> list[dict]:
        return [json.loads(p) for t, p, _ in self.all() if t.endswith("/events")]

    def wait_events(self, count: int, timeout: float = 30) -> list[dict]:
        """Wait until ``count`` distinct messages (by message_id) arrived; return them de-duplicated."""
        def distinct():
            seen = {e["message_id"]: e for e in self.events()}
            return list(seen.values()) if len(seen) >= count else None
        return wait_until(distinct, timeout, f"{count} distinct events")

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def broker(tmp_path):
    b = Broker(tmp_path / "broker").start()
    yield b
    b.stop()


@pytest.fixture
def recorder_factory():
    made: list[Recorder] = []

    def make(port: int, topic: str = "edgeface/#", clean: bool = True,
             auth: tuple[str, str] | None = None) -> Recorder:
        rec = Recorder(port, topic, clean, auth)
        made.append(rec)
        return rec
    yield make
    for rec in made:
        rec.close()


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


class TcpProxy:
    """127.0.0.1:port → target, that can be cut and restored on the same port: an outage of what
    it fronts (connections refused, open ones reset) without losing that server's state. moto_server
    keeps its buckets in memory only, so restarting it would be a new, empty S3, not an outage."""

    def __init__(self, target_port: int, port: int | None = None):
        self.target_port = target_port
        self.port = port or free_port()
        self._listener: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> TcpProxy:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def stop(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            conns, self._conns = self._conns, []
        for sock in ([listener] if listener else []) + conns:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return                      # stopped
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._listener is not listener:
                    client.close()
                    upstream.close()
                    return
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
