"""Visits (events) with snapshots on disk, and camera settings.

Revision ID: 0001
Revises:
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("camera", sa.String(128), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("unknown", sa.Boolean, nullable=False),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("last_seen", sa.Float, nullable=False),
        sa.Column("ended", sa.Boolean, nullable=False),
        sa.Column("best_distance", sa.Float, nullable=True),
        sa.Column("box", sa.Text, nullable=True),
        sa.Column("tracks", sa.Text, nullable=False),
        sa.Column("model_version", sa.String(64), nullable=True),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("face_path", sa.Text, nullable=True),
        sa.Column("frame_path", sa.Text, nullable=True),
        sa.Column("bytes", sa.Integer, nullable=False),
        sa.Column("embedding", sa.LargeBinary, nullable=True),
        sa.Column("label", sa.Text, nullable=True),
        sa.Column("labelled_by_role", sa.String(16), nullable=True),
        sa.Column("labelled_at", sa.Float, nullable=True),
    )
    op.create_index("ix_events_time", "events", ["started_at", "id"])
    op.create_index("ix_events_camera_time", "events", ["camera", "started_at", "id"])
    op.create_index("ix_events_name_time", "events", ["name", "started_at", "id"])
    op.create_index("ix_events_unknown_time", "events", ["unknown", "started_at", "id"])
    op.create_index("ix_events_model_time", "events", ["model_version", "started_at", "id"])
    op.create_index("ix_events_last_seen", "events", ["last_seen"])
    op.create_table(
        "cameras",
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("name", sa.Text, nullable=True),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("recognition", sa.Boolean, nullable=False),
        sa.Column("min_face_px", sa.Integer, nullable=False),
        sa.Column("zone", sa.Text, nullable=True),
        sa.Column("updated_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("cameras")
    op.drop_table("events")
