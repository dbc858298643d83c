"""What the live service starts for the way back: the MQTT publisher, the capture outbox and the
per-model-version counts (``edgeface.uplink.stats``).

``LiveService`` creates one :class:`Uplink` from the settings tree, hands it every recognition
event and camera arrival/departure, and closes it last. Each part runs only when its setting is
set (``EDGEFACE_MQTT_URL``, ``EDGEFACE_OUTBOX_DIR``); the counts always (``/metrics`` shows them).
Every call returns at once.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from edgeface.settings import UplinkSettings
from edgeface.uplink.mqtt import MqttPublisher
from edgeface.uplink.stats import ModelStats

if TYPE_CHECKING:
    from edgeface.events import RecognitionEvent
    from edgeface.uplink.captures import CaptureMaker
    from edgeface.uplink.outbox import Outbox

log = logging.getLogger(__name__)


class Uplink:
    def __init__(self, settings: UplinkSettings, s3: Any = None, tolerance: float = 0.6, visit_gap_s: float = 30.0,
                 snapshot_margin: float = 0.4):
        self.settings = settings
        self.stats = ModelStats(tolerance)
        self.publisher = (MqttPublisher(settings, stats=lambda: self.stats.messages(settings.site))
                          if settings.url else None)
        self.outbox: Outbox | None = None
        self.captures: CaptureMaker | None = None
        if settings.outbox_dir:
            from edgeface.uplink.captures import CaptureMaker
            from edgeface.uplink.outbox import Outbox
            from edgeface.uplink.selection import CapturePolicy

            self.outbox = Outbox(settings.outbox_dir, settings.site, s3,
                                 quota_bytes=int(settings.outbox_quota_mb * (1 << 20)),
                                 retention_days=settings.retention_days)
            policy = CapturePolicy(visit_gap_s=visit_gap_s, hold_s=settings.capture_hold_s,
                                   same_face_distance=settings.capture_same_face_distance,
                                   max_per_camera_hour=settings.capture_max_per_camera_hour,
                                   samples_per_name_day=settings.capture_samples_per_name_day)
            self.captures = CaptureMaker(self.outbox, tolerance, policy=policy, snapshot_margin=snapshot_margin)

    def start(self) -> Uplink:
        if self.publisher is not None:
            self.publisher.start()
            log.info("uplink: events to MQTT %s as site %s", self.settings.broker_label(), self.settings.site)
        if self.outbox is not None and self.captures is not None:
            self.outbox.start()
            self.captures.start()
            log.info("uplink: captures of site %s to S3 through %s", self.settings.site, self.settings.outbox_dir)
        return self

    # -- the live service's callbacks: none blocks ----------------------------------------------------
    def on_event(self, event: RecognitionEvent, captures: bool = True) -> None:
        """Before the event store takes the event: it may move the snapshot to disk. ``captures``:
        the camera lets face captures leave (its ``captures: allowed``, docs/privacy.md)."""
        self.stats.record(event)
        if self.publisher is not None:
            self.publisher.publish_event(event)      # names and boxes, never pixels
        if self.captures is not None and captures:
            self.captures.offer(event)

    def on_alert(self, alert: dict[str, Any]) -> None:
        """An alert of the alert watchlist, to ``edgeface/<site>/alerts``."""
        if self.publisher is not None:
            self.publisher.publish_alert(alert)

    def camera_added(self, source: Any) -> None:
        if self.publisher is not None:
            self.publisher.camera_availability(source.id, True)

    def camera_removed(self, source: Any) -> None:
        if self.publisher is not None:
            self.publisher.camera_availability(source.id, False)

    def forget(self, name: str) -> dict[str, int | None]:
        """Privacy: everything about one person, here and at the core: ``mqtt_retained`` (topics
        cleared), ``local`` (captures waiting here) and ``bucket`` (captures at the core); None
        where that part is not configured."""
        retained = self.publisher.forget(name) if self.publisher is not None else None
        captures: dict[str, int | None] = dict(self.outbox.forget(name)) if self.outbox is not None \
            else {"local": None, "bucket": None}
        return {"mqtt_retained": retained, **captures}

    def status(self) -> dict[str, Any]:
        captures = self.captures
        return {"mqtt": self.publisher.status() if self.publisher else None,
                "outbox": self.outbox.status() if self.outbox else None,
                "captures": captures.counts() if captures else None}

    def close(self) -> None:
        """After the cameras stopped: their last events and 'offline's go out first."""
        if self.publisher is not None:
            self.publisher.close()
        if self.captures is not None:
            self.captures.close()
        if self.outbox is not None:
            self.outbox.close()
