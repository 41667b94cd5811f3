"""Inspection outcomes: which scorings an outcome may be about, and storing one.

An outcome is checked against what was scored (the caller's rules live in the feedback
route); storing it also sets the outcome that stands for its parcel in the history.
"""

from __future__ import annotations

import sqlalchemy as sa

from service.store import parcels
from service.store.records import Scoring, utc_now
from service.store.tables import feedback, scored
from training.history import Outcome


def scorings(connection: sa.Connection, declaration_id: str) -> list[Scoring]:
    """The latest scoring of a declaration by each key that scored it, oldest first."""
    latest_by_key = (
        sa.select(sa.func.max(scored.c.id))
        .where(scored.c.declaration_id == declaration_id)
        .group_by(scored.c.key_id)
    )
    rows = connection.execute(
        sa.select(scored.c.id, scored.c.key_id, scored.c.input_json)
        .where(scored.c.id.in_(latest_by_key))
        .order_by(scored.c.id)
    ).all()
    return [Scoring.of(scored_id, key_id, input_json) for scored_id, key_id, input_json in rows]


def add(
    connection: sa.Connection,
    *,
    declaration_id: str,
    outcome: Outcome,
    item_no: int | None,
    label_class: str | None,
    note: str | None,
    request_id: str | None,
    key_id: str | None,
    scored_id: int | None,
) -> tuple[int, tuple[str, ...]]:
    """Store an outcome; returns its id and the parties of its parcel (whose histories
    it changes)."""
    inserted = connection.execute(
        feedback.insert().values(
            received_at=utc_now(),
            request_id=request_id,
            key_id=key_id,
            declaration_id=declaration_id,
            item_no=item_no,
            outcome=outcome,
            label_class=label_class,
            note=note,
            scored_id=scored_id,
        )
    )
    (feedback_id,) = inserted.inserted_primary_key or (0,)
    return int(feedback_id or 0), parcels.refresh_outcome(connection, declaration_id)
