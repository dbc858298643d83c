"""mDNS / DNS-SD: how cameras and the app find each other without configuration.

- The app announces its registration host name (``microshift-cam-reg.local``, the name existing
  ESP32-CAM firmware resolves) plus a ``_edgeface._tcp`` service carrying its port.
  python-zeroconf has no API for a bare A record; its supported way (maintainer's answer in
  python-zeroconf issue #896) is a service whose ``server`` is the host name: zeroconf then
  answers A queries for that name from its registry.
- Cameras advertise ``_edgecam._tcp`` (TXT ``path``, ``token``, and ``identify_path`` for a
  camera with a main stream on the same address, port and token); ``CameraBrowser`` adds them to
  the registry, follows their re-announcements and removes them on goodbye.
- ``resolve_host`` is what a camera does to find the app.

Everything binds to one interface IP (``127.0.0.1`` in tests), IPv4 only.
"""

from __future__ import annotations

import logging
import threading

import ifaddr
from zeroconf import (
    AddressResolverIPv4,
    InterfaceChoice,
    IPVersion,
    ServiceBrowser,
    ServiceInfo,
    ServiceStateChange,
    Zeroconf,
)

from edgeface.cameras.netpolicy import parse_ip
from edgeface.cameras.origin import CameraOrigin
from edgeface.cameras.urls import slugify
from edgeface.errors import EdgefaceError
from edgeface.settings import REGISTRATION_HOST

log = logging.getLogger(__name__)

APP_SERVICE_TYPE = "_edgeface._tcp.local."
CAMERA_SERVICE_TYPE = "_edgecam._tcp.local."
#: Camera records expire after 2 min instead of zeroconf's 75: a camera that was killed (no
#: goodbye) then also drops out of every browser, not only out of the stream reader.
CAMERA_RECORD_TTL_S = 120
ALL_INTERFACES = ("", "0.0.0.0")


def fqdn(host: str) -> str:
    """``name``, ``name.local`` or ``name.local.`` to the ``name.local.`` form mDNS uses."""
    host = host.strip().rstrip(".")
    if not host.endswith(".local"):
        host += ".local"
    return host + "."


def open_zeroconf(interface_ip: str | None = "127.0.0.1") -> Zeroconf:
    """A Zeroconf bound to one interface (or all for ``0.0.0.0``/None), IPv4 only."""
    interfaces = InterfaceChoice.All if interface_ip in (None, *ALL_INTERFACES) else [interface_ip]
    try:
        return Zeroconf(interfaces=interfaces, ip_version=IPVersion.V4Only)
    except OSError as err:
        raise EdgefaceError(f"mDNS: cannot open UDP port 5353 on {interface_ip or 'all interfaces'} ({err})",
                            "check the interface IP exists on this machine") from None


def announce_addresses(interface_ip: str | None) -> list[str]:
    """The IPv4 addresses to announce: the interface's, or every non-loopback one for ``0.0.0.0``."""
    if interface_ip not in (None, *ALL_INTERFACES):
        return [interface_ip]
    found = [ip.ip for adapter in ifaddr.get_adapters() for ip in adapter.ips
             if isinstance(ip.ip, str) and not ip.ip.startswith("127.")]
    return found or ["127.0.0.1"]


class _Announcer:
    """One registered DNS-SD service on its own Zeroconf; ``close()`` sends the goodbyes."""

    def __init__(self, info: ServiceInfo, interface_ip: str | None):
        self._zc = open_zeroconf(interface_ip)
        self._closed = False
        try:
            # ~1.2 s: probing for a conflicting name first is mandatory in mDNS.
            self._zc.register_service(info, allow_name_change=True)
        except Exception:
            self._zc.close()
            raise
        self.info = info
        log.info("mDNS: announced %s -> %s:%s", info.name, info.server, info.port)

    @property
    def zeroconf(self) -> Zeroconf:
        return self._zc

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._zc.unregister_service(self.info)  # the goodbye (TTL 0) packets
        except Exception as err:  # noqa: BLE001 - shutting down anyway
            log.warning("mDNS: goodbye for %s failed: %s", self.info.name, err)
        self._zc.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class RegistrationAnnouncer(_Announcer):
    """Publishes ``hostname`` (A record) and ``<service_name>._edgeface._tcp`` pointing at it."""

    def __init__(self, hostname: str = REGISTRATION_HOST, port: int = 8080, interface_ip: str | None = "127.0.0.1",
                 service_name: str = "edgeface"):
        self.hostname = fqdn(hostname)
        info = ServiceInfo(
            APP_SERVICE_TYPE, f"{service_name}.{APP_SERVICE_TYPE}", port=port, server=self.hostname,
            parsed_addresses=announce_addresses(interface_ip), properties={"path": "/register"},
        )
        super().__init__(info, interface_ip)


class CameraAnnouncer(_Announcer):
    """What a camera advertises: ``<name>._edgecam._tcp`` with TXT ``path``, ``token`` and, for a
    camera with a main stream, ``identify_path``."""

    def __init__(self, name: str, port: int, *, token: str | None, path: str = "/stream",
                 identify_path: str | None = None, address: str | None = None,
                 interface_ip: str | None = "127.0.0.1"):
        self._port, self._token, self._path = port, token, path
        self._addresses = [address] if address else announce_addresses(interface_ip)
        super().__init__(self._service_info(identify_path, f"{name}.{CAMERA_SERVICE_TYPE}",
                                            fqdn(slugify(name, 63))), interface_ip)

    def announce_identify_path(self, identify_path: str | None) -> None:
        """Announce the TXT again with this main stream path (None: none), as a camera whose
        settings changed does; browsers update the camera. (zeroconf updates a service by a new
        ``ServiceInfo`` of the same name: its TXT cannot be set in place.)"""
        self.info = self._service_info(identify_path, self.info.name, self.info.server or "")  # as registered
        self.zeroconf.update_service(self.info)

    def _service_info(self, identify_path: str | None, name: str, server: str) -> ServiceInfo:
        properties = {"path": self._path}
        if self._token:
            properties["token"] = self._token
        if identify_path:
            properties["identify_path"] = identify_path
        return ServiceInfo(
            CAMERA_SERVICE_TYPE, name, port=self._port, server=server, parsed_addresses=self._addresses,
            properties=properties,
            host_ttl=CAMERA_RECORD_TTL_S, other_ttl=CAMERA_RECORD_TTL_S,
        )


class CameraBrowser:
    """Adds cameras advertising ``_edgecam._tcp`` to a registry and removes them on goodbye.

    The advertised address must pass the registry's network policy like a ``/register`` call:
    an mDNS answer is just as unauthenticated.
    """

    def __init__(self, registry, interface_ip: str | None = "127.0.0.1", *,
                 service_type: str = CAMERA_SERVICE_TYPE):
        self.registry = registry
        self._names: dict[str, str] = {}  # mDNS instance name -> camera id
        self._refused: set[str] = set()
        self._lock = threading.Lock()
        self._zc = open_zeroconf(interface_ip)
        self._browser = ServiceBrowser(self._zc, service_type, handlers=[self._on_change])

    def cameras(self) -> dict[str, str]:
        """Instance name -> camera id of the cameras this browser added."""
        with self._lock:
            return dict(self._names)

    def close(self) -> None:
        self._browser.cancel()
        self._zc.close()

    def _on_change(self, zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange):
        # Runs in the browser's own thread, so the blocking lookup below is fine.
        try:
            if state_change is ServiceStateChange.Removed:
                self._remove(name)
            else:
                self._add(zeroconf, service_type, name)
        except Exception:  # never let one odd announcement kill the browser thread
            log.exception("mDNS: handling %s (%s) failed", name, state_change)

    def _add(self, zeroconf: Zeroconf, service_type: str, name: str) -> None:
        info = zeroconf.get_service_info(service_type, name, timeout=3000)
        if info is None or not info.port:
            log.warning("mDNS: %s announced but did not resolve", name)
            return
        props = info.decoded_properties
        path = props.get("path") or "/stream"
        token = props.get("token")
        identify_path = props.get("identify_path") or None   # left out: the camera has one stream
        label = name[: -len(service_type) - 1] if name.endswith(service_type) else name
        errors = []
        for text in info.parsed_addresses(IPVersion.V4Only):
            try:
                ip = parse_ip(text)  # the same parser as /register: only a plain IP goes on
                camera_id = self.registry.register_device(ip, token, info.port, path=path, origin=CameraOrigin.MDNS,
                                                          name=label, identify_path=identify_path)
            except EdgefaceError as err:
                errors.append(str(err))
                continue
            with self._lock:
                self._names[name] = camera_id
                self._refused.discard(name)
            return
        if name not in self._refused:  # warn once, not on every re-announcement
            self._refused.add(name)
            log.warning("mDNS: camera %s not added: %s", name, "; ".join(errors) or "no IPv4 address")

    def _remove(self, name: str) -> None:
        with self._lock:
            camera_id = self._names.pop(name, None)
            self._refused.discard(name)
        if camera_id is not None:
            log.info("mDNS: camera %s said goodbye", name)
            self.registry.remove(camera_id)


def resolve_host(name: str = REGISTRATION_HOST, interface_ip: str | None = "127.0.0.1", timeout: float = 3.0,
                 *, zc: Zeroconf | None = None) -> str | None:
    """The IPv4 address of an mDNS host name, or None if nobody answers within ``timeout``."""
    own = zc is None
    zc = zc or open_zeroconf(interface_ip)
    try:
        resolver = AddressResolverIPv4(fqdn(name))
        if resolver.request(zc, int(timeout * 1000)):
            addresses = resolver.parsed_addresses(IPVersion.V4Only)
            return addresses[0] if addresses else None
        return None
    finally:
        if own:
            zc.close()


class ServiceWatcher:
    """Keeps the current instances of one service type (the simulator watches ``_edgeface._tcp``)."""

    def __init__(self, zc: Zeroconf, service_type: str = APP_SERVICE_TYPE):
        self._zc = zc
        self._type = service_type
        self._names: set[str] = set()
        self._lock = threading.Lock()
        self._browser = ServiceBrowser(zc, service_type, handlers=[self._on_change])

    def port_of(self, hostname: str, timeout: float = 2.0) -> int | None:
        """Port of the instance whose SRV target is ``hostname``, if one is known."""
        host = fqdn(hostname).lower()
        with self._lock:
            names = list(self._names)
        for name in names:
            info = self._zc.get_service_info(self._type, name, timeout=int(timeout * 1000))
            if info is not None and (info.server or "").lower() == host and info.port:
                return info.port
        return None

    def close(self) -> None:
        self._browser.cancel()

    def _on_change(self, zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange):
        with self._lock:
            if state_change is ServiceStateChange.Removed:
                self._names.discard(name)
            else:
                self._names.add(name)
