"""Web app settings: from environment variables (the pod), overridden by ``edgeface serve`` flags.

| variable | default | meaning |
|---|---|---|
| ``MODEL_FILENAME`` | ``/model/model.data`` | model file (hot-reloaded when it changes) |
| ``EDGEFACE_MODEL_STORE`` | unset | a model store URL (``s3://…`` or a directory): follow it instead of a file |
| ``EDGEFACE_MODEL_VERSION`` | ``latest`` | version to use from the store (``latest`` follows promotions) |
| ``EDGEFACE_RELOAD_INTERVAL`` | ``2`` | seconds between checks for a new model |
| ``EDGEFACE_HOST`` / ``EDGEFACE_PORT`` | ``127.0.0.1`` / ``5000`` | where gunicorn listens |
| ``EDGEFACE_ANNOUNCE_PORT`` | the port | port announced over mDNS (a NodePort, say) |
| ``EDGEFACE_MDNS_INTERFACE`` | unset (mDNS off) | interface IP for mDNS; the pod IP in a pod |
| ``EDGEFACE_REGISTER_HOST`` | ``microshift-cam-reg.local`` | host name cameras resolve to register |
| ``EDGEFACE_ALLOWED_NETWORKS`` | private + loopback | CIDRs cameras may be in (or ``EDGEFACE_CAMERA_NETWORKS``) |
| ``EDGEFACE_CAMERAS`` | none | camera URLs to read from the start, comma-separated |
| ``EDGEFACE_MAX_CAMERAS`` | ``16`` | registration stops at this many cameras |
| ``EDGEFACE_API_TOKEN`` | unset | token for the UI, feeds and API; unset = read-only open access |
| ``EDGEFACE_CAMERA_TOKEN`` | unset | shared secret a ``/register`` call must carry |
| ``EDGEFACE_EVENTS_DIR`` / ``EDGEFACE_MAX_EVENTS`` | memory / ``1000`` | where recognition events persist |
| ``EDGEFACE_MAX_UPLOAD_BYTES`` | ``10000000`` | largest accepted upload |
| ``EDGEFACE_SECURE_COOKIES`` | ``0`` | mark the session cookie Secure (behind HTTPS) |
| ``EDGEFACE_LIVE_*`` | see ``LiveSettings`` | recognition tuning, e.g. ``EDGEFACE_LIVE_DETECT_SCALE`` |
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from edgeface.cameras.mdns import REGISTRATION_HOST
from edgeface.cameras.netpolicy import parse_networks
from edgeface.errors import ConfigError
from edgeface.live.service import ServiceConfig
from edgeface.live.settings import LiveSettings

DEFAULT_MODEL = "/model/model.data"


@dataclass
class AppSettings:
    host: str = "127.0.0.1"
    port: int = 5000
    api_token: str | None = None
    max_upload_bytes: int = 10_000_000
    secure_cookies: bool = False
    service: ServiceConfig = field(default_factory=ServiceConfig)

    @classmethod
    def from_env(cls, environ=os.environ) -> AppSettings:
        env = {k: v for k, v in environ.items() if v != ""}
        port = _int(env, "EDGEFACE_PORT", 5000)
        service = ServiceConfig(
            model_path=env.get("MODEL_FILENAME", DEFAULT_MODEL),
            store_url=env.get("EDGEFACE_MODEL_STORE"),
            model_version=env.get("EDGEFACE_MODEL_VERSION", "latest"),
            reload_interval_s=_float(env, "EDGEFACE_RELOAD_INTERVAL", 2.0),
            mdns_interface=env.get("EDGEFACE_MDNS_INTERFACE"),
            register_host=env.get("EDGEFACE_REGISTER_HOST", REGISTRATION_HOST),
            announce_port=_int(env, "EDGEFACE_ANNOUNCE_PORT", port),
            allowed_networks=parse_networks(env.get("EDGEFACE_ALLOWED_NETWORKS", env.get("EDGEFACE_CAMERA_NETWORKS"))),
            camera_token=env.get("EDGEFACE_CAMERA_TOKEN"),
            cameras=[u.strip() for u in env.get("EDGEFACE_CAMERAS", "").split(",") if u.strip()],
            max_cameras=_int(env, "EDGEFACE_MAX_CAMERAS", 16),
            events_dir=env.get("EDGEFACE_EVENTS_DIR"),
            max_events=_int(env, "EDGEFACE_MAX_EVENTS", 1000),
            live=LiveSettings.from_env(environ),
        )
        return cls(
            host=env.get("EDGEFACE_HOST", "127.0.0.1"), port=port,
            api_token=env.get("EDGEFACE_API_TOKEN"),
            max_upload_bytes=_int(env, "EDGEFACE_MAX_UPLOAD_BYTES", 10_000_000),
            secure_cookies=env.get("EDGEFACE_SECURE_COOKIES", "0").lower() in ("1", "true", "yes"),
            service=service,
        )

    def summary(self) -> dict:
        """What is safe to log: no tokens, only whether they are set."""
        s = self.service
        return {"bind": f"{self.host}:{self.port}", "model": s.store_url or s.model_path,
                "mdns_interface": s.mdns_interface, "register_host": s.register_host,
                "api_token": "set" if self.api_token else "unset",
                "camera_token": "set" if s.camera_token else "unset",
                "allowed_networks": [str(n) for n in s.allowed_networks]}


def _int(env: dict, name: str, default: int) -> int:
    try:
        return int(env.get(name, default))
    except ValueError:
        raise ConfigError(f"{name}={env[name]!r} is not a whole number", f"e.g. {name}={default}") from None


def _float(env: dict, name: str, default: float) -> float:
    try:
        return float(env.get(name, default))
    except ValueError:
        raise ConfigError(f"{name}={env[name]!r} is not a number", f"e.g. {name}={default}") from None
