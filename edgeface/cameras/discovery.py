"""ONVIF WS-Discovery: IP cameras that announce themselves are *listed*, never read on their own.

A camera's ``Hello`` (or its answer to our ``Probe``) puts it in the discovered list (address,
scopes, types, XAddrs); nothing connects to it until an admin confirms it with credentials
(``POST /api/v1/discovered/<id>/add``); its ``Bye`` takes it off the list.

The SOAP messages are the ``WSDiscovery`` library's (building and parsing); the sockets are ours.
The library's own networking joins the multicast group on every non-loopback interface and listens
on all of them, with no way to choose one; here the group is joined on the one interface given
(``EDGEFACE_DISCOVERY_INTERFACE``), the listener is bound to the group address with
``IP_MULTICAST_ALL`` off (so Linux does not hand it groups joined elsewhere), and probes leave by
that interface with a TTL of 1 (never routed off the link).
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import selectors
import socket
import struct
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import unquote

from wsdiscovery.actions import NS_ACTION_BYE, NS_ACTION_HELLO, NS_ACTION_PROBE_MATCH
from wsdiscovery.actions.probe import constructProbe
from wsdiscovery.message import createSOAPMessage, parseSOAPMessage
from wsdiscovery.qname import QName

from edgeface.errors import ConfigError
from edgeface.lifecycle import Service

log = logging.getLogger(__name__)

GROUP = "239.255.255.250"
PORT = 3702
ONVIF_DEVICE_NS = "http://www.onvif.org/ver10/network/wsdl"
#: The type ONVIF cameras announce (printers and PCs speak WS-Discovery too: not listed).
CAMERA_TYPE = QName(ONVIF_DEVICE_NS, "NetworkVideoTransmitter", "dn")
MAX_DEVICES = 256
MAX_MESSAGE = 65_535
MAX_NAME = 100                  # as a camera's name (edgeface.history.cameras.MAX_NAME)
MAX_TEXT = 300                  # per scope / XAddr / type kept: anyone on the link may send these
IP_MULTICAST_ALL = getattr(socket, "IP_MULTICAST_ALL", 49)   # Linux; Python names it from 3.12 on


@dataclass
class DiscoveredDevice:
    """One device that announced itself; ``camera`` is the id it got once an admin added it."""
    id: str
    epr: str                    # WS-Addressing endpoint reference (stable per device)
    address: str                # where its announcement came from
    scopes: list[str]
    types: list[str]
    xaddrs: list[str]           # its ONVIF device service URL(s)
    name: str | None            # from the onvif://www.onvif.org/name/... scope
    first_seen: float
    last_seen: float
    camera: str | None = None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


class OnvifDiscovery(Service):
    """Listen on ``interface`` (an IPv4 address of this host) for ONVIF cameras; ``start()``, ``close()``."""

    def __init__(self, interface: str, probe_interval_s: float = 300.0):
        super().__init__("onvif-discovery")
        self.interface = interface
        self.probe_interval_s = probe_interval_s
        self.devices: dict[str, DiscoveredDevice] = {}
        self._iface = interface_address(interface)
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._probe_socket: socket.socket | None = None

    def start(self) -> OnvifDiscovery:
        try:
            self._listener = self._open_listener()
            self._probe_socket = self._open_probe_socket()
        except OSError as err:
            self._closed()
            raise _cannot_listen(self.interface, err) from None
        super().start()
        log.info("ONVIF WS-Discovery: listening on %s (cameras found are listed, added only when confirmed)",
                 self.interface)
        return self

    def _closed(self) -> None:
        for sock in (self._listener, self._probe_socket):
            if sock is not None:
                sock.close()

    # -- what the API asks ---------------------------------------------------------------------
    def list(self) -> list[DiscoveredDevice]:
        with self._lock:
            return sorted(self.devices.values(), key=lambda d: d.first_seen)

    def get(self, device_id: str) -> DiscoveredDevice | None:
        with self._lock:
            return self.devices.get(device_id)

    def mark_added(self, device_id: str, camera_id: str) -> None:
        with self._lock:
            if device_id in self.devices:
                self.devices[device_id].camera = camera_id

    def probe(self) -> None:
        """Ask cameras on the link to answer (they answer us alone, by unicast)."""
        if self._probe_socket is None:
            return
        data = createSOAPMessage(constructProbe([CAMERA_TYPE], [])).encode()
        try:
            self._probe_socket.sendto(data, (GROUP, PORT))
        except OSError as err:
            log.warning("ONVIF probe on %s failed: %s", self.interface, err.strerror)

    # -- sockets -------------------------------------------------------------------------------
    def _open_listener(self) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_IP, IP_MULTICAST_ALL, 0)
        sock.bind((GROUP, PORT))     # the group only: no unicast to 3702 from anywhere
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
                        struct.pack("4s4s", socket.inet_aton(GROUP), self._iface.packed))
        sock.setblocking(False)
        return sock

    def _open_probe_socket(self) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
        sock.bind((self.interface, 0))   # answers come back here, on this interface's address
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, self._iface.packed)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
        sock.setblocking(False)
        return sock

    def run(self) -> None:
        selector = selectors.DefaultSelector()
        for sock in (self._listener, self._probe_socket):
            if sock is not None:
                selector.register(sock, selectors.EVENT_READ)
        next_probe = 0.0
        while not self.stopping:
            if time.monotonic() >= next_probe:
                self.probe()
                next_probe = time.monotonic() + self.probe_interval_s
            for key, _ in selector.select(0.5):
                try:
                    data, (host, _port) = key.fileobj.recvfrom(MAX_MESSAGE)   # type: ignore[union-attr]
                except OSError:
                    continue
                self._handle(data, host)
        selector.close()

    def _handle(self, data: bytes, host: str) -> None:
        try:
            env = parseSOAPMessage(data, host)
        except Exception:  # noqa: BLE001 - anyone on the link may send anything: drop what does not parse
            env = None
        if env is None:
            log.debug("unparsable WS-Discovery message from %s dropped", host)
            return
        action = env.getAction()
        if action == NS_ACTION_BYE:
            self._forget(env.getEPR())
        elif action == NS_ACTION_HELLO:
            self._seen(host, env.getEPR(), env.getTypes(), env.getScopes(), env.getXAddrs())
        elif action == NS_ACTION_PROBE_MATCH:
            for match in env.getProbeResolveMatches():
                self._seen(host, match.getEPR(), match.getTypes(), match.getScopes(), match.getXAddrs())

    def _seen(self, host: str, epr: Any, types: Any, scopes: Any, xaddrs: Any) -> None:
        type_names = [f"{t.getNamespace()}#{t.getLocalname()}" for t in types or []]
        if not epr or f"{ONVIF_DEVICE_NS}#NetworkVideoTransmitter" not in type_names:
            return
        epr = str(epr)[:MAX_TEXT]
        scope_values = [_text(s.getValue()) for s in scopes or []]
        now = time.time()
        device_id = device_id_for(epr)
        with self._lock:
            known = self.devices.get(device_id)
            if known is None and len(self.devices) >= MAX_DEVICES:
                oldest = min(self.devices.values(), key=lambda d: d.last_seen)
                del self.devices[oldest.id]
            self.devices[device_id] = DiscoveredDevice(
                id=device_id, epr=epr, address=host, scopes=scope_values[:32], types=type_names[:8],
                xaddrs=[_text(x) for x in list(xaddrs or [])[:8]], name=_scope_name(scope_values),
                first_seen=known.first_seen if known else now, last_seen=now,
                camera=known.camera if known else None)
        if known is None:
            log.info("ONVIF camera discovered at %s (%s): listed, waiting for an admin to add it", host, device_id)

    def _forget(self, epr: Any) -> None:
        with self._lock:
            gone = self.devices.pop(device_id_for(str(epr)[:MAX_TEXT]), None) if epr else None
        if gone is not None:
            log.info("ONVIF camera %s at %s said goodbye", gone.id, gone.address)


class CappedLog(logging.Filter):
    """At most one record per ``every_s``, cut to ``max_chars`` printable characters, the number
    left out said in the next one. For loggers of libraries that log what strangers send: the
    WSDiscovery library logs every message without an action whole (1000 messages of 60 kB from
    anyone on the link grew the app log by 60 MB in 12 s)."""

    def __init__(self, every_s: float = 60.0, max_chars: int = 200):
        super().__init__()
        self.every_s, self.max_chars = every_s, max_chars
        self._lock = threading.Lock()
        self._next = 0.0
        self._left_out = 0

    def filter(self, record: logging.LogRecord) -> bool:
        now = time.monotonic()
        with self._lock:
            if now < self._next:
                self._left_out += 1
                return False
            self._next = now + self.every_s
            left_out, self._left_out = self._left_out, 0
        try:
            text = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string in a library's record: log its template
            text = str(record.msg)
        shown = "".join(ch if ch.isprintable() else " " for ch in text[:self.max_chars])
        more = f" … ({len(text)} characters)" if len(text) > self.max_chars else ""
        record.msg, record.args = "%s%s%s", (shown, more, f" [{left_out} more like it left out]" if left_out else "")
        record.exc_info = record.exc_text = None
        return True


#: The library's logger that quotes whole messages (``wsdiscovery.message``: "No action received").
logging.getLogger("wsdiscovery.message").addFilter(CappedLog())


def interface_address(interface: str, *, check_bind: bool = False) -> ipaddress.IPv4Address:
    """``interface`` as an address; with ``check_bind``, also that it is one of this host's
    (``edgeface serve`` checks before gunicorn starts, so a typo is one clear line)."""
    try:
        address = ipaddress.IPv4Address(interface)
    except ValueError:
        raise ConfigError(f"EDGEFACE_DISCOVERY_INTERFACE {interface[:60]!r} is not an IPv4 address",
                          "give the address of the cameras' interface, e.g. the pod IP") from None
    if check_bind:
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                sock.bind((str(address), 0))
        except OSError as err:
            raise _cannot_listen(interface, err) from None
    return address


def _cannot_listen(interface: str, err: OSError) -> ConfigError:
    return ConfigError(f"cannot listen for ONVIF WS-Discovery on {interface}: {err.strerror}",
                       "check EDGEFACE_DISCOVERY_INTERFACE is an address of this host, or unset it")


def device_id_for(epr: str) -> str:
    """A short id safe in URLs, the same for a device whatever address it has today."""
    return "onvif-" + hashlib.sha256(epr.encode()).hexdigest()[:12]


def _text(value: Any) -> str:
    return "".join(ch for ch in str(value)[:MAX_TEXT] if ch.isprintable())


def _scope_name(scopes: list[str]) -> str | None:
    """The name scope, percent-decoded: control characters it encoded (``%0A``, ``%1B``) are
    dropped after decoding, as in every other name."""
    prefix = "onvif://www.onvif.org/name/"
    for scope in scopes:
        if scope.startswith(prefix):
            return _text(unquote(scope[len(prefix):]))[:MAX_NAME].strip() or None
    return None
