"""Cameras added by operators survive restarts: their URL (credentials removed) in ``cameras``.

The credentials themselves are not in the database (which is copied, backed up and queried):
``edgeface.cameras.config`` keeps them in a 0600 file beside it.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cameras") as batch:
        batch.add_column(sa.Column("url", sa.Text, nullable=True))          # redacted; NULL: not an added camera
        batch.add_column(sa.Column("origin", sa.String(16), nullable=True))  # "api" or "discovered"
        batch.add_column(sa.Column("added_at", sa.Float, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cameras") as batch:
        batch.drop_column("added_at")
        batch.drop_column("origin")
        batch.drop_column("url")
