"""One rule for cameras that add themselves, whichever way they arrive (``GET /register`` or an
mDNS ``_edgecam._tcp`` announcement): with a camera token configured, the camera must present it.

Both ways are unauthenticated by nature (ESP32-CAM firmware can only send a token), so a shared
secret provisioned into the firmware is what tells our cameras from any device on the LAN. The
network policy (allowed CIDRs, checked before any connection) applies on top, in the registry.
The address is parsed first, by the one parser (``netpolicy.parse_ip``): whatever is not a
plain IP is refused before the token is even looked at, and only the parsed object goes on.
"""

from __future__ import annotations

import hmac

from pydantic import SecretStr

from edgeface.cameras.netpolicy import Address, parse_ip
from edgeface.errors import EdgefaceError


class RegistrationRefused(EdgefaceError):
    """A self-registering camera did not present the configured camera token."""


class RegistrationGate:
    """Wraps a ``CameraRegistry``: ``register_device`` checks the token, the rest passes through."""

    def __init__(self, registry, camera_token: SecretStr | None):
        self.registry = registry
        self._token = camera_token if camera_token and camera_token.get_secret_value() else None

    def register_device(self, ip: str | Address, token: str | None, port: int = 80, **kwargs) -> str:
        addr = parse_ip(ip)  # TargetRefused for host names, zone ids, '@', '[' ...
        if self._token and not (token and hmac.compare_digest(token.encode(),
                                                              self._token.get_secret_value().encode())):
            raise RegistrationRefused(f"camera at {addr}: wrong or missing camera token",
                                      "provision the camera with the token set in EDGEFACE_CAMERA_TOKEN")
        return self.registry.register_device(addr, token, port, **kwargs)

    def __getattr__(self, name):
        return getattr(self.registry, name)
