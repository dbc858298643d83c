"""Which addresses the app may connect to when a camera registers itself.

``GET /register?ip=...`` is unauthenticated by design (ESP32-CAM firmware), so without a check
anyone on the network could make the app open connections anywhere — to a public host, or to a
cloud metadata service at 169.254.169.254. Registration targets (and addresses learnt over
mDNS) must therefore be plain literal IPs (``parse_ip``, the one parser for both ways in) inside
the allowed networks; the check happens before any connection is made, on the same ``ipaddress``
object that ``urls.stream_url`` then builds the camera URL from.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from edgeface.errors import EdgefaceError
from edgeface.networks import DEFAULT_ALLOWED_NETWORKS, Network, parse_networks

__all__ = ["DEFAULT_ALLOWED_NETWORKS", "Address", "Network", "TargetRefused", "allowed_address", "check_target",
           "parse_ip", "parse_networks"]

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class TargetRefused(EdgefaceError):
    """A camera address lies outside the networks the app may connect to."""


#: Everything a plain IP literal is made of. A stricter alphabet than ``ipaddress`` accepts: no
#: ``%`` (a scoped IPv6 address carries free text that ends up in the URL's host part, where a
#: ``@`` or ``[`` after it makes ``urlsplit`` pick another host), no ``/``, no non-ASCII digits.
_IP_CHARS = frozenset("0123456789abcdefABCDEF.:")
MAX_IP_TEXT = 45  # the longest IPv6 text form (IPv4-mapped, fully written out)


def parse_ip(text: str | Address) -> Address:
    """A plain literal IPv4/IPv6 address (IPv4-mapped IPv6 is unwrapped), or ``TargetRefused``.

    Host names, scoped IPv6 (``fe80::1%eth0``), ports, CIDR suffixes and anything but ASCII
    hex digits, dots and colons (inside optional brackets) are refused.
    """
    if isinstance(text, ipaddress.IPv4Address | ipaddress.IPv6Address):
        ip: Address = text
    else:
        candidate = text.strip() if isinstance(text, str) else ""
        if candidate.startswith("[") and candidate.endswith("]"):
            candidate = candidate[1:-1]
        if not candidate or len(candidate) > MAX_IP_TEXT or not set(candidate) <= _IP_CHARS:
            raise TargetRefused(f"camera address {str(text)[:60]!r} is not an IP address in plain form",
                                "register with the camera's numeric IP, e.g. ip=192.168.1.50 "
                                "(no host names, ports or IPv6 zone ids)")
        try:
            ip = ipaddress.ip_address(candidate)
        except ValueError:
            raise TargetRefused(f"camera address {text!r} is not an IP address",
                                "register with the camera's numeric IP, e.g. ip=192.168.1.50") from None
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id is not None:  # only reachable with an Address object built elsewhere
            raise TargetRefused(f"camera address {ip} carries an IPv6 zone id",
                                "register with an address that needs no zone id")
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
    return ip


def allowed_address(ip: str | Address, networks: Iterable[Network] = DEFAULT_ALLOWED_NETWORKS) -> Address:
    """The parsed IP if it is inside ``networks``; raise ``TargetRefused`` if not.

    Callers build the camera URL from the returned object (``urls.stream_url``), so what was
    checked is exactly what is connected to.
    """
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
    return addr


def check_target(ip: str | Address, networks: Iterable[Network] = DEFAULT_ALLOWED_NETWORKS) -> str:
    """``allowed_address`` as text (the normalised IP)."""
    return str(allowed_address(ip, networks))
