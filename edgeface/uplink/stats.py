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

A candidate version under shadow evaluation (``edgeface model push --candidate``) is counted too:
every face encoding the serving version matched is matched against the candidate, and the pair
of decisions counted per camera (``SHADOW_RESULTS``); its stats message carries them as ``shadow``.
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
#: A face matched by the serving version and the candidate: the same decision, Unknown -> a name,
#: a name -> Unknown, or one name -> another (what must stop a rollout).
SHADOW_RESULTS = ("same", "newly_named", "newly_unknown", "changed_name")
NO_VERSION = "none"          # a model file without a store version (a local path)


class ModelStats:
    def __init__(self, tolerance: float, near_margin: float = NEAR_MARGIN):
        self.tolerance = tolerance
        self.near_margin = near_margin
        self.since = time.time()
        self._counts: dict[str, dict[str, int]] = {}
        self._updated: dict[str, float] = {}
        self._shadow: dict[str, dict[str, dict[str, int]]] = {}    # candidate -> camera -> result -> faces
        self._against: dict[str, str] = {}                         # candidate -> the serving version
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

    def record_shadow(self, camera: str, serving: str, candidate: str, result: str) -> None:
        with self._lock:
            cameras = self._shadow.setdefault(candidate, {})
            cameras.setdefault(camera, dict.fromkeys(SHADOW_RESULTS, 0))[result] += 1
            self._against[candidate] = serving
            self._counts.setdefault(candidate, dict.fromkeys(RESULTS, 0))
            self._updated[candidate] = time.time()

    def shadow(self) -> dict[str, dict[str, dict[str, int]]]:
        """``{candidate: {camera: {result: faces}}}``, a copy."""
        with self._lock:
            return {v: {c: dict(r) for c, r in cams.items()} for v, cams in self._shadow.items()}

    def counts(self) -> dict[str, dict[str, int]]:
        """``{version: {result: count}}``, a copy."""
        with self._lock:
            return {version: dict(counts) for version, counts in self._counts.items()}

    def messages(self, site: str) -> dict[str, dict[str, Any]]:
        """``{version: payload}`` of the MQTT stats messages."""
        with self._lock:
            items = [(version, dict(counts), self._updated[version]) for version, counts in self._counts.items()]
        shadow = self.shadow()
        return {version: {"site": site, "model_version": version, **counts, "faces": sum(counts.values()),
                          "tolerance": self.tolerance, "near_margin": self.near_margin,
                          "since": round(self.since, 3), "updated": round(updated, 3),
                          **({"shadow": self._shadow_message(version, shadow[version])} if version in shadow else {})}
                for version, counts, updated in items}

    def _shadow_message(self, candidate: str, cameras: dict[str, dict[str, int]]) -> dict[str, Any]:
        totals = {r: sum(c[r] for c in cameras.values()) for r in SHADOW_RESULTS}
        return {"against": self._against.get(candidate), **totals, "compared": sum(totals.values()),
                "cameras": cameras}
