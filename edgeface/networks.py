"""Which networks the app may connect to: the setting's parser and its default (private ranges).

In the core because the settings tree checks the value and the camera address policy
(``edgeface.cameras.netpolicy``) applies it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from edgeface.errors import ConfigError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Private ranges and loopback. Link-local (169.254/16, fe80::/10) is left out on purpose: it
#: holds cloud metadata services, and IPv6 link-local needs a zone id a URL cannot carry well.
DEFAULT_ALLOWED_NETWORKS: tuple[Network, ...] = tuple(
    ipaddress.ip_network(n) for n in (
        "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "::1/128", "fc00::/7",
    )
)


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
