"""What the web app logs about its settings at start: never a secret, only whether it is set."""

from __future__ import annotations

from edgeface.settings import Settings


def summary(settings: Settings) -> dict:
    cameras, http = settings.cameras, settings.http
    return {"bind": f"{http.host}:{http.port}", "model": settings.model.store or settings.model.file,
            "mdns_interface": cameras.mdns_interface, "register_host": cameras.register_host,
            "api_token": "set" if http.api_token else "unset",
            "viewer_token": "set" if http.viewer_token else "unset",
            "camera_token": "set" if cameras.token else "unset",
            "allowed_networks": [str(n) for n in cameras.allowed_networks],
            "trusted_proxies": [str(n) for n in http.trusted_proxies]}
