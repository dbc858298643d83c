"""The operator's per-camera settings, kept in the history database (``cameras`` table)."""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, replace
from typing import Any

from sqlalchemy import Engine, insert, select, update

from edgeface.errors import EdgefaceError
from edgeface.history.schema import cameras
from edgeface.privacy import CONSENTS, PRIVACY_MODES, hidden
from edgeface.settings import CameraSettings

MAX_ZONE_POINTS = 64
MAX_NAME = 100
MAX_WATCHLIST = 200
MAX_RETENTION_DAYS = 3650.0
SETTINGS = ("name", "enabled", "recognition", "min_face_px", "zone", "group", "privacy", "watchlist", "captures",
            "unblurred", "retention_days")
PRIVACY_SETTINGS = ("privacy", "watchlist", "captures", "unblurred", "retention_days")
#: Settings a camera may leave to the site (None in its row): the site's value then applies.
SITE_DEFAULTS = ("privacy", "watchlist", "captures")


@dataclass(frozen=True)
class CameraOptions:
    """What the operator set for one camera; the defaults for a camera never configured."""
    name: str | None = None
    enabled: bool = True
    recognition: bool = True
    min_face_px: int = 0
    zone: list[list[float]] | None = None      # polygon in 0..1 frame coordinates; None: the whole frame
    group: str | None = None                   # cameras shown and searched together ("Entrances")
    # Privacy (docs/privacy.md). None: the site's setting (EDGEFACE_PRIVACY, _WATCHLIST, EDGEFACE_CAPTURES).
    privacy: str | None = None                 # off | blur-unknown | blur-all-but-watchlist
    watchlist: list[str] | None = None         # the names blur-all-but-watchlist shows
    captures: str | None = None                # allowed | denied: face captures may leave for the core
    unblurred: str = "denied"                  # allowed: an admin may see the live frame unblurred (audited)
    retention_days: float | None = None        # this camera's visits kept so long; None: the history's age limit

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    def hides(self, name: str | None) -> bool:
        """Whether a face named ``name`` (None: not yet named) is blurred on this camera."""
        return hidden(self.privacy or "off", name, self.watchlist or ())

    @property
    def captures_allowed(self) -> bool:
        return self.captures == "allowed"


class CameraSettingsError(EdgefaceError):
    """A camera setting the API was given is not valid."""


def parse_changes(body: Any) -> dict[str, Any]:
    """Checked fields of a PATCH body; raises CameraSettingsError saying what is wrong."""
    hint = 'e.g. {"name": "Front door", "enabled": true, "recognition": true, "min_face_px": 40, ' \
           '"zone": [[0, 0], [1, 0], [1, 1]], "group": "Entrances", "privacy": "blur-unknown"}'
    if not isinstance(body, dict) or not body:
        raise CameraSettingsError("expected a JSON object with at least one setting", hint)
    unknown = set(body) - set(SETTINGS)
    if unknown:
        raise CameraSettingsError(f"unknown setting(s): {', '.join(sorted(map(str, unknown)))}", hint)
    out: dict[str, Any] = {}
    for key in ("name", "group"):
        if key in body:
            out[key] = _text(body[key], key, hint)
    for key in ("enabled", "recognition"):
        if key in body:
            if not isinstance(body[key], bool):
                raise CameraSettingsError(f"'{key}' must be true or false", hint)
            out[key] = body[key]
    if "min_face_px" in body:
        px = body["min_face_px"]
        if isinstance(px, bool) or not isinstance(px, int) or not 0 <= px <= 4096:
            raise CameraSettingsError("'min_face_px' must be a whole number of pixels, 0-4096 (0: no minimum)", hint)
        out["min_face_px"] = px
    if "zone" in body:
        out["zone"] = _zone(body["zone"], hint)
    out.update(parse_privacy(body))
    return out


def parse_privacy(body: dict[str, Any]) -> dict[str, Any]:
    """The privacy settings of a PATCH body, checked (null: back to the site's setting)."""
    hint = ('e.g. {"privacy": "blur-unknown", "captures": "denied", "unblurred": "denied", '
            '"watchlist": ["Jane Doe"], "retention_days": 7} (docs/privacy.md)')
    out: dict[str, Any] = {}
    for key, allowed in (("privacy", PRIVACY_MODES), ("captures", CONSENTS), ("unblurred", CONSENTS)):
        if key in body:
            value = body[key]
            if value not in allowed and not (value is None and key in SITE_DEFAULTS):
                null = " or null (the site's setting)" if key in SITE_DEFAULTS else ""
                raise CameraSettingsError(f"'{key}' must be one of {', '.join(allowed)}{null}", hint)
            out[key] = value
    if "watchlist" in body:
        names = body["watchlist"]
        if names is not None and (not isinstance(names, list) or len(names) > MAX_WATCHLIST):
            raise CameraSettingsError(f"'watchlist' must be a list of at most {MAX_WATCHLIST} names, or null", hint)
        out["watchlist"] = None if names is None else sorted({n for n in (_text(v, "watchlist", hint) for v in names)
                                                              if n})
    if "retention_days" in body:
        days = body["retention_days"]
        if days is not None and (isinstance(days, bool) or not isinstance(days, (int, float)) or not math.isfinite(days)
                                 or not 0 < days <= MAX_RETENTION_DAYS):
            raise CameraSettingsError(f"'retention_days' must be a number of days above 0 and at most "
                                      f"{MAX_RETENTION_DAYS:g}, or null (the history's age limit)", hint)
        out["retention_days"] = None if days is None else float(days)
    return out


def _text(value: Any, key: str, hint: str) -> str | None:
    """Printable text of at most MAX_NAME characters, stripped; None for null or blank."""
    if value is not None and (not isinstance(value, str) or len(value.strip()) > MAX_NAME
                              or not all(ch.isprintable() for ch in value)):
        raise CameraSettingsError(f"'{key}' must be printable text of at most {MAX_NAME} characters", hint)
    return value.strip() or None if isinstance(value, str) else None


def _zone(zone: Any, hint: str) -> list[list[float]] | None:
    if zone is None:
        return None
    problem = (f"'zone' must be null or a list of 3-{MAX_ZONE_POINTS} [x, y] points with x and y "
               "between 0 and 1 (fractions of the frame's width and height)")
    if not isinstance(zone, list) or not 3 <= len(zone) <= MAX_ZONE_POINTS:
        raise CameraSettingsError(problem, hint)
    points = []
    for point in zone:
        if (not isinstance(point, list) or len(point) != 2
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                           and 0 <= v <= 1 for v in point)):
            raise CameraSettingsError(problem, hint)
        points.append([float(point[0]), float(point[1])])
    return points


class CameraSettingsStore:
    """The camera rows; ``site``: the settings a camera leaves to the site (privacy, watchlist, captures)."""

    def __init__(self, engine: Engine, site: CameraSettings | None = None):
        self.engine = engine
        self.site = site or CameraSettings()

    def get(self, camera_id: str) -> CameraOptions:
        """What applies to the camera: its own settings, the site's where it has none."""
        return self.effective(self.own(camera_id))

    def own(self, camera_id: str) -> CameraOptions:
        """The camera's row as set (None where it follows the site)."""
        with self.engine.connect() as conn:
            row = conn.execute(select(cameras).where(cameras.c.id == camera_id)).first()
        if row is None:
            return CameraOptions()
        return CameraOptions(name=row.name, enabled=bool(row.enabled), recognition=bool(row.recognition),
                             min_face_px=row.min_face_px, zone=json.loads(row.zone) if row.zone else None,
                             group=row.group, privacy=row.privacy,
                             watchlist=json.loads(row.watchlist) if row.watchlist is not None else None,
                             captures=row.captures, unblurred=row.unblurred or "denied",
                             retention_days=row.retention_days)

    def effective(self, options: CameraOptions) -> CameraOptions:
        site = self.site
        return replace(options, privacy=options.privacy or site.privacy, captures=options.captures or site.captures,
                       watchlist=list(site.watchlist) if options.watchlist is None else options.watchlist)

    def change(self, camera_id: str, changes: dict[str, Any]) -> CameraOptions:
        """Apply ``changes`` (checked by ``parse_changes``) to the camera's own settings; what applies now."""
        options = replace(self.own(camera_id), **changes)
        values = {**options.as_json(), "zone": json.dumps(options.zone) if options.zone else None,
                  "watchlist": None if options.watchlist is None else json.dumps(options.watchlist),
                  "updated_at": time.time()}
        with self.engine.begin() as conn:
            if not conn.execute(update(cameras).where(cameras.c.id == camera_id).values(**values)).rowcount:
                conn.execute(insert(cameras).values(id=camera_id, **values))
        return self.effective(options)
