"""Fixtures of the uplink tests: real MQTT brokers (``mqtt_helpers``), the core and edge brokers bridged."""

from __future__ import annotations

import re
import socket
import subprocess
import threading
import uuid
from pathlib import Path

import pytest
import yaml
from helpers import REPO, free_port, require_tool
from mqtt_helpers import AS_ROOT, Broker, Recorder

__all__ = ["Broker", "Recorder"]     # the uplink tests import them from here too


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
