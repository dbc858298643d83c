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


class TrustedProxyFix:
    """WSGI middleware: ``ProxyFix(x_for=hops, x_proto=hops)`` for peers in ``networks``, else nothing."""

    def __init__(self, app, networks: Iterable[Network], hops: int = 1):
        self.app = app
        self.networks = list(networks)
        self.fixed = ProxyFix(app, x_for=hops, x_proto=hops)

    def trusted(self, peer: str | None) -> bool:
        try:
            address = ipaddress.ip_address(peer or "")
        except ValueError:
            return False
        return any(address in network for network in self.networks)

    def __call__(self, environ, start_response):
        if self.networks and self.trusted(environ.get("REMOTE_ADDR")):
            return self.fixed(environ, start_response)
        return self.app(environ, start_response)
