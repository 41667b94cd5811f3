"""Parcels remember whether a line named gear (what an officer notices in a party's past).

Parcels recorded before this revision count as not naming gear: their descriptions are in
the audit trail, but re-reading every scoring to fill the column would hold a large store's
upgrade for long; history built from then on counts it.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("parcels") as batch:
        batch.add_column(
            sa.Column("names_gear", sa.Boolean, nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("parcels") as batch:
        batch.drop_column("names_gear")
