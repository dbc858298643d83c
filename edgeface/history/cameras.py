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

MAX_ZONE_POINTS = 64
MAX_NAME = 100
SETTINGS = ("name", "enabled", "recognition", "min_face_px", "zone", "group")


@dataclass(frozen=True)
class CameraOptions:
    """What the operator set for one camera; the defaults for a camera never configured."""
    name: str | None = None
    enabled: bool = True
    recognition: bool = True
    min_face_px: int = 0
    zone: list[list[float]] | None = None      # polygon in 0..1 frame coordinates; None: the whole frame
    group: str | None = None                   # cameras shown and searched together ("Entrances")

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


class CameraSettingsError(EdgefaceError):
    """A camera setting the API was given is not valid."""


def parse_changes(body: Any) -> dict[str, Any]:
    """Checked fields of a PATCH body; raises CameraSettingsError saying what is wrong."""
    hint = 'e.g. {"name": "Front door", "enabled": true, "recognition": true, "min_face_px": 40, ' \
           '"zone": [[0, 0], [1, 0], [1, 1]], "group": "Entrances"}'
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
    def __init__(self, engine: Engine):
        self.engine = engine

    def get(self, camera_id: str) -> CameraOptions:
        with self.engine.connect() as conn:
            row = conn.execute(select(cameras).where(cameras.c.id == camera_id)).first()
        if row is None:
            return CameraOptions()
        return CameraOptions(name=row.name, enabled=bool(row.enabled), recognition=bool(row.recognition),
                             min_face_px=row.min_face_px, zone=json.loads(row.zone) if row.zone else None,
                             group=row.group)

    def change(self, camera_id: str, changes: dict[str, Any]) -> CameraOptions:
        options = replace(self.get(camera_id), **changes)
        values = {**options.as_json(), "zone": json.dumps(options.zone) if options.zone else None,
                  "updated_at": time.time()}
        with self.engine.begin() as conn:
            if not conn.execute(update(cameras).where(cameras.c.id == camera_id).values(**values)).rowcount:
                conn.execute(insert(cameras).values(id=camera_id, **values))
        return options
