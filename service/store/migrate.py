"""Run the store's Alembic migrations from code: the service and the CLI call this on
first use, so nobody runs a migration tool by hand.

The scripts live in `migrations/versions/`. On PostgreSQL an advisory lock makes replicas
that start together migrate one after the other (the second finds the schema at head).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Final

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

MIGRATIONS: Final = Path(__file__).with_name("migrations")

log = logging.getLogger(__name__)
# Alembic narrates every step at INFO; the one line below says what happened.
logging.getLogger("alembic").setLevel(logging.WARNING)

# Any constant shared by every parcel-screen process: the key of the migration lock.
_ADVISORY_LOCK_KEY: Final = 0x70617263656C


def _config(connection: sa.Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head() -> str:
    """The newest revision the scripts know."""
    revision = ScriptDirectory.from_config(_config()).get_current_head()
    assert revision is not None
    return revision


def current(connection: sa.Connection) -> str | None:
    """The revision a database is at (None: never migrated, or made by the old code)."""
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: sa.Engine, revision: str = "head") -> None:
    """Create the schema, or bring it to `revision`, in one transaction."""
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(
                sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK_KEY}
            )
        before = current(connection)
        if revision == "head" and before == head():
            return
        command.upgrade(_config(connection), revision)
        log.info(
            "store: schema migrated from %s to %s",
            before or "nothing (new, or made before migrations)",
            current(connection),
            extra={"store": engine.url.render_as_string(hide_password=True)},
        )
