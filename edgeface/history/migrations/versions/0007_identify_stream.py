"""A camera's identify (main) stream: faces are cropped from it (``edgeface.cameras.identify``).

``cameras.identify_url``: its URL, credentials removed (they are in the credentials file, as the
detect URL's are); NULL: the camera has none.

Revision ID: 0007_identify_stream
Revises: 0006_strangers
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_identify_stream"
down_revision = "0006_strangers"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cameras") as batch:
        batch.add_column(sa.Column("identify_url", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cameras") as batch:
        batch.drop_column("identify_url")
