"""Which addresses the app may connect to when a camera registers itself.

``GET /register?ip=...`` is unauthenticated by design (ESP32-CAM firmware), so without a check
anyone on the network could make the app open connections anywhere — to a public host, or to a
cloud metadata service at 169.254.169.254. Registration targets (and addresses learnt over
mDNS) must therefore be literal IPs inside the allowed networks; the check happens before any
connection is made.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from edgeface.errors import ConfigError, EdgefaceError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

#: Private ranges and loopback. Link-local (169.254/16, fe80::/10) is left out on purpose: it
#: holds cloud metadata services, and IPv6 link-local needs a zone id a URL cannot carry well.
DEFAULT_ALLOWED_NETWORKS: tuple[Network, ...] = tuple(
    ipaddress.ip_network(n) for n in (
        "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "::1/128", "fc00::/7",
    )
)


class TargetRefused(EdgefaceError):
    """A camera address lies outside the networks the app may connect to."""


def parse_networks(text: str | Iterable[str] | None) -> list[Network]:
    """``"10.0.0.0/8, 192.168.1.0/24"`` (or a list) to networks; ``default`` adds the defaults.

    Empty or None gives the defaults. A bare address means just that host.
    """
    items = text.replace(";", ",").split(",") if isinstance(text, str) else list(text or [])
    items = [i.strip() for i in items if i and i.strip()]
    if not items:
        return list(DEFAULT_ALLOWED_NETWORKS)
    networks: list[Network] = []
    for item in items:
        if item.lower() == "default":
            networks.extend(DEFAULT_ALLOWED_NETWORKS)
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ConfigError(f"allowed camera networks: {item!r} is not a network",
                              "use CIDR notation, e.g. 192.168.1.0/24, separated by commas") from None
    return networks


def parse_ip(text: str) -> Address:
    """A literal IPv4/IPv6 address (IPv4-mapped IPv6 is unwrapped); host names are refused."""
    candidate = (text or "").strip()
    if candidate.startswith("[") and candidate.endswith("]"):
        candidate = candidate[1:-1]
    try:
        ip = ipaddress.ip_address(candidate)
    except ValueError:
        raise TargetRefused(f"camera address {text!r} is not an IP address",
                            "register with the camera's numeric IP, e.g. ip=192.168.1.50") from None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip


def check_target(ip: str, networks: Iterable[Network] = DEFAULT_ALLOWED_NETWORKS) -> str:
    """Return the normalised IP if it is inside ``networks``; raise ``TargetRefused`` if not."""
    addr = parse_ip(ip)
    if addr.is_unspecified or addr.is_multicast or str(addr) == "255.255.255.255":
        raise TargetRefused(f"camera address {addr} cannot be a camera",
                            "register with the camera's own unicast IP")
    nets = list(networks)
    if not any(addr.version == net.version and addr in net for net in nets):
        raise TargetRefused(
            f"camera address {addr} is outside the allowed networks ({', '.join(map(str, nets)) or 'none'})",
            "cameras must be on the local network; to allow this one, add its network to "
            "EDGEFACE_CAMERA_NETWORKS")
    return str(addr)
