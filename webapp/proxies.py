"""Believing ``X-Forwarded-For`` only from the proxies in front (``EDGEFACE_TRUSTED_PROXIES``).

Behind an OpenShift Route every client arrives from the router's address, so per-client limits
(wrong tokens, streams) would lump every operator together: ten wrong logins from anyone locked
everyone out. werkzeug's ``ProxyFix`` takes the client's address from ``X-Forwarded-For`` — but
anyone can send that header, so it applies only to requests whose TCP peer is a trusted proxy;
from anyone else the header is ignored and the peer address stands.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from werkzeug.middleware.proxy_fix import ProxyFix

from edgeface.settings import Network


def is_trusted(peer: str | None, networks: Iterable[Network]) -> bool:
    """Whether the TCP peer ``peer`` (IPv4-mapped IPv6 as IPv4, as a dual-stack socket shows it)
    is in one of ``networks``."""
    try:
        address = ipaddress.ip_address(peer or "")
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in networks)


class TrustedProxyFix:
    """WSGI middleware: ``ProxyFix(x_for=hops, x_proto=hops)`` for peers in ``networks``, else nothing."""

    def __init__(self, app, networks: Iterable[Network], hops: int = 1):
        self.app = app
        self.networks = list(networks)
        self.fixed = ProxyFix(app, x_for=hops, x_proto=hops)

    def __call__(self, environ, start_response):
        if self.networks and is_trusted(environ.get("REMOTE_ADDR"), self.networks):
            return self.fixed(environ, start_response)
        return self.app(environ, start_response)
