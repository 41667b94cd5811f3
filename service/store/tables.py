"""The store's tables, as SQLAlchemy Core sees them (the migrations create them).

`scored` and `feedback` keep the shape the audit trail always had (times as ISO 8601 text
with the UTC offset, inputs and results as JSON text), so databases made before this
package are adopted as they are and the feedback export stays byte-identical. The newer
tables hold real timestamps (UTC, naive).
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

# 64-bit ids on PostgreSQL; SQLite's INTEGER PRIMARY KEY (the rowid) is 64-bit already.
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# Party ids and declaration ids are at most 64 characters (the contract); room to spare.
ID_CHARS = 128

scored = sa.Table(
    "scored",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("scored_at", sa.Text, nullable=False),
    sa.Column("request_id", sa.Text, nullable=False),
    sa.Column("key_id", sa.Text),
    sa.Column("declaration_id", sa.Text, nullable=False),
    sa.Column("model_version", sa.Text, nullable=False),
    sa.Column("parcel_risk_score", sa.Float),
    sa.Column("decision", sa.Text),
    sa.Column("input_json", sa.Text, nullable=False),
    sa.Column("result_json", sa.Text, nullable=False),
    sa.Column("first_pass_score", sa.Float),
    sa.Index("scored_by_declaration", "declaration_id", "id"),
)

feedback = sa.Table(
    "feedback",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("received_at", sa.Text, nullable=False),
    sa.Column("request_id", sa.Text),
    sa.Column("key_id", sa.Text),
    sa.Column("declaration_id", sa.Text, nullable=False),
    sa.Column("item_no", sa.Integer),
    sa.Column("outcome", sa.Text, nullable=False),
    sa.Column("label_class", sa.Text),
    sa.Column("note", sa.Text),
    # The scoring the outcome is about (None in rows stored before outcomes were bound).
    sa.Column("scored_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite")),
    sa.CheckConstraint("outcome IN ('confirmed', 'cleared')", name="feedback_outcome"),
    sa.Index("feedback_by_declaration", "declaration_id", "id"),
)

# One row per parcel: what party histories are read from. Written with each scoring (the
# latest scoring's facts win) and with each outcome (the outcome that stands).
parcels = sa.Table(
    "parcels",
    metadata,
    sa.Column("declaration_id", sa.String(ID_CHARS), primary_key=True),
    # UTC, naive; the first scoring time when the declaration had no posted_at.
    sa.Column("posted_at", sa.DateTime, nullable=False),
    sa.Column("sender_id", sa.String(ID_CHARS)),
    sa.Column("recipient_id", sa.String(ID_CHARS)),
    sa.Column("destination_country", sa.String(8)),
    sa.Column("gross_weight_kg", sa.Float),
    # Whether a line of the parcel named gear (`training.gear_words`).
    sa.Column("names_gear", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("first_pass_score", sa.Float),
    sa.Column("decision", sa.String(16)),
    sa.Column("model_version", sa.String(64)),
    sa.Column("outcome", sa.String(16)),
    sa.Column("outcome_at", sa.DateTime),
    sa.Column("first_scored_at", sa.DateTime, nullable=False),
    sa.Column("last_scored_at", sa.DateTime, nullable=False),
    sa.Index("parcels_by_sender", "sender_id", "posted_at"),
    sa.Index("parcels_by_recipient", "recipient_id", "posted_at"),
    sa.Index("parcels_by_posted_at", "posted_at"),
    # Parties scored since a moment: how a replica learns of parties others recorded.
    sa.Index("parcels_by_last_scored_at", "last_scored_at"),
)

# One row per party and role on the watch list; removing an entry deletes its row (the
# change log below keeps what happened).
watchlist = sa.Table(
    "watchlist",
    metadata,
    sa.Column("party_id", sa.String(ID_CHARS), primary_key=True),
    sa.Column("role", sa.String(16), primary_key=True),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("listed_by", sa.String(ID_CHARS), nullable=False),
    sa.Column("listed_at", sa.DateTime, nullable=False),
    sa.Column("expires_at", sa.DateTime),
    sa.CheckConstraint("role IN ('sender', 'recipient')", name="watchlist_role"),
)

# Every change of the watch list: who did what, when. `party_id` is emptied when the
# party's history is forgotten.
watchlist_changes = sa.Table(
    "watchlist_changes",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("changed_at", sa.DateTime, nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("party_id", sa.String(ID_CHARS)),
    sa.Column("role", sa.String(16)),
    sa.Column("reason", sa.Text),
    sa.Column("expires_at", sa.DateTime),
    sa.Column("changed_by", sa.String(ID_CHARS), nullable=False),
    sa.Index("watchlist_changes_by_party", "party_id"),
)
