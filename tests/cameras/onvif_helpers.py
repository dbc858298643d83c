"""ONVIF devices on loopback for the tests: a camera's WS-Discovery side (``Announcer``, the
WSDiscovery library's real Hello, Bye and ProbeMatch messages) and a port that counts who connects."""

from __future__ import annotations

import socket
import struct
import threading
import uuid

from wsdiscovery.actions import NS_ACTION_PROBE, constructBye, constructHello, constructProbeMatch
from wsdiscovery.message import createSOAPMessage, parseSOAPMessage
from wsdiscovery.qname import QName
from wsdiscovery.scope import Scope
from wsdiscovery.service import Service

from edgeface.cameras.discovery import CAMERA_TYPE, GROUP, IP_MULTICAST_ALL, PORT, device_id_for

LOOPBACK = "127.0.0.1"
PRINTER = QName("http://schemas.microsoft.com/windows/2006/08/wdp/print", "PrintDeviceType", "wprt")


class Announcer:
    """An ONVIF camera's WS-Discovery side, on loopback only: Hello/Bye on demand, and a
    ProbeMatch (unicast) to each Probe when ``answer_probes``."""

    def __init__(self, device_port: int, *, types=(CAMERA_TYPE,), answer_probes: bool = True, name="Test Cam",
                 xaddr: str | None = None):
        self.epr = uuid.uuid4().urn
        self.service = Service(list(types), [Scope("onvif://www.onvif.org/name/" + name.replace(" ", "%20")),
                                             Scope("onvif://www.onvif.org/hardware/edgeface-test")],
                               [xaddr or f"http://{LOOPBACK}:{device_port}/onvif/device_service"], self.epr, 1)
        self.id = device_id_for(self.epr)
        self.probes = 0
        self._out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._out.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(LOOPBACK))
        self._out.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
        self._stop = threading.Event()
        self._listener = None
        if answer_probes:
            self._listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._listener.setsockopt(socket.IPPROTO_IP, IP_MULTICAST_ALL, 0)
            self._listener.bind((GROUP, PORT))
            self._listener.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
                                      struct.pack("4s4s", socket.inet_aton(GROUP), socket.inet_aton(LOOPBACK)))
            self._listener.settimeout(0.2)
            self._thread = threading.Thread(target=self._answer, daemon=True)
            self._thread.start()

    def hello(self) -> None:
        self._out.sendto(createSOAPMessage(constructHello(self.service)).encode(), (GROUP, PORT))

    def bye(self) -> None:
        self._out.sendto(createSOAPMessage(constructBye(self.service)).encode(), (GROUP, PORT))

    def _answer(self) -> None:
        assert self._listener is not None
        while not self._stop.is_set():
            try:
                data, sender = self._listener.recvfrom(65535)
            except OSError:
                continue
            env = parseSOAPMessage(data, sender[0])
            if env is not None and env.getAction() == NS_ACTION_PROBE:
                self.probes += 1
                match = constructProbeMatch([self.service], env.getMessageId())
                self._out.sendto(createSOAPMessage(match).encode(), sender)

    def close(self) -> None:
        self._stop.set()
        if self._listener is not None:
            self._thread.join(5)
            self._listener.close()
        self._out.close()


class CountingPort:
    """A TCP port that counts who connects (a device's ONVIF/RTSP port that must stay untouched)."""

    def __init__(self):
        self.sock = socket.create_server((LOOPBACK, 0))
        self.port = self.sock.getsockname()[1]
        self.sock.settimeout(0.2)
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()
