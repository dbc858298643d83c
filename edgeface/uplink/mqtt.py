"""Recognition events over MQTT, at-least-once, without ever passing an old sighting off as new.

Topics (``docs/uplink.md``), all QoS 1:

- ``edgeface/<site>/events``: ``start`` / ``update`` / ``end`` of each tracked face's event, JSON;
- ``edgeface/<site>/availability``: ``online``/``offline``, retained; ``offline`` is the last will;
- ``edgeface/<site>/<camera>/availability``: ``online``/``offline``, retained;
- ``edgeface/<site>/<camera>/person/<name>``: ``present``/``absent`` with when seen, retained;
- ``edgeface/<site>/model/<version>/stats``: faces named, Unknown, near the threshold, retained;
- ``edgeface/<site>/audit``: each audit trail row (``edgeface.history.audit``), spooled like events;
- ``edgeface/<site>/alerts``: each alert of the alert watchlist (``edgeface.live.alerts``), spooled
  like events (``message_id`` ``alert-<recognition>-<rule>``).

Every message carries ``event_id`` (one per tracked face's event), ``seq``, ``message_id``
(``<event_id>-<seq>``: the de-duplication key) and ``seen_at`` (epoch seconds, with an ISO copy):
the time the camera saw it, not the time it was sent.

The callers (camera pipelines) only put work on an in-memory queue; one thread here owns the
connection. Events go through a bounded :class:`~edgeface.uplink.spool.Spool` (on disk when
``mqtt_queue_dir`` is set) and leave it only once the broker acknowledged them, so a broker
outage or an app restart loses none (a message may arrive twice: de-duplicate by ``message_id``).
Retained state is never queued: after a reconnect the *current* state is published again, with
its original ``seen_at``. Each connection is a fresh paho client that is driven by this thread
and never reconnects by itself, so paho cannot resend a stale in-flight message later.
"""

from __future__ import annotations

import json
import logging
import math
import queue
import ssl
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edgeface.lifecycle import LogOnChange, Service
from edgeface.settings import UplinkSettings
from edgeface.uplink.spool import Spool

if TYPE_CHECKING:     # importing edgeface.live would load OpenCV and dlib; only its attributes are used
    from edgeface.events import RecognitionEvent

log = logging.getLogger(__name__)

QOS = 1
IN_FLIGHT = 50            # events sent and not yet acknowledged, at most
INTAKE_MAX = 10000        # calls waiting for the publisher thread; past it they are counted and dropped
CONNECT_TIMEOUT_S = 5.0
BACKOFF_MAX_S = 30.0


def topic_level(text: str) -> str:
    """One topic level from a camera id or a name: MQTT gives '/', '+' and '#' meanings."""
    cleaned = "".join("_" if ch in "/+#\0" else ch for ch in text)
    return cleaned or "_"


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).isoformat(timespec="milliseconds")


@dataclass
class _OpenEvent:
    event_id: str
    camera: str
    track: int
    name: str
    started_at: float
    seen_at: float
    touched: float            # monotonic time of the last news, for the timeout
    seq: int = 0
    last: RecognitionEvent | None = None


class Topics:
    def __init__(self, site: str, root: str = "edgeface"):
        self.base = f"{root}/{topic_level(site)}"
        self.events = f"{self.base}/events"
        self.availability = f"{self.base}/availability"
        self.audit = f"{self.base}/audit"
        self.alerts = f"{self.base}/alerts"

    def camera(self, camera: str) -> str:
        return f"{self.base}/{topic_level(camera)}/availability"

    def person(self, camera: str, name: str) -> str:
        return f"{self.base}/{topic_level(camera)}/person/{topic_level(name)}"

    def model_stats(self, version: str) -> str:
        return f"{self.base}/model/{topic_level(version)}/stats"


class MqttPublisher(Service):
    """Publishes ``RecognitionEvent``s and camera availability; see the module docstring."""

    def __init__(self, settings: UplinkSettings, client_id: str | None = None,
                 stats: Callable[[], dict[str, dict[str, Any]]] | None = None):
        """``stats``: called on the publisher thread every ``settings.stats_interval_s`` and at close
        for ``{model version: payload}``, each sent retained to ``Topics.model_stats`` when it
        changed."""
        if not settings.url:
            raise ValueError("MqttPublisher needs settings.mqtt_url")
        super().__init__("mqtt-publisher")
        self.settings = settings
        self.topics = Topics(settings.site)
        self.client_id = client_id or f"edgeface-{settings.site}-{uuid.uuid4().hex[:8]}"
        self.queue = Spool(settings.mqtt_queue_dir, max_entries=settings.mqtt_queue_max)
        self.intake_dropped = 0
        self.sent = 0                      # events acknowledged by the broker
        self.connects = 0
        self._intake: queue.Queue[tuple] = queue.Queue(INTAKE_MAX)
        self._open: dict[tuple[str, int], _OpenEvent] = {}
        self._states: dict[str, tuple[bytes, bool]] = {}     # retained topic -> (payload, dirty)
        self._client: mqtt.Client | None = None
        self._connected = threading.Event()
        self._lost = threading.Event()
        self._in_flight: dict[str, mqtt.MQTTMessageInfo] = {}
        # Retained states handed to paho and not yet acknowledged: paho holds back what exceeds its
        # in-flight window, so a disconnect right after publish() would drop the last stats.
        self._states_in_flight: list[mqtt.MQTTMessageInfo] = []
        self._deadline = 0.0
        self._goodbye_queued = False
        self._refused: str | None = None
        self._problems = LogOnChange()     # a broker away for hours: logged once a minute, not per retry
        self._stats = stats
        self._stats_interval_s = settings.stats_interval_s
        self._stats_due = 0.0

    # -- the callers' side: never blocks ---------------------------------------------------------
    def publish_event(self, event: RecognitionEvent) -> None:
        """A face was named or found Unknown (``FramePipeline``'s ``on_event``)."""
        self._put(("event", event))

    def end_track(self, camera: str, track: int, seen_at: float | None = None) -> None:
        """The tracker lost this face: its event ends (else it ends after ``event_timeout_s``)."""
        self._put(("end", camera, track, seen_at, "track_lost"))

    def camera_availability(self, camera_id: str, online: bool) -> None:
        self._put(("camera", camera_id, online))

    def publish_audit(self, row: dict[str, Any]) -> None:
        """An audit trail row (``edgeface.history.audit.Row.as_json()``): queued and sent like an event."""
        self._put(("audit", row))

    def publish_alert(self, alert: dict[str, Any]) -> None:
        """An alert of the alert watchlist (``edgeface.live.alerts``): queued and sent like an event."""
        self._put(("alert", alert))

    def forget(self, name: str) -> int:
        """Privacy: clear this person's retained state on every camera (an empty retained message);
        the number of retained topics that held it."""
        suffix = "/person/" + topic_level(name)
        held = sum(1 for topic, (payload, _) in list(self._states.items()) if topic.endswith(suffix) and payload)
        self._put(("forget", name))
        return held

    def _put(self, item: tuple) -> None:
        try:
            self._intake.put_nowait(item)
        except queue.Full:
            self.intake_dropped += 1

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def status(self) -> dict[str, Any]:
        return {"broker": self.settings.broker_label(), "connected": self.connected, "queued": len(self.queue),
                "sent": self.sent, "dropped": self.queue.dropped + self.intake_dropped, "connects": self.connects,
                "open_events": len(self._open)}

    def close(self, timeout: float = 5.0) -> None:
        """End open events, mark cameras and the app offline, deliver what can be within ``timeout``."""
        self._deadline = time.monotonic() + timeout
        super().close(timeout + 2)

    # -- the publisher thread ----------------------------------------------------------------------
    def run(self) -> None:
        next_attempt, backoff = 0.0, 0.5
        while True:
            if self.stopping and not self._finishing():
                break
            self._take(0.02 if self._client is not None else 0.2)
            self._expire(time.monotonic())
            self._publish_stats(time.monotonic())
            if self._client is None and time.monotonic() >= next_attempt:
                if self._connect():
                    backoff = 0.5
                else:
                    next_attempt = time.monotonic() + backoff
                    backoff = min(backoff * 2, BACKOFF_MAX_S)
            if self._client is not None:
                try:
                    rc = self._client.loop(timeout=0.02)
                    if rc == mqtt.MQTT_ERR_SUCCESS and not self._lost.is_set() and self.connected:
                        self._send()
                        rc = self._client.loop(timeout=0.0)
                except (OSError, ValueError) as err:
                    log.debug("mqtt: %s", err)
                    rc = mqtt.MQTT_ERR_CONN_LOST
                if rc != mqtt.MQTT_ERR_SUCCESS or self._lost.is_set():
                    log.warning("mqtt: lost the broker at %s; %d events queued, retrying",
                                self.settings.broker_label(), len(self.queue))
                    self._drop_client()
                    next_attempt = time.monotonic() + backoff
        self._disconnect()

    def _finishing(self) -> bool:
        """While stopping: go on until the goodbyes and the queue are out, the deadline passes or the
        broker is away (queued events then wait on disk for the next start)."""
        if not self._goodbye_queued:
            self._goodbye_queued = True
            self._take(0.0)                       # what the cameras said before close()
            for ev in list(self._open.values()):
                self._end(ev, "shutdown", ev.seen_at)
            for topic in [t for t in self._states if t.endswith("/availability")]:
                self._set_state(topic, b"offline")
            self._publish_stats(math.inf)
        if time.monotonic() > self._deadline or self._client is None:
            return False
        return bool(len(self.queue) or self._in_flight or self._states_in_flight
                    or any(d for _, d in self._states.values()))

    def _take(self, timeout: float) -> None:
        try:
            item = self._intake.get(timeout=timeout) if timeout > 0 else self._intake.get_nowait()
        except queue.Empty:
            return
        while True:
            try:
                self._apply(item)
            except Exception:
                log.exception("mqtt: cannot handle %r", item[:1])
            try:
                item = self._intake.get_nowait()
            except queue.Empty:
                return

    def _apply(self, item: tuple) -> None:
        kind = item[0]
        if kind == "event":
            self._on_recognition(item[1])
        elif kind == "end":
            _, camera, track, seen_at, reason = item
            ev = self._open.get((camera, track))
            if ev is not None:
                self._end(ev, reason, seen_at or ev.seen_at)
        elif kind == "audit":
            row = item[1]
            body = {"type": "audit", **row, "site": self.settings.site,
                    "message_id": f"audit-{row['seq']}-{row['hash'][:12]}"}
            self.queue.put({".json": json.dumps(body).encode()}, body["message_id"])
        elif kind == "alert":
            self.queue.put({".json": json.dumps(item[1]).encode()}, item[1]["message_id"])
        elif kind == "forget":
            suffix = "/person/" + topic_level(item[1])
            for topic in [t for t in self._states if t.endswith(suffix)]:
                self._set_state(topic, b"")
            # Their open events end silently: an 'end' would publish their state again.
            for key in [k for k, ev in self._open.items() if ev.name == item[1]]:
                del self._open[key]
        elif kind == "camera":
            _, camera, online = item
            self._set_state(self.topics.camera(camera), b"online" if online else b"offline")
            if not online:
                for ev in [e for e in self._open.values() if e.camera == camera]:
                    self._end(ev, "camera_offline", ev.seen_at)

    def _on_recognition(self, rec: RecognitionEvent) -> None:
        key = (rec.camera, rec.track)
        ev = self._open.get(key)
        if ev is None:
            ev = _OpenEvent(uuid.uuid4().hex, rec.camera, rec.track, rec.name, rec.time, rec.time, time.monotonic())
            self._open[key] = ev
            kind = "start"
        else:
            ev.seq += 1
            kind = "update"
            if ev.name != rec.name:
                old, ev.name = ev.name, rec.name
                self._person(ev, old, present=False)
        ev.seen_at, ev.touched, ev.last = rec.time, time.monotonic(), rec
        self._enqueue(ev, kind)
        self._person(ev, ev.name, present=True)

    def _end(self, ev: _OpenEvent, reason: str, seen_at: float) -> None:
        self._open.pop((ev.camera, ev.track), None)
        ev.seq += 1
        ev.seen_at = seen_at
        self._enqueue(ev, "end", reason=reason)
        self._person(ev, ev.name, present=False)

    def _expire(self, now: float) -> None:
        for ev in [e for e in self._open.values() if now - e.touched > self.settings.event_timeout_s]:
            self._end(ev, "timeout", ev.seen_at)

    def _message(self, ev: _OpenEvent) -> dict[str, Any]:
        rec = ev.last
        return {"event_id": ev.event_id, "seq": ev.seq, "message_id": f"{ev.event_id}-{ev.seq}",
                "site": self.settings.site, "camera": ev.camera, "track": ev.track, "name": ev.name,
                "distance": round(rec.distance, 4) if rec else None, "box": rec.box if rec else None,
                "model_version": rec.model_version if rec else None, "recognition_id": rec.id if rec else None,
                "seen_at": ev.seen_at, "seen_at_iso": iso(ev.seen_at),
                "started_at": ev.started_at, "started_at_iso": iso(ev.started_at)}

    def _enqueue(self, ev: _OpenEvent, kind: str, **extra: Any) -> None:
        body = {"type": kind, **self._message(ev), **extra}
        self.queue.put({".json": json.dumps(body).encode()}, body["message_id"])

    def _person(self, ev: _OpenEvent, name: str, present: bool) -> None:
        if not present and any(e.camera == ev.camera and e.name == name for e in self._open.values()):
            return      # another track on this camera still shows the same person
        body = {"state": "present" if present else "absent", **self._message(ev), "name": name}
        self._set_state(self.topics.person(ev.camera, name), json.dumps(body).encode())

    def _set_state(self, topic: str, payload: bytes) -> None:
        self._states[topic] = (payload, True)

    def _publish_stats(self, now: float) -> None:
        if self._stats is None or now < self._stats_due:
            return
        self._stats_due = now + self._stats_interval_s
        for version, body in self._stats().items():
            payload = json.dumps(body).encode()
            topic = self.topics.model_stats(version)
            if self._states.get(topic, (b"",))[0] != payload:     # unchanged: already retained there
                self._set_state(topic, payload)

    # -- the connection ------------------------------------------------------------------------------
    def _connect(self) -> bool:
        url = urlsplit(self.settings.url or "")
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id, clean_session=True)
        if url.username:
            client.username_pw_set(unquote(url.username), unquote(url.password) if url.password else None)
        if url.scheme == "mqtts":
            client.tls_set_context(ssl.create_default_context())
        client.will_set(self.topics.availability, b"offline", qos=QOS, retain=True)
        client.max_inflight_messages_set(IN_FLIGHT)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        self._connected.clear()
        self._lost.clear()
        self._refused = None
        try:
            client.connect(url.hostname or "", url.port or (8883 if url.scheme == "mqtts" else 1883),
                           keepalive=30)
            deadline = time.monotonic() + CONNECT_TIMEOUT_S
            while not self._connected.is_set() and not self._lost.is_set() and time.monotonic() < deadline:
                if client.loop(timeout=0.05) != mqtt.MQTT_ERR_SUCCESS:
                    break
        except (OSError, ValueError) as err:
            log.debug("mqtt: cannot reach %s: %s", self.settings.broker_label(), err)
        if not self._connected.is_set():
            problem = f"refused the connection: {self._refused}" if self._refused else "unreachable"
            if self._problems.fresh(problem):
                hint = " — check the user and password in EDGEFACE_MQTT_URL" if self._refused else ""
                log.warning("mqtt: broker %s %s; %d events queued%s", self.settings.broker_label(), problem,
                            len(self.queue), hint)
            self._close_client(client)
            return False
        self._client = client
        self.connects += 1
        self._problems.clear()
        log.info("mqtt: connected to %s as %s; %d events queued", self.settings.broker_label(),
                 self.client_id, len(self.queue))
        # A new session: say we are here, then the *current* retained state (original seen_at).
        self._states[self.topics.availability] = (b"online", True)
        self._states = {topic: (payload, True) for topic, (payload, _) in self._states.items()}
        return True

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self._refused = str(reason_code)
            self._lost.set()
        else:
            self._connected.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self._connected.clear()
        self._lost.set()

    def _send(self) -> None:
        client = self._client
        assert client is not None
        for stem, info in list(self._in_flight.items()):
            if info.is_published():
                del self._in_flight[stem]
                self.queue.remove(stem)
                self.sent += 1
        for stem in self.queue.stems(IN_FLIGHT * 2):
            if len(self._in_flight) >= IN_FLIGHT:
                break
            if stem in self._in_flight:
                continue
            raw = self.queue.read(stem)
            if raw is None:
                continue
            body = json.loads(raw)
            body["sent_at"] = round(time.time(), 3)      # seen_at stays; consumers see how late it is
            topic = {"audit": self.topics.audit, "alert": self.topics.alerts}.get(body.get("type"), self.topics.events)
            self._in_flight[stem] = client.publish(topic, json.dumps(body), qos=QOS)
        # States after events: at shutdown the 'offline' goodbye follows the last 'end'.
        self._states_in_flight = [info for info in self._states_in_flight if not info.is_published()]
        for topic, (payload, dirty) in list(self._states.items()):
            if dirty:
                self._states_in_flight.append(client.publish(topic, payload, qos=QOS, retain=True))
                self._states[topic] = (payload, False)
                if not payload:
                    del self._states[topic]     # cleared at the broker: nothing to republish

    def _drop_client(self) -> None:
        if self._client is not None:
            self._close_client(self._client)
        self._client = None
        self._connected.clear()
        self._in_flight.clear()       # still in the queue: sent again on the next connection
        self._states_in_flight.clear()     # every state is sent again on the next connection

    def _disconnect(self) -> None:
        if self._client is not None and self.connected:
            try:
                # A clean goodbye: the broker does not send the will, so say offline ourselves (queued above).
                self._client.disconnect()
                self._client.loop(timeout=0.1)
            except (OSError, ValueError):
                pass
        self._drop_client()

    @staticmethod
    def _close_client(client: mqtt.Client) -> None:
        try:
            client.disconnect()
        except (OSError, ValueError):
            pass
        sock = client.socket()
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass
