"""Web app settings: the ``http`` section of the settings tree plus the live service's config,
overridden by ``edgeface serve`` flags. Every variable is listed in docs/settings.md."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from edgeface.live.service import ServiceConfig
from edgeface.settings import HttpSettings, ImageSettings, Network, Settings, default, load


@dataclass
class AppSettings:
    host: str = default(HttpSettings, "host")
    port: int = default(HttpSettings, "port")
    api_token: str | None = None
    viewer_token: str | None = None
    max_upload_bytes: int = default(HttpSettings, "max_upload_bytes")
    secure_cookies: bool = default(HttpSettings, "secure_cookies")
    threads: int = default(HttpSettings, "threads")
    log_level: str = default(HttpSettings, "log_level")
    max_image_pixels: int = default(ImageSettings, "max_pixels")
    trusted_proxies: list[Network] = field(default_factory=list)
    proxy_hops: int = default(HttpSettings, "proxy_hops")
    service: ServiceConfig = field(default_factory=ServiceConfig)

    @classmethod
    def from_settings(cls, settings: Settings) -> AppSettings:
        http = settings.http
        return cls(host=http.host, port=http.port,
                   api_token=http.api_token.get_secret_value() if http.api_token else None,
                   viewer_token=http.viewer_token.get_secret_value() if http.viewer_token else None,
                   max_upload_bytes=http.max_upload_bytes, secure_cookies=http.secure_cookies,
                   threads=http.threads, log_level=http.log_level, max_image_pixels=settings.images.max_pixels,
                   trusted_proxies=list(http.trusted_proxies), proxy_hops=http.proxy_hops,
                   service=ServiceConfig.from_settings(settings))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AppSettings:
        return cls.from_settings(load(environ))

    def summary(self) -> dict:
        """What is safe to log: no tokens, only whether they are set."""
        s = self.service
        return {"bind": f"{self.host}:{self.port}", "model": s.store_url or s.model_path,
                "mdns_interface": s.mdns_interface, "register_host": s.register_host,
                "api_token": "set" if self.api_token else "unset",
                "viewer_token": "set" if self.viewer_token else "unset",
                "camera_token": "set" if s.camera_token else "unset",
                "allowed_networks": [str(n) for n in s.allowed_networks],
                "trusted_proxies": [str(n) for n in self.trusted_proxies]}

    def __repr__(self) -> str:  # tokens are plain strings here: never let a repr carry them
        return f"AppSettings({self.summary()})"
