"""Importing the event store of earlier versions (``events.jsonl`` + ``<id>.jpg`` in the events
folder) into the history, once: each old event becomes an ended visit with its face snapshot."""

from __future__ import annotations

import json
import logging
import os
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import Engine, insert

from edgeface.history.schema import events
from edgeface.matcher import UNKNOWN

log = logging.getLogger(__name__)

LEGACY_FILE = "events.jsonl"


def import_jsonl(engine: Engine, directory: Path, snapshots: str) -> int:
    """Import ``directory/events.jsonl`` if there is one, then rename it ``.imported``; how many."""
    path = directory / LEGACY_FILE
    if not path.is_file():
        return 0
    rows = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            old = json.loads(line)
            event_id, started = str(old["id"]), float(old["time"])
            row = {"id": event_id[:32], "camera": str(old["camera"]), "name": str(old["name"]),
                   "unknown": old["name"] == UNKNOWN, "started_at": started, "last_seen": started, "ended": True,
                   "best_distance": float(old["distance"]), "box": json.dumps([int(v) for v in old["box"]]),
                   "tracks": json.dumps([int(old.get("track", 0))]), "model_version": old.get("model_version"),
                   "score": 0.0, "bytes": 0, "face_path": None}     # every row the same keys: one executemany
        except (ValueError, KeyError, TypeError):
            continue                    # a torn line from a crash
        jpeg = directory / f"{event_id}.jpg"
        if jpeg.is_file() and "/" not in event_id:
            day = datetime.fromtimestamp(started, timezone.utc).strftime("%Y-%m-%d")
            (directory / snapshots / day).mkdir(parents=True, exist_ok=True)
            row["face_path"] = f"{snapshots}/{day}/{row['id']}.face.jpg"
            os.replace(jpeg, directory / row["face_path"])
            row["bytes"] = (directory / row["face_path"]).stat().st_size
        rows[row["id"]] = row
    with engine.begin() as conn:
        if rows:
            conn.execute(insert(events).prefix_with("OR IGNORE"), list(rows.values()))
    os.replace(path, path.with_suffix(".jsonl.imported"))
    log.info("history: %d events of the earlier event store imported from %s", len(rows), path)
    return len(rows)
