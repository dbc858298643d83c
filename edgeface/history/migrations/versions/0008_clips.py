"""Clips: a visit's short video (the camera's shown frames around its sightings, WebM).

- ``clips``: one row per recorded segment of a camera: its time span, file and size; a visit's
  clips are the rows on its camera that overlap its span (no foreign key: one segment can show
  several visits, and a visit several segments).

Revision ID: 0008_clips
Revises: 0007_identify_stream
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_clips"
down_revision = "0007_identify_stream"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "clips",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("camera", sa.String(128), nullable=False),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("ended_at", sa.Float, nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("bytes", sa.Integer, nullable=False),
        sa.Column("frames", sa.Integer, nullable=False),
    )
    op.create_index("ix_clips_camera_time", "clips", ["camera", "started_at"])
    op.create_index("ix_clips_ended", "clips", ["ended_at"])


def downgrade() -> None:
    op.drop_index("ix_clips_ended", "clips")
    op.drop_index("ix_clips_camera_time", "clips")
    op.drop_table("clips")
