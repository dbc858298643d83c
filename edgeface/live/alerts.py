"""The alert watchlist: people — or any Unknown face — on chosen cameras and hours.

When a camera's pipeline names a face (or confirms it Unknown) and a rule of the watchlist says
so, an alert goes out at once, from that camera's thread: to the console (an ``alert`` message on
the browsers' one event stream, ``edgeface.live.marks``) and to MQTT (``edgeface/<site>/alerts``,
through the uplink's spool, so a broker outage loses none). The same rule, camera and name alert
again only after ``REPEAT_S`` (a person who stays, or whose track is picked up anew, is one alert).

``AlertWatchlist`` owns the rules; they are kept as ``alerts.json`` in the event history's folder,
written atomically (a file of its own, not a table: the per-camera privacy settings live in the
database; this list is site-wide). Hours are the site's local time (the app's time zone, ``TZ``).
Not to be confused with the privacy blur's per-camera watchlist: this one raises alerts.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from edgeface.errors import EdgefaceError
from edgeface.events import RecognitionEvent
from edgeface.matcher import UNKNOWN
from edgeface.modelfile import atomic_write

log = logging.getLogger(__name__)

#: The file's name in the event history's folder.
ALERTS_FILE = "alerts.json"
FORMAT = "edgeface-alerts"
MAX_RULES = 200
MAX_NAME = 200
#: The same rule, camera and name raise one alert in this long.
REPEAT_S = 60.0


class AlertRuleError(EdgefaceError):
    """A watchlist rule the API was given is not valid, or the saved list cannot be read."""


@dataclass(frozen=True)
class AlertRule:
    """``who``: a person's name, or ``Unknown`` (any face nobody known); ``cameras``: camera ids
    (none: every camera); ``hours``: ``[from, to]`` hours of the day, local time, ``to`` excluded
    (``[22, 6]`` runs over midnight; none: all day)."""

    who: str
    cameras: tuple[str, ...] = ()
    hours: tuple[int, int] | None = None
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    def applies(self, name: str, camera: str, when: float) -> bool:
        if name != self.who or (self.cameras and camera not in self.cameras):
            return False
        if self.hours is None:
            return True
        start, end = self.hours
        hour = datetime.fromtimestamp(when).hour        # the site's local time
        return start <= hour < end if start < end else hour >= start or hour < end

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["cameras"], out["hours"] = list(self.cameras), list(self.hours) if self.hours else None
        out["unknown"] = self.who == UNKNOWN
        return out


def parse_rule(body: Any) -> AlertRule:
    """A rule from the API's JSON: ``{"who": NAME or "Unknown", "cameras": [ids], "hours": [from, to]}``;
    AlertRuleError says what is wrong."""
    if not isinstance(body, dict):
        raise AlertRuleError("the rule must be a JSON object", 'e.g. {"who": "Jane Doe", "cameras": ["door"]}')
    unknown_keys = set(body) - {"who", "cameras", "hours"}
    if unknown_keys:
        raise AlertRuleError(f"unknown field(s): {', '.join(sorted(unknown_keys))[:100]}",
                             "a rule has who, cameras and hours")
    who = body.get("who")
    if not isinstance(who, str) or not who.strip() or len(who) > MAX_NAME or not who.isprintable():
        raise AlertRuleError("who must be a person's name or Unknown", f"printable text, at most {MAX_NAME} characters")
    cameras = body.get("cameras") or []
    if not isinstance(cameras, list) or len(cameras) > 100 or not all(isinstance(c, str) and c for c in cameras):
        raise AlertRuleError("cameras must be a list of camera ids", "leave it empty for every camera")
    hours = body.get("hours")
    if hours is not None:
        if not (isinstance(hours, list) and len(hours) == 2 and all(type(h) is int and 0 <= h <= 24 for h in hours)
                and hours[0] != hours[1]):
            raise AlertRuleError("hours must be [from, to], two different whole hours 0-24",
                                 "e.g. [22, 6] for 22:00 to 06:00; leave it out for all day")
        hours = (hours[0] % 24, hours[1] % 24) if hours != [0, 24] else None
    return AlertRule(who.strip(), tuple(dict.fromkeys(cameras)), tuple(hours) if hours else None)


class AlertWatchlist:
    """The rules, kept in ``path``; ``check(event)`` raises the alerts an event calls for through
    ``send`` (each a JSON-ready dict). Called from the camera threads and the web's."""

    def __init__(self, path: str | os.PathLike, send: Callable[[dict], object], site: str = "edge",
                 camera_name: Callable[[str], str] = str):
        self.path = Path(path)
        self.send = send
        self.site = site
        self.camera_name = camera_name
        self._lock = threading.Lock()
        self._last: dict[tuple[str, str, str], float] = {}     # (rule, camera, name) -> when alerted
        self.error: str | None = None
        self._rules = self._load()

    def rules(self) -> list[AlertRule]:
        return list(self._rules)

    def add(self, rule: AlertRule) -> AlertRule:
        with self._lock:
            if len(self._rules) >= MAX_RULES:
                raise AlertRuleError(f"the alert watchlist holds {MAX_RULES} rules already", "remove one first")
            self._save([*self._rules, rule])
        return rule

    def remove(self, rule_id: str) -> bool:
        with self._lock:
            kept = [r for r in self._rules if r.id != rule_id]
            if len(kept) == len(self._rules):
                return False
            self._save(kept)
        return True

    def check(self, event: RecognitionEvent) -> list[dict]:
        """The alerts ``event`` raises (sent already); [] for most events."""
        rules = self._rules        # a tuple swapped whole by add/remove: no lock on the hot path
        if not rules:
            return []
        raised = []
        for rule in rules:
            if not rule.applies(event.name, event.camera, event.time):
                continue
            key = (rule.id, event.camera, event.name)
            with self._lock:
                if event.time - self._last.get(key, float("-inf")) < REPEAT_S:
                    continue
                self._last[key] = event.time
            alert = self._alert(rule, event)
            try:
                self.send(alert)
            except Exception:     # an alert that cannot go out must not stop the camera
                log.exception("alert %s could not be sent", alert["message_id"])
            raised.append(alert)
        return raised

    def _alert(self, rule: AlertRule, event: RecognitionEvent) -> dict:
        return {"type": "alert", "message_id": f"alert-{event.id}-{rule.id}", "rule": rule.id, "who": rule.who,
                "unknown": event.name == UNKNOWN, "name": event.name, "site": self.site, "camera": event.camera,
                "camera_name": self.camera_name(event.camera), "distance": round(event.distance, 4),
                "recognition_id": event.id, "seen_at": event.time,
                "seen_at_iso": datetime.fromtimestamp(event.time, timezone.utc).isoformat(timespec="milliseconds"),
                "sent_at": time.time()}

    def _load(self) -> tuple[AlertRule, ...]:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return ()
        except (OSError, ValueError) as err:
            self.error = (f"{self.path}: not readable JSON ({type(err).__name__}); "
                          "no alerts until it is fixed or removed")
            log.error("alert watchlist: %s", self.error)
            return ()
        try:
            if data.get("format") != FORMAT:
                raise AlertRuleError(f"not an {FORMAT} file")
            rules = []
            for entry in data["rules"]:
                rule = parse_rule({k: entry.get(k) for k in ("who", "cameras", "hours")})
                rules.append(AlertRule(rule.who, rule.cameras, rule.hours, str(entry["id"])))
            return tuple(rules)
        except (AlertRuleError, AttributeError, KeyError, TypeError) as err:
            self.error = f"{self.path}: {err}; no alerts until it is fixed or removed"
            log.error("alert watchlist: %s", self.error)
            return ()

    def _save(self, rules: list[AlertRule]) -> None:
        body = {"format": FORMAT, "rules": [r.as_json() for r in rules]}
        atomic_write(self.path, json.dumps(body, indent=1).encode())
        self._rules, self.error = tuple(rules), None
