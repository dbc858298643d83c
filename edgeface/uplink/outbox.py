"""Face captures from the edge to the core's S3 bucket, through a durable on-disk outbox.

A capture is the face crop (the face with a margin), its context frame and a JSON sidecar
(embedding, model version, distance, camera, time, site, quality, and where the face is in the
crop: ``face_box`` and its 5 ``landmarks``, which training falls back on). :meth:`Outbox.add`
writes it to the spool directory atomically (``edgeface.uplink.spool``) and returns at once; a
background thread ships the oldest first to
``s3://BUCKET/captures/<site>/<camera>/<YYYY-MM-DD>/<id>.{jpg,frame.jpg,json}`` (the sidecar
last: a capture is complete at the core once its ``.json`` exists) and deletes it locally only
after S3 accepted all its parts. S3 down: it retries with backoff; app restarted: the spool is
still there. Within ``quota_bytes`` nothing is lost; past it the oldest captures go first and
are counted (``dropped``). Captures older than ``retention_days`` are deleted from the spool,
and :meth:`forget` deletes everything about one name, at the edge and in the bucket.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from edgeface.errors import EdgefaceError
from edgeface.lifecycle import LogOnChange, Service
from edgeface.s3config import S3Settings, s3_client
from edgeface.uplink.quality import UNKNOWN
from edgeface.uplink.spool import MAIN, Spool

log = logging.getLogger(__name__)

PREFIX = "captures"
#: spool part -> object name suffix (".jpg" is the face crop, ".frame.jpg" the whole frame)
PARTS = {".jpg": ".jpg", ".frame_jpg": ".frame.jpg", MAIN: ".json"}
BACKOFF_MAX_S = 60.0
EXPIRE_EVERY_S = 60.0


@dataclass
class Capture:
    camera: str
    face_jpeg: bytes
    frame_jpeg: bytes | None
    seen_at: float
    name: str = UNKNOWN                   # the match result: Unknown or the doubtful name
    distance: float | None = None
    embedding: Sequence[float] | None = None
    model_version: str | None = None
    box: Sequence[int] | None = None      # [top, right, bottom, left] in the camera frame
    reason: str = "unknown"               # why it was kept: unknown, doubtful, sample or labelled
    quality: dict[str, Any] | None = None
    label: str | None = None              # an operator's "this is Jane Doe" (a training candidate)
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    face_box: Sequence[int] | None = None     # [top, right, bottom, left] in face_jpeg
    landmarks: Sequence[Sequence[int]] | None = None     # dlib's 5 points in face_jpeg
    merged: int = 0                       # near-duplicate faces of the same visit folded into this one

    def sidecar(self, site: str) -> dict[str, Any]:
        return {"id": self.id, "site": site, "camera": self.camera, "seen_at": self.seen_at,
                "seen_at_iso": datetime.fromtimestamp(self.seen_at, timezone.utc).isoformat(timespec="milliseconds"),
                "name": self.name, "distance": None if self.distance is None else round(float(self.distance), 4),
                "model_version": self.model_version, "box": list(self.box) if self.box is not None else None,
                "reason": self.reason, "label": self.label, "quality": self.quality,
                "face_box": [int(v) for v in self.face_box] if self.face_box is not None else None,
                "landmarks": [[int(x), int(y)] for x, y in self.landmarks] if self.landmarks else None,
                "merged": self.merged,
                "embedding": [round(float(v), 6) for v in self.embedding] if self.embedding is not None else None}


def capture_key(sidecar: dict[str, Any], suffix: str, prefix: str = PREFIX) -> str:
    """``captures/<site>/<camera>/<YYYY-MM-DD>/<id><suffix>`` (the date in UTC)."""
    day = datetime.fromtimestamp(float(sidecar["seen_at"]), timezone.utc).strftime("%Y-%m-%d")
    camera = str(sidecar["camera"]).replace("/", "_")
    return f"{prefix}/{sidecar['site']}/{camera}/{day}/{sidecar['id']}{suffix}"


class Outbox(Service):
    def __init__(self, directory: str, site: str, s3: S3Settings | None = None, *, quota_bytes: int = 500 << 20,
                 retention_days: float = 30.0, prefix: str = PREFIX):
        super().__init__("capture-outbox")
        self.site = site
        self.prefix = prefix
        self.s3 = s3 or S3Settings.from_env()
        self.retention_days = retention_days
        self.spool = Spool(directory, max_bytes=quota_bytes)
        self.shipped = 0
        self.expired = 0
        self.failures = 0
        self.last_error: str | None = None
        self._problems = LogOnChange()     # an S3 outage is logged once a minute, not at every retry
        self._client = None
        self._new = threading.Event()
        self._ship_lock = threading.Lock()      # one shipper at a time (thread, forget, tests)

    # -- the app's side ------------------------------------------------------------------------
    def add(self, capture: Capture) -> str:
        """Keep a capture for shipping; returns at once (disk write only)."""
        parts = {".jpg": capture.face_jpeg, MAIN: json.dumps(capture.sidecar(self.site)).encode()}
        if capture.frame_jpeg:
            parts[".frame_jpg"] = capture.frame_jpeg
        stem = self.spool.put(parts, capture.id)
        self._new.set()
        return stem

    def _wake(self) -> None:
        self._new.set()

    def status(self) -> dict[str, Any]:
        return {"pending": len(self.spool), "pending_bytes": self.spool.bytes, "shipped": self.shipped,
                "dropped": self.spool.dropped, "expired": self.expired, "failures": self.failures,
                "last_error": self.last_error}

    # -- shipping ---------------------------------------------------------------------------------
    def run(self) -> None:
        backoff, next_expiry = 1.0, 0.0
        while not self.stopping:
            self._new.clear()          # before shipping: a capture added meanwhile wakes the wait below
            if time.monotonic() >= next_expiry:
                self.expire()
                next_expiry = time.monotonic() + EXPIRE_EVERY_S
            try:
                self.ship_pending()
                backoff = 1.0
                if self._problems.clear():
                    log.info("outbox: S3 is back; %d captures shipped so far", self.shipped)
                self._new.wait(EXPIRE_EVERY_S)
            except Exception as err:  # noqa: BLE001 - S3 down or refusing: keep everything, retry later
                self.failures += 1
                self.last_error = type(err).__name__
                if self._problems.fresh(self.last_error):
                    log.warning("outbox: S3 %s unavailable (%s); %d captures wait, retrying with backoff",
                                self.s3.endpoint or "default", self.last_error, len(self.spool))
                self.wait(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX_S)

    def ship_pending(self) -> int:
        """Ship every waiting capture, oldest first; raises on the first S3 failure."""
        shipped = 0
        with self._ship_lock:
            for stem in self.spool.stems():
                if self.stopping:
                    break
                raw = self.spool.read(stem)
                if raw is None:
                    continue       # dropped or forgotten meanwhile
                sidecar = json.loads(raw)
                client = self._s3()
                for part in self.spool.suffixes(stem):      # the sidecar last
                    body = raw if part == MAIN else self.spool.read(stem, part)
                    if body is None:
                        continue
                    client.put_object(Bucket=self.s3.bucket, Key=capture_key(sidecar, PARTS[part], self.prefix),
                                      Body=body, ContentType="application/json" if part == MAIN else "image/jpeg")
                self.spool.remove(stem)
                self.shipped += 1
                shipped += 1
        return shipped

    def _s3(self):
        if self._client is None:
            self._client = s3_client(self.s3)
        return self._client

    # -- retention and privacy ---------------------------------------------------------------------
    def expire(self, now: float | None = None) -> int:
        """Delete waiting captures older than ``retention_days`` (by when they were kept)."""
        cutoff_ns = int(((now or time.time()) - self.retention_days * 86400) * 1e9)
        gone = 0
        for stem in self.spool.stems():
            if int(stem.split("-", 1)[0]) >= cutoff_ns:
                break       # oldest first: the rest are younger
            gone += self.spool.remove(stem)
        if gone:
            self.expired += gone
            log.info("outbox: %d captures older than %g days deleted", gone, self.retention_days)
        return gone

    def forget(self, name: str, in_bucket: bool = True) -> dict[str, int]:
        """Delete every capture named or labelled ``name``: waiting ones here, shipped ones in S3."""
        if not name or name == UNKNOWN:
            raise EdgefaceError(f"cannot forget {name!r}: that is not one person",
                                "give the name exactly as it appears in the captures")
        local = 0
        with self._ship_lock:
            for stem in self.spool.stems():
                raw = self.spool.read(stem)
                if raw is not None and name in _names(json.loads(raw)):
                    local += self.spool.remove(stem)
        remote = self._forget_in_bucket(name) if in_bucket else 0
        log.info("outbox: forgot %d waiting and %d shipped captures of one person", local, remote)
        return {"local": local, "bucket": remote}

    def _forget_in_bucket(self, name: str) -> int:
        client = self._s3()
        paginator = client.get_paginator("list_objects_v2")
        gone = 0
        for page in paginator.paginate(Bucket=self.s3.bucket, Prefix=f"{self.prefix}/{self.site}/"):
            for obj in page.get("Contents", []):
                key = obj["Key"]
                if not key.endswith(".json"):
                    continue
                sidecar = json.loads(client.get_object(Bucket=self.s3.bucket, Key=key)["Body"].read())
                if name not in _names(sidecar):
                    continue
                stem = key[: -len(".json")]
                client.delete_objects(Bucket=self.s3.bucket, Delete={"Objects": [
                    {"Key": stem + suffix} for suffix in PARTS.values()]})
                gone += 1
        return gone


def _names(sidecar: dict[str, Any]) -> set[str]:
    return {str(v) for v in (sidecar.get("name"), sidecar.get("label")) if v}
