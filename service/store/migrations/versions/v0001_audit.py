"""The audit trail and feedback, adopting a database made by the old hand-written code.

Databases made before migrations (tables `scored` and `feedback`, with or without
`feedback.scored_id`) are taken as they are: what exists is kept with its rows, what is
missing is added.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    tables = set(inspector.get_table_names())
    if "scored" not in tables:
        op.create_table(
            "scored",
            sa.Column("id", _ID, primary_key=True, autoincrement=True),
            sa.Column("scored_at", sa.Text, nullable=False),
            sa.Column("request_id", sa.Text, nullable=False),
            sa.Column("key_id", sa.Text),
            sa.Column("declaration_id", sa.Text, nullable=False),
            sa.Column("model_version", sa.Text, nullable=False),
            sa.Column("parcel_risk_score", sa.Float),
            sa.Column("decision", sa.Text),
            sa.Column("input_json", sa.Text, nullable=False),
            sa.Column("result_json", sa.Text, nullable=False),
        )
    if "feedback" not in tables:
        op.create_table(
            "feedback",
            sa.Column("id", _ID, primary_key=True, autoincrement=True),
            sa.Column("received_at", sa.Text, nullable=False),
            sa.Column("request_id", sa.Text),
            sa.Column("key_id", sa.Text),
            sa.Column("declaration_id", sa.Text, nullable=False),
            sa.Column("item_no", sa.Integer),
            sa.Column("outcome", sa.Text, nullable=False),
            sa.Column("label_class", sa.Text),
            sa.Column("note", sa.Text),
            sa.Column("scored_id", _ID),
            sa.CheckConstraint("outcome IN ('confirmed', 'cleared')", name="feedback_outcome"),
        )
    else:
        columns = {column["name"] for column in inspector.get_columns("feedback")}
        if "scored_id" not in columns:
            # A plain ADD COLUMN: SQLite does it in place, rows untouched.
            op.execute("ALTER TABLE feedback ADD COLUMN scored_id INTEGER")
    for table, index, indexed in (
        ("scored", "scored_by_declaration", ["declaration_id", "id"]),
        ("feedback", "feedback_by_declaration", ["declaration_id", "id"]),
    ):
        if index not in {found["name"] for found in inspector.get_indexes(table)}:
            op.create_index(index, table, indexed)


def downgrade() -> None:
    op.drop_table("feedback")
    op.drop_table("scored")
