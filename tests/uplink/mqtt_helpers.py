"""Real MQTT brokers (mosquitto on loopback ports) and a recording subscriber: a module of its own,
not conftest.py, so that tests in other folders (the console's alerts) use them too."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
from helpers import free_port, require_tool, wait_for_port, wait_until
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
