"""The review workflow, honest model versions on visits, camera groups.

- ``reviewed_at`` / ``reviewed_by_role``: an operator marked the visit reviewed (NULL: not yet);
- ``model_versions``: JSON list of every model version that named the visit, in order, when more
  than one did (a hot reload during the visit); ``model_version`` stays the one that named it first;
- ``cameras.group``: the operator's group of a camera (e.g. "Entrances"); NULL: none.

Revision ID: 0004_review
Revises: 0003_audit
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_review"
down_revision = "0003_audit"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("reviewed_at", sa.Float, nullable=True))
        batch.add_column(sa.Column("reviewed_by_role", sa.String(16), nullable=True))
        batch.add_column(sa.Column("model_versions", sa.Text, nullable=True))
    with op.batch_alter_table("cameras") as batch:
        batch.add_column(sa.Column("group", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cameras") as batch:
        batch.drop_column("group")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("model_versions")
        batch.drop_column("reviewed_by_role")
        batch.drop_column("reviewed_at")
