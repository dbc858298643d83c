"""The history tables (SQLAlchemy Core). Changes go through a new Alembic revision in
``migrations/versions``; this module is what the newest revision produces, for the queries."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

#: One row per visit: one person's (or one Unknown face's) presence on one camera.
events = Table(
    "events", metadata,
    Column("id", String(32), primary_key=True),
    Column("camera", String(128), nullable=False),
    Column("name", Text, nullable=False),                # matcher.UNKNOWN for Unknown faces
    Column("unknown", Boolean, nullable=False),
    Column("started_at", Float, nullable=False),         # epoch seconds
    Column("last_seen", Float, nullable=False),
    Column("ended", Boolean, nullable=False, default=False),
    Column("best_distance", Float, nullable=True),
    Column("box", Text, nullable=True),                  # JSON [top, right, bottom, left] of the best snapshot
    Column("tracks", Text, nullable=False, default="[]"),   # JSON list of track ids
    Column("model_version", String(64), nullable=True),
    Column("score", Float, nullable=False, default=0.0),    # history.shots.shot_score of the best snapshot
    Column("face_path", Text, nullable=True),            # relative to the events directory
    Column("frame_path", Text, nullable=True),
    Column("bytes", Integer, nullable=False, default=0),    # of both snapshot files
    Column("embedding", LargeBinary, nullable=True),     # float32 x 128 of the best look
    Column("label", Text, nullable=True),                # an operator's "this is ..."
    Column("labelled_by_role", String(16), nullable=True),
    Column("labelled_at", Float, nullable=True),
    Column("reviewed_at", Float, nullable=True),         # an operator marked it reviewed (NULL: not yet)
    Column("reviewed_by_role", String(16), nullable=True),
    Column("model_versions", Text, nullable=True),       # JSON list when several models named the visit
    Column("stranger", Integer, nullable=True),          # the repeat stranger's group of an Unknown visit
)

# Every listing is newest first on (started_at, id), with or without one of these filters.
Index("ix_events_time", events.c.started_at, events.c.id)
Index("ix_events_camera_time", events.c.camera, events.c.started_at, events.c.id)
Index("ix_events_name_time", events.c.name, events.c.started_at, events.c.id)
Index("ix_events_unknown_time", events.c.unknown, events.c.started_at, events.c.id)
Index("ix_events_model_time", events.c.model_version, events.c.started_at, events.c.id)
Index("ix_events_last_seen", events.c.last_seen)
Index("ix_events_stranger", events.c.stranger, events.c.last_seen)

#: Repeat strangers: groups of Unknown visits whose faces are alike ("Unknown 17"), site-local.
strangers = Table(
    "strangers", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("centroid", LargeBinary, nullable=False),     # float32 x 128: the mean of its visits' faces
    Column("faces", Integer, nullable=False),            # how many visits made the mean
    Column("created_at", Float, nullable=False),
    Column("name", Text, nullable=True),                 # an operator named the whole group
    Column("named_by_role", String(16), nullable=True),
    Column("named_at", Float, nullable=True),
    sqlite_autoincrement=True,
)

#: Operator settings per camera; a camera without a row has the defaults.
cameras = Table(
    "cameras", metadata,
    Column("id", String(128), primary_key=True),
    Column("name", Text, nullable=True),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("recognition", Boolean, nullable=False, default=True),
    Column("min_face_px", Integer, nullable=False, default=0),
    Column("zone", Text, nullable=True),                 # JSON [[x, y], ...] in 0..1, or NULL
    Column("group", Text, nullable=True),                # the operator's group ("Entrances"), or NULL
    Column("updated_at", Float, nullable=False),
    # Privacy (edgeface.privacy); NULL privacy, watchlist or captures: the site's setting.
    Column("privacy", String(32), nullable=True),
    Column("watchlist", Text, nullable=True),            # JSON list of names
    Column("captures", String(16), nullable=True),       # allowed | denied
    Column("unblurred", String(16), nullable=True),      # allowed | denied (NULL: denied)
    Column("retention_days", Float, nullable=True),      # NULL: the history's age limit
)

#: Clips: a camera's shown frames (blurred as its privacy requires) around faces, as WebM files
#: (edgeface.history.clips). A visit's clips are its camera's clips that overlap its time span.
clips = Table(
    "clips", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("camera", String(128), nullable=False),
    Column("started_at", Float, nullable=False),         # epoch seconds of the first frame
    Column("ended_at", Float, nullable=False),           # of the last frame
    Column("path", Text, nullable=False),                # relative to the events directory
    Column("bytes", Integer, nullable=False),
    Column("frames", Integer, nullable=False),
)

Index("ix_clips_camera_time", clips.c.camera, clips.c.started_at)
Index("ix_clips_ended", clips.c.ended_at)
