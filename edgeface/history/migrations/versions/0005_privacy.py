"""Privacy per camera (docs/privacy.md).

- ``cameras.privacy``: off | blur-unknown | blur-all-but-watchlist; NULL: the site's (EDGEFACE_PRIVACY);
- ``cameras.watchlist``: JSON list of the names blur-all-but-watchlist shows; NULL: the site's;
- ``cameras.captures``: allowed | denied, whether face captures may leave for the core; NULL: the site's;
- ``cameras.unblurred``: allowed | denied, whether an admin may see the live frame unblurred; NULL: denied;
- ``cameras.retention_days``: this camera's visits are kept this long; NULL: the history's age limit.

Revision ID: 0005_privacy
Revises: 0004_review
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_privacy"
down_revision = "0004_review"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cameras") as batch:
        batch.add_column(sa.Column("privacy", sa.String(32), nullable=True))
        batch.add_column(sa.Column("watchlist", sa.Text, nullable=True))
        batch.add_column(sa.Column("captures", sa.String(16), nullable=True))
        batch.add_column(sa.Column("unblurred", sa.String(16), nullable=True))
        batch.add_column(sa.Column("retention_days", sa.Float, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cameras") as batch:
        for column in ("retention_days", "unblurred", "captures", "watchlist", "privacy"):
            batch.drop_column(column)
