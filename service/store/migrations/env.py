"""Alembic's entry point: migrations run on the connection `migrate.upgrade` hands over."""

from __future__ import annotations

from alembic import context

from service.store.tables import metadata

connection = context.config.attributes["connection"]
# Batch mode lets ALTERs work on SQLite, which cannot alter most things in place.
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
