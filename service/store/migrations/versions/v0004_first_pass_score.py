"""Scorings and parcels keep the parcel's first-pass score: its score on its own form and
its parties' counts, before the parties' earlier scores are read. A later parcel of the
same sender or recipient reads the highest of them (`training.history.PRIOR_FACTS`).

Parcels recorded before this revision have none and raise no later parcel's score; the
scores of the model then in service would not be this model's anyway.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("scored", "parcels"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("first_pass_score", sa.Float))


def downgrade() -> None:
    for table in ("scored", "parcels"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("first_pass_score")
