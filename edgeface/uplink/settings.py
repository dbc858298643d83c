"""Uplink settings: where the MQTT broker is, what this site is called, where queues live."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from edgeface.errors import ConfigError

#: field -> environment variable (the names the manifests and the demo set)
ENV_NAMES = {
    "mqtt_url": "EDGEFACE_MQTT_URL",
    "site": "EDGEFACE_SITE",
    "mqtt_queue_dir": "EDGEFACE_MQTT_QUEUE_DIR",
    "mqtt_queue_max": "EDGEFACE_MQTT_QUEUE_MAX",
    "event_timeout_s": "EDGEFACE_EVENT_TIMEOUT_S",
    "outbox_dir": "EDGEFACE_OUTBOX_DIR",
    "outbox_quota_mb": "EDGEFACE_OUTBOX_QUOTA_MB",
    "retention_days": "EDGEFACE_RETENTION_DAYS",
}

_SITE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


class UplinkSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    mqtt_url: str | None = None          # mqtt://[user:password@]host[:1883] or mqtts://…; None: no MQTT
    site: str = "edge"                   # the topic level and S3 folder naming this edge site
    mqtt_queue_dir: str | None = None    # events wait here while the broker is away (None: memory only)
    mqtt_queue_max: int = Field(10000, ge=1)          # queued events kept; past it the oldest go
    event_timeout_s: float = Field(60.0, gt=0)        # an event with no news for this long is ended
    outbox_dir: str | None = None        # face captures wait here for S3 (None: no captures)
    outbox_quota_mb: float = Field(500.0, gt=0)       # past it the oldest captures go (and are counted)
    retention_days: float = Field(30.0, gt=0)         # captures older than this are deleted at the edge

    @field_validator("site")
    @classmethod
    def _site(cls, value: str) -> str:
        if not _SITE.match(value):
            raise ValueError("use letters, digits, '.', '_' or '-' (it becomes an MQTT topic level and an S3 folder)")
        return value

    @field_validator("mqtt_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if not value:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ValueError("use mqtt://host:1883 or mqtts://host:8883 (user:password@ optional)")
        parts.port   # noqa: B018 - raises ValueError on a bad port
        return value

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> UplinkSettings:
        values = {f: environ[e] for f, e in ENV_NAMES.items() if environ.get(e)}
        try:
            return cls.model_validate(values)
        except ValidationError as err:
            first = err.errors()[0]
            field = str(first["loc"][0]) if first["loc"] else "?"
            # The message names the variable, never its value: an MQTT URL may hold a password.
            raise ConfigError(f"{ENV_NAMES.get(field, field)} is invalid: {first['msg']}",
                              "see docs/uplink.md for the uplink settings") from None

    def broker_label(self) -> str:
        """host:port of the broker, safe to log (no credentials)."""
        if not self.mqtt_url:
            return "none"
        parts = urlsplit(self.mqtt_url)
        return f"{parts.hostname}:{parts.port or (8883 if parts.scheme == 'mqtts' else 1883)}"
