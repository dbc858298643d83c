"""Uplink settings: where the MQTT broker is, what this site is called, where queues wait.

A section of the settings tree (``edgeface.settings``, docs/settings.md) with the same field
metadata as the others (``env``, ``description``), kept here so that the tree imports the uplink,
not the other way round.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from edgeface.errors import ConfigError

_SITE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


def _env(name: str, description: str, example: Any = None, **kwargs: Any) -> Any:
    extra: dict[str, Any] = {"env": name, "deprecated": []}
    if example is not None:
        extra["example"] = example
    return Field(description=description, json_schema_extra=extra, **kwargs)


class UplinkSettings(BaseModel):
    """Events over MQTT and face captures to the core (docs/uplink.md)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mqtt_url: SecretStr | None = _env(
        "EDGEFACE_MQTT_URL", "MQTT broker for events, `mqtt://[user:password@]host[:1883]` or `mqtts://…` "
        "(secret: it may hold a password); unset: no MQTT", example="mqtt://127.0.0.1:1883", default=None)
    site: str = _env("EDGEFACE_SITE", "this site's name: an MQTT topic level and an S3 folder", example="store-12",
                     default="edge")
    mqtt_queue_dir: str | None = _env("EDGEFACE_MQTT_QUEUE_DIR", "folder where events wait while the broker is "
                                      "away (survives restarts); unset: memory only", example="/data/mqtt-queue",
                                      default=None)
    mqtt_queue_max: int = _env("EDGEFACE_MQTT_QUEUE_MAX", "events kept waiting; past it the oldest go (counted)",
                               default=10000, ge=1)
    event_timeout_s: float = _env("EDGEFACE_EVENT_TIMEOUT_S", "an event with no news for this long is ended",
                                  default=60.0, gt=0)
    stats_interval_s: float = _env("EDGEFACE_MQTT_STATS_INTERVAL_S", "how often the per-model-version face "
                                   "counts are published (retained; also at shutdown)", default=60.0, gt=0)
    outbox_dir: str | None = _env("EDGEFACE_OUTBOX_DIR", "folder where face captures wait for S3; unset: no "
                                  "captures", example="/data/outbox", default=None)
    outbox_quota_mb: float = _env("EDGEFACE_OUTBOX_QUOTA_MB", "captures waiting beyond this many MB: the oldest "
                                  "go (counted)", default=500.0, gt=0)
    retention_days: float = _env("EDGEFACE_RETENTION_DAYS", "captures waiting longer than this are deleted at "
                                 "the edge", default=30.0, gt=0)

    @field_validator("site")
    @classmethod
    def _site(cls, value: str) -> str:
        if not _SITE.match(value):
            raise ValueError("use letters, digits, '.', '_' or '-' (it becomes an MQTT topic level and an S3 folder)")
        return value

    @field_validator("mqtt_url")
    @classmethod
    def _url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        parts = urlsplit(value.get_secret_value())
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ValueError("use mqtt://host:1883 or mqtts://host:8883 (user:password@ optional)")
        parts.port   # noqa: B018 - raises ValueError on a bad port
        return value

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> UplinkSettings:
        environ = os.environ if environ is None else environ
        names = {name: str((f.json_schema_extra or {})["env"]) for name, f in cls.model_fields.items()}  # type: ignore[index]
        values = {name: environ[var].strip() for name, var in names.items() if environ.get(var, "").strip()}
        try:
            return cls.model_validate(values)
        except ValidationError as err:
            first = err.errors()[0]
            field = str(first["loc"][0]) if first["loc"] else ""
            # Named, never shown: the MQTT URL may hold a password.
            raise ConfigError(f"{names.get(field, field)} is invalid: {first['msg'].removeprefix('Value error, ')}",
                              "see docs/uplink.md for the uplink settings") from None

    @property
    def url(self) -> str | None:
        return self.mqtt_url.get_secret_value() if self.mqtt_url else None

    def broker_label(self) -> str:
        """host:port of the broker, safe to log (no credentials)."""
        if not self.url:
            return "none"
        parts = urlsplit(self.url)
        return f"{parts.hostname}:{parts.port or (8883 if parts.scheme == 'mqtts' else 1883)}"
