"""Repeat strangers: a stable site-local id for an Unknown face seen again.

- ``strangers``: one row per group of Unknown visits whose faces are alike ("Unknown 17"): the
  mean of its visits' embeddings (what a new Unknown visit is compared with) and how many made it;
  ``name`` once an operator named the whole group;
- ``events.stranger``: the group of an Unknown visit (NULL: named, or no embedding to compare).

Revision ID: 0006_strangers
Revises: 0005_privacy
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_strangers"
down_revision = "0005_privacy"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "strangers",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("centroid", sa.LargeBinary, nullable=False),
        sa.Column("faces", sa.Integer, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("name", sa.Text, nullable=True),
        sa.Column("named_by_role", sa.String(16), nullable=True),
        sa.Column("named_at", sa.Float, nullable=True),
        sqlite_autoincrement=True,      # an id is never given again, even after its group is merged away
    )
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("stranger", sa.Integer, nullable=True))
        batch.create_index("ix_events_stranger", ["stranger", "last_seen"])


def downgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.drop_index("ix_events_stranger")
        batch.drop_column("stranger")
    op.drop_table("strangers")
