"""Party history: one row per parcel, the watch list and its change log.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "parcels",
        sa.Column("declaration_id", sa.String(128), primary_key=True),
        sa.Column("posted_at", sa.DateTime, nullable=False),
        sa.Column("sender_id", sa.String(128)),
        sa.Column("recipient_id", sa.String(128)),
        sa.Column("destination_country", sa.String(8)),
        sa.Column("gross_weight_kg", sa.Float),
        sa.Column("decision", sa.String(16)),
        sa.Column("model_version", sa.String(64)),
        sa.Column("outcome", sa.String(16)),
        sa.Column("outcome_at", sa.DateTime),
        sa.Column("first_scored_at", sa.DateTime, nullable=False),
        sa.Column("last_scored_at", sa.DateTime, nullable=False),
    )
    op.create_index("parcels_by_sender", "parcels", ["sender_id", "posted_at"])
    op.create_index("parcels_by_recipient", "parcels", ["recipient_id", "posted_at"])
    op.create_index("parcels_by_posted_at", "parcels", ["posted_at"])
    op.create_index("parcels_by_last_scored_at", "parcels", ["last_scored_at"])
    op.create_table(
        "watchlist",
        sa.Column("party_id", sa.String(128), primary_key=True),
        sa.Column("role", sa.String(16), primary_key=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("listed_by", sa.String(128), nullable=False),
        sa.Column("listed_at", sa.DateTime, nullable=False),
        sa.Column("expires_at", sa.DateTime),
        sa.CheckConstraint("role IN ('sender', 'recipient')", name="watchlist_role"),
    )
    op.create_table(
        "watchlist_changes",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("changed_at", sa.DateTime, nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("party_id", sa.String(128)),
        sa.Column("role", sa.String(16)),
        sa.Column("reason", sa.Text),
        sa.Column("expires_at", sa.DateTime),
        sa.Column("changed_by", sa.String(128), nullable=False),
    )
    op.create_index("watchlist_changes_by_party", "watchlist_changes", ["party_id"])


def downgrade() -> None:
    op.drop_table("watchlist_changes")
    op.drop_table("watchlist")
    op.drop_table("parcels")
