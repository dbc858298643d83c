"""What each model version does at the edge: how many faces it named, found Unknown, or judged
near the match tolerance.

Counted from the recognition events (one per tracked face when it is first named or found
Unknown, and again when its name changes), since the app started. The three results exclude
each other, so they add up to every face the version judged:

- ``near_threshold``: the distance lies within ``NEAR_MARGIN`` of the tolerance, on either side
  (a named face that almost was not, or an Unknown that almost was someone);
- ``named`` / ``unknown``: the others.

``/metrics`` shows them as ``edgeface_faces_total{model_version, result}``; the MQTT publisher
sends them as a retained ``edgeface/<site>/model/<version>/stats`` message every
``EDGEFACE_MQTT_STATS_INTERVAL_S`` (docs/uplink.md). ``edgeface review --accuracy`` plots them per version.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

from edgeface.matcher import UNKNOWN

if TYPE_CHECKING:
    from edgeface.events import RecognitionEvent

NEAR_MARGIN = 0.05
RESULTS = ("named", "unknown", "near_threshold")
NO_VERSION = "none"          # a model file without a store version (a local path)


class ModelStats:
    def __init__(self, tolerance: float, near_margin: float = NEAR_MARGIN):
        self.tolerance = tolerance
        self.near_margin = near_margin
        self.since = time.time()
        self._counts: dict[str, dict[str, int]] = {}
        self._updated: dict[str, float] = {}
        self._lock = threading.Lock()      # the camera pipelines record, the scrape and MQTT read

    def result(self, name: str, distance: float) -> str:
        if abs(distance - self.tolerance) <= self.near_margin:
            return "near_threshold"
        return "unknown" if name == UNKNOWN else "named"

    def record(self, event: RecognitionEvent) -> None:
        version = event.model_version or NO_VERSION
        result = self.result(event.name, event.distance)
        with self._lock:
            counts = self._counts.setdefault(version, dict.fromkeys(RESULTS, 0))
            counts[result] += 1
            self._updated[version] = event.time

    def counts(self) -> dict[str, dict[str, int]]:
        """``{version: {result: count}}``, a copy."""
        with self._lock:
            return {version: dict(counts) for version, counts in self._counts.items()}

    def messages(self, site: str) -> dict[str, dict[str, Any]]:
        """``{version: payload}`` of the MQTT stats messages."""
        with self._lock:
            items = [(version, dict(counts), self._updated[version]) for version, counts in self._counts.items()]
        return {version: {"site": site, "model_version": version, **counts, "faces": sum(counts.values()),
                          "tolerance": self.tolerance, "near_margin": self.near_margin,
                          "since": round(self.since, 3), "updated": round(updated, 3)}
                for version, counts, updated in items}
